"""The reporting read models: facts kept from other services' events, aggregated on query.

Venues, terminals and merchants are the published catalogue view's tables
(`onecard_contracts.catalog_view`, named here for the queries). Every table is derived:
`DepthProjection.reset` empties them and a replay fills them again.
"""

from __future__ import annotations

from onecard_contracts.catalog_view import (
    catalog_items,
    catalog_merchants,
    catalog_terminals,
    catalog_venues,
)
from onecard_events.tables import Json
from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table

metadata = MetaData()

item_versions = Table(
    "rpt_item_versions",
    metadata,
    Column("item_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("retired", Boolean, nullable=False),
    Column("item", Json, nullable=False),
)
jurisdictions = Table(
    "rpt_jurisdictions",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
)
venue_activity = Table(
    "rpt_venue_activity",
    metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("last_verified_at", DateTime(timezone=True), nullable=False),
)
# First settlement of each kind per item and jurisdiction (the merchant's).
payment_firsts = Table(
    "rpt_payment_firsts",
    metadata,
    Column("item_id", String(40), primary_key=True),
    Column("jurisdiction", String(6), primary_key=True),
    Column("card_account_at", DateTime(timezone=True), nullable=True),
    Column("ecard_at", DateTime(timezone=True), nullable=True),
    Column("agreement_ecard_at", DateTime(timezone=True), nullable=True),
)
# The latest outcome of every disbursement payee.
payees = Table(
    "rpt_payees",
    metadata,
    Column("batch_id", String(100), primary_key=True),
    Column("reference_id", String(100), primary_key=True),
    Column("item_id", String(40), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("year", Integer, nullable=False),
    Column("beneficiary_key", String(128), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=False),
    Index("ix_rpt_payees_item", "item_id", "jurisdiction", "year"),
)
# One row per cross-region card use; direction inbound (partner cards here) or outbound.
cross_region_uses = Table(
    "rpt_cross_region_uses",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("direction", String(10), nullable=False),
    Column("partner", String(6), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)

ALL = (
    item_versions,
    jurisdictions,
    venue_activity,
    payment_firsts,
    payees,
    cross_region_uses,
)

venues, terminals, merchants = catalog_venues, catalog_terminals, catalog_merchants
CATALOG_VIEW = (catalog_items, catalog_venues, catalog_terminals, catalog_merchants)

# The depth history (issue 16): each depth row as it stood at the end of a day (Chongqing's date
# of the store's recording), written by `depth_history.DepthWithHistory` when the first event of
# a later day arrives, so a replay writes the same rows. `rpt_depth_open_day`: the day of the
# last event applied (one row), to close it after a restart.
DAILY_KEY = (("day", 10), ("item_id", 40), ("jurisdiction", 6), ("category", 20))
depth_daily = Table(
    "rpt_depth_daily",
    metadata,
    *(Column(name, String(size), primary_key=True) for name, size in DAILY_KEY),
    Index("ix_rpt_depth_daily_item", "item_id", "day"),
    *(Column(name, Integer, nullable=name == "planned_level") for name in ("level", "planned_level")),
    Column("status", String(10), nullable=False),
    Column("ratio", Float, nullable=True),
)
depth_open_day = Table("rpt_depth_open_day", metadata, Column("name", String(20), primary_key=True))
depth_open_day.append_column(Column("day", String(10), nullable=False))
HISTORY = (depth_daily, depth_open_day)
