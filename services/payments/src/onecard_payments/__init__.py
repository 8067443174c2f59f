"""onecard payments service."""
