"""Reporting's adapters: the read-model tables, the depth projection, the reading queries and the
snapshot, the progress export formats and the partner streams' Kafka plumbing."""
