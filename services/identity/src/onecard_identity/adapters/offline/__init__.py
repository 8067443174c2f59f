"""Offline validators: bundle keys, hotlist history and uploaded taps (docs/offline-validators.md)."""
