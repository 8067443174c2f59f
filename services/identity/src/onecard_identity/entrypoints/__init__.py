"""HTTP entry points of the identity service."""
