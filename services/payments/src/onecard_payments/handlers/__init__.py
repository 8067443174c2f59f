"""Use cases of the payments service, one module per feature."""
