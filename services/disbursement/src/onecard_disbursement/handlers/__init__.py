"""Use cases of the disbursement service."""
