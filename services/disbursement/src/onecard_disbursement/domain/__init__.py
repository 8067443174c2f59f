"""Disbursement domain: programs, batches, payees and settlement rules; no I/O."""
