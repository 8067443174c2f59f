"""HTTP service plumbing shared by every onecard service."""
