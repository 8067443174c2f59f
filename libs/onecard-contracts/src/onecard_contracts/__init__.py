"""The published language of the onecard services: what one service's events and views mean to
another. A service imports its peers' facts from here, never from the peer's package."""
