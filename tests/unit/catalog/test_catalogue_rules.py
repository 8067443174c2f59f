"""The catalogue's domain rules without a platform: items and their versions, jurisdictions,
venues and terminals, merchants and the agreement, API clients, and how refusals read."""

from __future__ import annotations

from typing import Any

import pytest
from onecard_catalog.domain import errors
from onecard_catalog.domain.clients import Client, ClientRequest
from onecard_catalog.domain.events import (
    ClientRevoked,
    ItemPublished,
    ItemRetired,
    MerchantJoinedAgreement,
    MerchantLeftAgreement,
    TerminalDecommissioned,
    TerminalDeployed,
    VenueRegistered,
    registry,
)
from onecard_catalog.domain.items import Item, normalise_item
from onecard_catalog.domain.places import ItemFacts, Jurisdiction, Merchant, Venue
from onecard_events.aggregate import Refused
from onecard_service.problems import refusal_problem

NOW = "2025-06-01T00:00:00Z"
LIBRARY = ItemFacts("500000:30", "500000", "active", ("identity",))
CANTEEN = ItemFacts("500106:93", "500106", "active", ("identity", "payment"))


SERVICE = {"kind": "service", "name": "社区食堂就餐", "department": "区民政局", "plan": {"2025": 1}}


def raw_item(item_id: str = "500106:90", **changes: Any) -> dict[str, Any]:
    forms = {"card_forms": ["physical"], "categories": ["identity", "payment"]}
    return {"item_id": item_id, **SERVICE, **forms, **changes}


def refused(call: Any, *args: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args)
    return caught.value


def fields(refusal: Refused) -> list[str]:
    return [field for field, _ in refusal.errors]


# -- items ---------------------------------------------------------------------------------------


def test_normalise_item_lists_every_fault_at_once() -> None:
    refusal = refused(normalise_item, raw_item("5001:1", kind="other", categories=["food"], plan={"2025": 4}))
    assert refusal.status == 422
    assert {"item_id", "kind", "categories.0", "plan.2025"} <= set(fields(refusal))


def test_item_from_jurisdiction_and_seq() -> None:
    item = normalise_item({**raw_item(), "item_id": None, "jurisdiction": "500155", "seq": "A3"})
    assert (item["item_id"], item["jurisdiction"], item["seq"]) == ("500155:A3", "500155", "A3")


def test_publish_revise_retire_trigger_versions() -> None:
    item = Item("500106:90")
    published = item.publish(normalise_item(raw_item()), NOW)
    assert isinstance(published, ItemPublished) and published.version == 1
    assert item.pending_events == [published] and item.status == "active"
    assert item.revise(normalise_item(raw_item()), NOW, 1) is None, "unchanged content: no version"
    revised = item.revise(normalise_item(raw_item(name="新名称")), NOW, 1)
    assert revised is not None and revised.version == 2 and revised.item["name"] == "新名称"
    assert refused(item.revise, normalise_item(raw_item(name="x")), NOW, 1).status == 409
    retired = item.retire(NOW)
    assert isinstance(retired, ItemRetired) and retired.version == 3
    assert item.retire(NOW) is None
    assert len(item.collect_events()) == 3 and item.pending_events == []
    assert "retired" in refused(item.revise, normalise_item(raw_item()), NOW, None).detail


def test_item_refusals() -> None:
    assert refused(Item("500106:90").revise, normalise_item(raw_item()), NOW, None).status == 404
    assert refused(Item("500106:90").retire, NOW).status == 404
    unknown_place = refused(Item("500106:90").publish, normalise_item(raw_item()), NOW, False)
    assert (unknown_place.status, unknown_place.field) == (422, "jurisdiction")
    existing = Item("500106:90").replay(
        [ItemPublished(item=normalise_item(raw_item()), version=1, valid_from=NOW)]
    )
    assert existing.version == 1 and existing.pending_events == []
    assert refused(existing.publish, normalise_item(raw_item()), NOW).status == 409


# -- jurisdictions, venues, terminals ------------------------------------------------------------


def test_jurisdiction_rules() -> None:
    assert set(fields(refused(Jurisdiction("5001").add, " ", "city"))) == {"code", "name", "kind"}
    added = Jurisdiction("500106").add(" 沙坪坝区 ", "district")
    assert added.name == "沙坪坝区"
    again = Jurisdiction("500106").replay([added])
    assert refused(again.add, "沙坪坝区", "district").status == 409


def test_a_venue_serves_an_identity_item_that_covers_its_jurisdiction() -> None:
    registered = Venue("spb-library").register("图书馆", "500106", "500000:30", True, LIBRARY)
    assert isinstance(registered, VenueRegistered)
    checks = [
        (("500106", "500000:999", True, None), "item_id"),
        (("999999", "500000:30", False, LIBRARY), "jurisdiction"),
        (
            ("500106", "500111:1", True, ItemFacts("500111:1", "500111", "active", ("identity",))),
            "jurisdiction",
        ),
        (("500106", "500106:91", True, ItemFacts("500106:91", "500106", "active", ("payment",))), "item_id"),
        (
            ("500106", "500106:92", True, ItemFacts("500106:92", "500106", "retired", ("identity",))),
            "item_id",
        ),
    ]
    for (jurisdiction, item_id, known, facts), field in checks:
        refusal = refused(Venue("v-1").register, "场馆", jurisdiction, item_id, known, facts)
        assert (refusal.status, refusal.field) == (422, field)
    assert (
        refused(Venue("bad id!").register, "场馆", "500106", "500000:30", True, LIBRARY).field == "venue_id"
    )
    # Sichuan is another province: the municipal item does not cover it.
    assert (
        refused(Venue("v-2").register, "场馆", "510100", "500000:30", True, LIBRARY).field == "jurisdiction"
    )


