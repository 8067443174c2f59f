"""onecard catalog service."""
