"""Entry points of the identity service: HTTP routes (api.py) and consumers of other services' events."""
