"""Reporting's domain, no I/O: the depth levels, plans and statuses (`levels`), the facts snapshot
(`facts`), the reports computed from it (`depth`), the partner rule (`partners`) and the events
reporting records (`events`)."""
