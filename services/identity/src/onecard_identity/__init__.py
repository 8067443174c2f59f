"""onecard identity service."""
