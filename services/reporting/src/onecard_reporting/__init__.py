"""onecard reporting service."""