def test_terminals_deploy_decommission_and_come_back() -> None:
    venue = Venue("spb-library")
    assert refused(venue.deploy_terminal, "gate-1", ["physical"]).status == 404
    venue.register("图书馆", "500106", "500000:30", True, LIBRARY)
    assert isinstance(venue.deploy_terminal("gate-1", ["physical"]), TerminalDeployed)
    assert refused(venue.deploy_terminal, "gate-1", ["physical"]).status == 409
    assert set(fields(refused(venue.deploy_terminal, "gate-2", ["paper", "paper"]))) == {
        "card_forms.0",
        "card_forms.1",
        "card_forms",
    }
    assert refused(venue.deploy_terminal, "gate-2", []).field == "card_forms"
    assert isinstance(venue.decommission_terminal("gate-1"), TerminalDecommissioned)
    assert venue.decommission_terminal("gate-1") is None
    assert refused(venue.decommission_terminal, "gate-9").status == 404
    venue.deploy_terminal("gate-1", ["electronic"])
    assert venue.terminals == {"gate-1": True}


# -- merchants -----------------------------------------------------------------------------------


def test_merchant_agreement() -> None:
    merchant = Merchant("canteen-1")
    assert refused(merchant.set_agreement, True).status == 404
    merchant.register("社区食堂", "500106", "500106:93", True, CANTEEN)
    assert refused(merchant.register, "社区食堂", "500106", "500106:93", True, CANTEEN).status == 409
    assert isinstance(merchant.set_agreement(True), MerchantJoinedAgreement)
    assert merchant.set_agreement(True) is None
    assert isinstance(merchant.set_agreement(False), MerchantLeftAgreement)
    assert "payment" in refused(Merchant("m-2").register, "x", "500106", "500000:30", True, LIBRARY).detail


# -- clients -------------------------------------------------------------------------------------

PARTNERS = {"510000"}
JURISDICTIONS = {"500000", "500106", "510000"}


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ClientRequest("venue", "闸机"), "venues"),
        (ClientRequest("merchant", "食堂"), "merchants"),
        (ClientRequest("department", "文旅委"), "department"),
        (ClientRequest("partner", "四川"), "region"),
        (ClientRequest("partner", "四川", region="500106"), "region"),
        (ClientRequest("venue", "闸机", venues=("v1",), department="市文化旅游委"), "department"),
        (ClientRequest("admin", "x", venues=("v1",)), "venues"),
        (ClientRequest("department", "x", department="区民政局", jurisdiction="999999"), "jurisdiction"),
        (ClientRequest("root", "x"), "role"),
        (ClientRequest("venue", "x", venues=("bad id",)), "venues.0"),
        (ClientRequest("operator", " "), "name"),
    ],
)
def test_client_scope_errors(request_: ClientRequest, field: str) -> None:
    refusal = refused(Client("cl_1").register, request_, PARTNERS, JURISDICTIONS)
    assert refusal.status == 422 and field in fields(refusal)


def test_client_register_and_revoke() -> None:
    client = Client("cl_1")
    assert refused(client.revoke).status == 404
    registered = client.register(
        ClientRequest("venue", " 闸机 ", venues=("v2", "v1", "v2")), PARTNERS, JURISDICTIONS
    )
    assert (registered.name, registered.venues) == ("闸机", ["v1", "v2"])
    assert isinstance(client.revoke(), ClientRevoked)
    assert client.revoke() is None


# -- refusals as problem+json, and the events' registry --------------------------------------------


def test_refusals_read_as_before() -> None:
    """The bodies the catalogue answered with when it had its own refusal type."""
    assert refusal_problem(errors.invalid("as_of", "must be a date")).body() == {
        "type": "urn:onecard:problem:validation",
        "title": "Validation failed",
        "status": 422,
        "detail": "as_of: must be a date",
        "errors": [{"field": "as_of", "message": "as_of: must be a date"}],
    }
    assert refusal_problem(errors.invalid_fields([("a", "x"), ("b", "y")])).body()["detail"] == "a: x; b: y"
    assert refusal_problem(errors.unknown("venue", "v")).body() == {
        "type": "urn:onecard:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "venue 'v' does not exist",
    }
    assert refusal_problem(errors.duplicate("item", "500106:90")).body() == {
        "type": "urn:onecard:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "item '500106:90' exists already",
    }


def test_every_catalogue_event_is_registered() -> None:
    for event_type in ("item_published", "venue_registered", "client_registered", "client_revoked"):
        assert registry.knows(f"onecard.catalog.{event_type}")
