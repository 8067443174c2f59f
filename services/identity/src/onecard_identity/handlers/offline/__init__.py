"""Offline validators: serving the bundle, recording uploaded taps, their findings."""
