"""The offline validators' tables, declared once (identity_0004 creates them from here)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, String, Table, Text

from ..tables import identity_metadata

# The platform's keys for signing bundles, apart from the e-card signing keys (another use, and
# KeyRing picks the newest active e-card key to sign codes with).
bundle_keys = Table(
    "identity_offline_bundle_keys",
    identity_metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_key_enc", Text, nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Every change of a card's hotlist status (ours and partners'), numbered in commit order by the
# `hotlist` counter below: the bundle's version is the last number, a delta lists the changes
# after one, and a tap is judged on the status its card had at the tap's time. The subject is kept
# encrypted (the bundle needs it in clear); lookups go through the card key.
hotlist_changes = Table(
    "identity_offline_hotlist_changes",
    identity_metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("region", String(6), nullable=False),
    Column("card_key", String(64), nullable=False),
    Column("subject_enc", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_identity_offline_hotlist_card", "card_key"),
)

# One row per counter; a writer increments it with an UPDATE, whose row lock it holds until commit,
# so numbers are handed out in commit order and a reader's last number covers every change below.
counters = Table(
    "identity_offline_counters",
    identity_metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# One row per uploaded tap: the primary key makes an upload idempotent per (terminal, sequence)
# across retries, split batches, replicas and crashes; the row answers a repeated tap and the
# findings query.
taps = Table(
    "identity_offline_taps",
    identity_metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("terminal_id", String(100), primary_key=True),
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("verification_id", String(36), nullable=False),
    Column("method", String(10), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("bundle_version", BigInteger),
    Column("validator_verified", Boolean, nullable=False),
    Column("validator_reason", String(40)),
    Column("verified", Boolean, nullable=False),
    Column("reason", String(40)),
    Column("finding", String(40)),
    Column("partner_region", String(6)),
    Column("uploaded_at", DateTime(timezone=True), nullable=False),
    Index("ix_identity_offline_taps_finding", "finding", "uploaded_at"),
)

ALL = (bundle_keys, hotlist_changes, counters, taps)
