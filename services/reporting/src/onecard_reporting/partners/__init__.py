"""Partner-region streams: outbound card-use events, inbound reports and hotlist changes."""
