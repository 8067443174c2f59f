"""The onecard command and the composition of the services."""
