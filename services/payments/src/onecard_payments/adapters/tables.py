"""The payments service's own tables, declared once: the migrations create them from here
(`create_declared_tables`).

Read tables are written in the same transaction as the events they reflect, so a query never
sees an event without its row or the other way round.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, MetaData, String, Table, UniqueConstraint

metadata = MetaData()

bills = Table(
    "bills",
    metadata,
    Column("bill_id", String(64), primary_key=True),
    Column("merchant_id", String(100), nullable=False),
    Column("bill_ref", String(100), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", String(40), nullable=False),
    UniqueConstraint("merchant_id", "bill_ref", name="uq_bills_merchant_ref"),
)

payments = Table(
    "payments",
    metadata,
    Column("payment_id", String(64), primary_key=True),
    Column("bill_id", String(64), nullable=False),
    Column("merchant_id", String(100), nullable=False),
    Column("method", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(100), nullable=True),
    Column("refunded_fen", BigInteger, nullable=False),
    Column("bank_ref", String(64), nullable=True),
    # Keyed hash of the card number: how the bank knows the account, never the number itself.
    Column("account_ref", String(64), nullable=True),
    Column("cross_region", Boolean, nullable=False),
    Column("agreement_merchant", Boolean, nullable=False),
    # Which Idempotency-Key row to complete when a recovery, not the request, settles the payment.
    Column("idem_scope", String(200), nullable=True),
    Column("idem_key", String(200), nullable=True),
    Column("initiated_ms", BigInteger, nullable=False),
    Column("initiated_at", String(40), nullable=False),
    Column("finished_at", String(40), nullable=True),
    Index("ix_payments_status", "status", "initiated_ms"),
    Index("ix_payments_bill", "bill_id"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", String(64), primary_key=True),
    Column("payment_id", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    # pending until the bank confirmed the credit; not_applicable for payments made outside the card.
    Column("bank_status", String(16), nullable=False),
    Column("refunded_at", String(40), nullable=False),
    Index("ix_refunds_payment", "payment_id"),
    Index("ix_refunds_bank_status", "bank_status"),
)

reconciliation = Table(
    "reconciliation",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("merchant_id", String(100), primary_key=True),
    Column("settled_count", Integer, nullable=False),
    Column("settled_fen", BigInteger, nullable=False),
    Column("refunded_fen", BigInteger, nullable=False),
)

# -- the simulated bank's durable ledger ---------------------------------------------------------

simbank_ledger = Table(
    "simbank_ledger",
    metadata,
    Column("ref", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("account_ref", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(100), nullable=True),
    Column("original_ref", String(64), nullable=True),
    Column("recorded_at", String(40), nullable=False),
)

# -- payments' view of identity's cards and signing keys, and the e-card codes it consumed ---------

identity_cards = Table(
    "identity_cards",
    metadata,
    # identity's card key: keyed_hash(card subject, "card"); the subject is the code's `sub`.
    Column("card_key", String(64), primary_key=True),
    # keyed_hash(card_no, "card-account"), as card_account payments name the account; None for
    # cards registered before identity recorded it.
    Column("account_ref", String(64), nullable=True),
    Column("holder_key", String(64), nullable=False),
    Column("issuer_region", String(6), nullable=False),
    Column("status", String(16), nullable=False),
    Column("ecard", Boolean, nullable=False),
)

identity_signing_keys = Table(
    "identity_signing_keys",
    metadata,
    Column("region", String(6), primary_key=True),
    Column("kid", String(128), primary_key=True),
    Column("public_key", String(100), nullable=False),
)

# One row per e-card code that paid (or was refused for its card): the primary key is what makes
# a code usable once, written in the transaction that records the payment.
ecard_nonces = Table(
    "ecard_nonces",
    metadata,
    Column("nonce", String(200), primary_key=True),
    Column("consumed_at", String(40), nullable=False),
)
