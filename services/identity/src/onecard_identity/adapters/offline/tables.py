"""The offline validators' tables, declared once (identity_0004 creates them from here)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, String, Table, Text

from ..tables import identity_metadata


def _columns(nullable: bool, **types: Any) -> list[Column[Any]]:
    return [Column(name, type_, nullable=nullable) for name, type_ in types.items()]


# The platform's keys for signing bundles, apart from the e-card signing keys (another use, and
# KeyRing picks the newest active e-card key to sign codes with).
bundle_keys = Table(
    "identity_offline_bundle_keys",
    identity_metadata,
    Column("kid", String(64), primary_key=True),
    *_columns(False, private_key_enc=Text, public_key=String(64), created_at=DateTime(timezone=True)),
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


_TAP_KEY: dict[str, Any] = {"venue_id": String(100), "terminal_id": String(100), "sequence": BigInteger}
_MOMENT, _REASON = DateTime(timezone=True), String(40)
# One row per uploaded tap: the primary key makes an upload idempotent per (terminal, sequence)
# across retries, split batches, replicas and crashes; the row answers a repeated tap and the
# findings query.
taps = Table(
    "identity_offline_taps",
    identity_metadata,
    *(Column(name, type_, primary_key=True, autoincrement=False) for name, type_ in _TAP_KEY.items()),
    *_columns(False, verification_id=String(36), method=String(10), occurred_at=_MOMENT, uploaded_at=_MOMENT),
    *_columns(False, validator_verified=Boolean, verified=Boolean),
    *_columns(True, bundle_version=BigInteger, validator_reason=_REASON, reason=_REASON, finding=_REASON),
    Column("partner_region", String(6)),
    Index("ix_identity_offline_taps_finding", "finding", "uploaded_at"),
)

ALL = (bundle_keys, hotlist_changes, counters, taps)
