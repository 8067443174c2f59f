"""Catalogue dates without a platform: the upcasters of stored v1 item events, the order in which
versions are in force, and the rules of dated changes (issue 13, ADR 0013)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from onecard_catalog.adapters.read_model import closing_times
from onecard_catalog.domain.events import ItemPublished, ItemRetired, registry
from onecard_catalog.domain.items import Item, normalise_item
from onecard_events.aggregate import Refused

from tests.unit.catalog.test_catalogue_rules import NOW, raw_item

RECORDED = "2026-11-30T08:00:00Z"
SHIZHU = {"item_id": "500240:6", "jurisdiction": "500240", "source": "石柱府办发〔2025〕11号"}


def lift(event_type: str, data: dict[str, object]) -> dict[str, object]:
    version, lifted = registry.upcast(event_type, 1, data)
    assert version == 2
    return lifted


def test_a_stored_official_first_version_takes_its_documents_date() -> None:
    lifted = lift("onecard.catalog.item_published", {"item": SHIZHU, "version": 1, "valid_from": RECORDED})
    assert lifted["effective_from"] == lifted["valid_from"] == "2025-01-19T16:00:00Z"
    assert lifted["recorded_at"] == RECORDED
    assert ItemPublished.model_validate(lifted).effective_from == "2025-01-19T16:00:00Z"


@pytest.mark.parametrize(
    "item",
    [
        {**SHIZHU, "source": "a department's own list"},  # not the official document
        {**SHIZHU, "jurisdiction": "500106"},  # the source of another jurisdiction's catalogue
        {"item_id": "500106:90", "jurisdiction": "500106"},
    ],
)
def test_any_other_stored_first_version_is_in_force_from_when_it_was_recorded(item: dict[str, str]) -> None:
    lifted = lift("onecard.catalog.item_published", {"item": item, "version": 1, "valid_from": RECORDED})
    assert (lifted["effective_from"], lifted["recorded_at"]) == (RECORDED, RECORDED)


def test_stored_revisions_and_retirements_take_effect_when_recorded() -> None:
    revision = lift("onecard.catalog.item_published", {"item": SHIZHU, "version": 2, "valid_from": RECORDED})
    assert revision["effective_from"] == RECORDED
    retired = lift(
        "onecard.catalog.item_retired", {"item_id": "500240:6", "version": 3, "valid_from": RECORDED}
    )
    assert (retired["effective_from"], retired["recorded_at"]) == (RECORDED, RECORDED)
    assert ItemRetired.model_validate(retired).valid_from == RECORDED


def test_an_event_made_with_valid_from_alone_is_in_force_from_it() -> None:
    assert ItemPublished(item={}, version=1, valid_from="2024-01-01").effective_from == "2024-01-01"


def at(day: int) -> datetime:
    return datetime(2025, 1, day, tzinfo=UTC)


def test_versions_are_in_force_by_date_then_by_recording_order() -> None:
    # v2 takes effect last; v3, entered after it, between v1 and v2; v4 on v3's day.
    closing = closing_times([(1, at(1)), (2, at(20)), (3, at(10)), (4, at(10))])
    assert closing == {1: at(10), 3: at(10), 4: at(20), 2: None}  # v3 never in force: v4 replaces it


def test_a_dated_change_records_both_moments() -> None:
    item = Item("500106:90")
    published = item.publish(normalise_item(raw_item()), NOW, effective_from="2025-07-01T00:00:00Z")
    assert (published.effective_from, published.valid_from, published.recorded_at) == (
        "2025-07-01T00:00:00Z",
        "2025-07-01T00:00:00Z",
        NOW,
    )
    revised = item.revise(normalise_item(raw_item(name="新")), NOW, None)
    assert revised is not None and revised.effective_from == NOW  # default: now


def test_a_retirement_may_not_take_effect_before_a_version_does() -> None:
    item = Item("500106:90")
    item.publish(normalise_item(raw_item()), NOW, effective_from="2025-07-01T00:00:00Z")
    with pytest.raises(Refused) as refusal:
        item.retire(NOW, "2025-06-30T23:59:59Z")
    assert (refusal.value.status, refusal.value.field) == (422, "effective_from")
    retired = item.retire(NOW, "2025-07-01T00:00:00Z")
    assert retired is not None and retired.effective_from == "2025-07-01T00:00:00Z"
