"""The reference offline validator (docs/offline-validators.md): a terminal vendor's starting point."""
