"""The identity service's edges: its tables, its signing keys, the group-commit writer."""
