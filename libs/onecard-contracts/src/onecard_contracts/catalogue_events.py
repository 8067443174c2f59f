"""The catalogue's events: items, jurisdictions, venues, terminals, merchants and API clients.

These are the catalogue's published language: every other service keeps its own view of the
catalogue from them (`onecard_contracts.catalog_view`), every service feeds its revocation list
from `ClientRevoked`, and reporting computes identity and payment depth from them. The catalog
service records them; nothing else does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from onecard_events.model import DomainEvent
from onecard_events.registry import EventRegistry
from pydantic import model_validator

# The roles a client (and the credential it is handed) can have.
ROLES: tuple[str, ...] = ("admin", "operator", "venue", "merchant", "department", "partner")


class JurisdictionAdded(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.jurisdiction_added"
    code: str
    name: str
    kind: str


class _ItemVersion(DomainEvent):
    """A version of an item (v2): in force from `effective_from` (the date it takes effect, which a
    department names; the official catalogues: their documents' dates), recorded by the catalogue
    at `recorded_at`. `valid_from` is the same moment as `effective_from`, kept for v1 readers.

    v1 had `valid_from` alone, holding the moment the catalogue recorded the version; the
    upcasters below lift it (docs/adr/0013-catalogue-dates-in-force.md).
    """

    schema_version: ClassVar[int] = 2
    version: int
    valid_from: str
    effective_from: str = ""
    recorded_at: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _in_force_from(cls, data: Any) -> Any:
        # One moment under two names: whichever is given fills the other.
        if isinstance(data, dict):
            moment = data.get("effective_from") or data.get("valid_from")
            if moment:
                data = {**data, "effective_from": moment, "valid_from": moment}
        return data


class ItemPublished(_ItemVersion):
    """A new version of an item is in force from `effective_from` (the first version creates it)."""

    event_type: ClassVar[str] = "onecard.catalog.item_published"
    item: dict[str, Any]


class ItemRetired(_ItemVersion):
    """The item is no longer in force from `effective_from` (retirement is a version of its own)."""

    event_type: ClassVar[str] = "onecard.catalog.item_retired"
    item_id: str


class VenueRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.venue_registered"
    venue_id: str
    name: str
    jurisdiction: str
    item_id: str


class _Terminal(DomainEvent):
    venue_id: str
    terminal_id: str


class TerminalDeployed(_Terminal):
    event_type: ClassVar[str] = "onecard.catalog.terminal_deployed"
    card_forms: list[str]


class TerminalDecommissioned(_Terminal):
    event_type: ClassVar[str] = "onecard.catalog.terminal_decommissioned"


class MerchantRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_registered"
    merchant_id: str
    name: str
    jurisdiction: str
    item_id: str


class _MerchantEvent(DomainEvent):
    merchant_id: str


class MerchantJoinedAgreement(_MerchantEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_joined_agreement"


class MerchantLeftAgreement(_MerchantEvent):
    event_type: ClassVar[str] = "onecard.catalog.merchant_left_agreement"


class ClientRegistered(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.client_registered"
    client_id: str
    role: str
    name: str
    venues: list[str] = []
    merchants: list[str] = []
    department: str | None = None
    jurisdiction: str | None = None
    region: str | None = None


class ClientRevoked(DomainEvent):
    event_type: ClassVar[str] = "onecard.catalog.client_revoked"
    client_id: str


CATALOGUE_EVENTS: tuple[type[DomainEvent], ...] = (
    ClientRegistered,
    ClientRevoked,
    JurisdictionAdded,
    ItemPublished,
    ItemRetired,
    VenueRegistered,
    TerminalDeployed,
    TerminalDecommissioned,
    MerchantRegistered,
    MerchantJoinedAgreement,
    MerchantLeftAgreement,
)


@dataclass(frozen=True)
class OfficialCatalogue:
    """An official catalogue: the document that issues it and the moment it takes effect."""

    jurisdiction: str
    source: str  # the `source` its items carry
    document_date: str  # 成文日期, the date the document is signed and issued under
    effective_from: str  # that date at 00:00 China time (+08:00), in UTC


def _official(jurisdiction: str, source: str, document_date: str, utc_eve: str) -> OfficialCatalogue:
    return OfficialCatalogue(jurisdiction, source, document_date, f"{utc_eve}T16:00:00Z")


# The documents' dates (checked against the seed texts by tests/catalog/test_catalogue_dates.py).
OFFICIAL_CATALOGUES: dict[str, OfficialCatalogue] = {
    c.jurisdiction: c
    for c in (
        _official("500000", "渝府办发〔2024〕73号", "2024-09-16", "2024-09-15"),
        _official("500106", "沙府办发〔2022〕107号", "2022-11-02", "2022-11-01"),
        _official("500111", "大足府办发〔2024〕110号", "2024-12-25", "2024-12-24"),
        _official(
            "500155",
            "重庆市梁平区人力资源和社会保障局2021年7月19日通知 附件1（2020年版应用目录）",
            "2021-07-19",
            "2021-07-18",
        ),
        _official("500240", "石柱府办发〔2025〕11号", "2025-01-20", "2025-01-19"),
    )
}


def official_effective_from(item: dict[str, Any]) -> str | None:
    """When an item of an official catalogue takes effect (its document's date); None for any other."""
    official = OFFICIAL_CATALOGUES.get(str(item.get("jurisdiction")))
    if official is None or item.get("source") != official.source:
        return None
    return official.effective_from


# What every reader of the catalogue's events uses to lift stored payloads to the current models:
# the catalog's store and every service's projections of the catalogue (onecard_service.platform).
registry = EventRegistry()
for _event in CATALOGUE_EVENTS:
    registry.register(_event)


@registry.upcaster("onecard.catalog.item_published", 1)
def _item_published_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 `valid_from` is when the version was recorded. A first version of an official catalogue
    item takes effect on its document's date; any other version from when it was recorded."""
    recorded = data["valid_from"]
    official = official_effective_from(data.get("item", {})) if data.get("version") == 1 else None
    effective = official or recorded
    return {**data, "valid_from": effective, "effective_from": effective, "recorded_at": recorded}


@registry.upcaster("onecard.catalog.item_retired", 1)
def _item_retired_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A v1 retirement took effect when it was recorded."""
    recorded = data["valid_from"]
    return {**data, "effective_from": recorded, "recorded_at": recorded}


__all__ = [
    "CATALOGUE_EVENTS",
    "OFFICIAL_CATALOGUES",
    "ROLES",
    "ClientRegistered",
    "ClientRevoked",
    "ItemPublished",
    "ItemRetired",
    "JurisdictionAdded",
    "MerchantJoinedAgreement",
    "MerchantLeftAgreement",
    "MerchantRegistered",
    "OfficialCatalogue",
    "TerminalDecommissioned",
    "TerminalDeployed",
    "VenueRegistered",
    "official_effective_from",
    "registry",
]
