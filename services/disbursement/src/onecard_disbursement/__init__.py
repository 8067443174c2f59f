"""onecard disbursement service."""
