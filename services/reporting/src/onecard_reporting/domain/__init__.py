"""Reporting's domain: depth levels, plans and statuses, and the events reporting records. No I/O."""
