"""Disbursement domain: programs, batches, payees and settlement rules; no I/O.

Unlike the other services' aggregates, the batch is state-stored (ADR 0010): its rows are the
source of truth and these rules decide over a `Batch` read from them. The events the handlers
record in the same transaction are published for other services, not replayed into a batch.
"""
