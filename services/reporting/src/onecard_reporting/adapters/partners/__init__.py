"""The partner streams' Kafka plumbing."""
