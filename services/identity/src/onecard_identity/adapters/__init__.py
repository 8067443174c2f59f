"""The identity service's edges: its tables and queries, its signing keys, the group-commit
writer, the venue cache, metrics, the handlers' context, and a dev-only partner region."""
