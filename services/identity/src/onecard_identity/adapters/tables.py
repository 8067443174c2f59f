"""The identity service's query tables, declared once (migrations create them from here).

Card numbers, ssns and names are kept only encrypted (AES-GCM, bound to the row's card key);
lookups go through keyed hashes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, MetaData, String, Table, Text

identity_metadata = MetaData()


def _required(name: str, type_: Any, *, primary_key: bool = False) -> Column[Any]:
    return Column(name, type_, primary_key=primary_key, nullable=False)


def _hash(name: str, *, primary_key: bool = False) -> Column[Any]:
    """A keyed hash (or a key id): 64 characters at most."""
    return _required(name, String(64), primary_key=primary_key)


def _region(*, primary_key: bool = False) -> Column[Any]:
    return _required("region", String(6), primary_key=primary_key)


def _moment(name: str) -> Column[Any]:
    return _required(name, DateTime(timezone=True))


cards = Table(
    "identity_cards",
    identity_metadata,
    _hash("card_key", primary_key=True),
    _required("issuer_region", String(6)),
    _required("status", String(10)),
    _required("ecard", Boolean),
    _hash("ssn_hash"),
    _hash("holder_key"),
    *(_required(f"{field}_enc", Text) for field in ("card_no", "ssn", "name")),
    _required("version", Integer),
    _moment("updated_at"),
)

# One row per e-card code accepted for checking: the primary key is what makes a code single-use,
# across concurrent requests, replicas and restarts.
qr_nonces = Table(
    "identity_qr_nonces",
    identity_metadata,
    _required("nonce", String(200), primary_key=True),
    _moment("expires_at"),
    Index("ix_identity_qr_nonces_expires", "expires_at"),
)

signing_keys = Table(
    "identity_signing_keys",
    identity_metadata,
    _hash("kid", primary_key=True),
    _region(),
    _required("private_key_enc", Text),
    _hash("public_key"),
    _moment("created_at"),
    _required("active", Boolean),
)

partner_keys = Table(
    "identity_partner_keys",
    identity_metadata,
    _region(primary_key=True),
    _hash("kid", primary_key=True),
    _hash("public_key"),
    _moment("updated_at"),
)

partner_hotlist = Table(
    "identity_partner_hotlist",
    identity_metadata,
    _region(primary_key=True),
    _hash("card_key", primary_key=True),
    _required("status", String(10)),
    _moment("changed_at"),
)
