"""Offline validators: the bundle, and taps uploaded after the fact (docs/offline-validators.md)."""
