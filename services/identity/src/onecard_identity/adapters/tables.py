"""The identity service's query tables (DDL in migrations/versions/0002_identity_tables.py).

Card numbers, ssns and names are kept only encrypted (AES-GCM, bound to the row's card key);
lookups go through keyed hashes.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text

identity_metadata = MetaData()

cards = Table(
    "identity_cards",
    identity_metadata,
    Column("card_key", String(64), primary_key=True),
    Column("issuer_region", String(6), nullable=False),
    Column("status", String(10), nullable=False),
    Column("ecard", Boolean, nullable=False),
    Column("ssn_hash", String(64), nullable=False),
    Column("holder_key", String(64), nullable=False),
    Column("card_no_enc", Text, nullable=False),
    Column("ssn_enc", Text, nullable=False),
    Column("name_enc", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# One row per e-card code accepted for checking: the primary key is what makes a code single-use,
# across concurrent requests, replicas and restarts.
qr_nonces = Table(
    "identity_qr_nonces",
    identity_metadata,
    Column("nonce", String(200), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

signing_keys = Table(
    "identity_signing_keys",
    identity_metadata,
    Column("kid", String(64), primary_key=True),
    Column("region", String(6), nullable=False),
    Column("private_key_enc", Text, nullable=False),
    Column("public_key", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("active", Boolean, nullable=False),
)

partner_keys = Table(
    "identity_partner_keys",
    identity_metadata,
    Column("region", String(6), primary_key=True),
    Column("kid", String(64), primary_key=True),
    Column("public_key", String(64), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

partner_hotlist = Table(
    "identity_partner_hotlist",
    identity_metadata,
    Column("region", String(6), primary_key=True),
    Column("card_key", String(64), primary_key=True),
    Column("status", String(10), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
