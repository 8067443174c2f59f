"""Event store, upcasters, relay to Kafka and subscriptions."""
