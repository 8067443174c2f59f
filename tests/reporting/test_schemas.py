"""Every event type the reporting tests produce or consume validates against its schema in
onecard_contracts/schemas (the one copy), and docs/asyncapi.yaml describes every topic and schema."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from onecard_catalog.domain.events import registry as catalog_events
from onecard_contracts import schemas as contracts
from onecard_disbursement.domain.events import registry as disbursement_events
from onecard_events.model import DomainEvent
from onecard_events.registry import EventRegistry
from onecard_identity.domain.events import registry as identity_events
from onecard_payments.domain.events import registry as payments_events
from onecard_reporting.adapters.partners import messages
from onecard_reporting.domain.events import registry as reporting_events

from tests.reporting import world

DOCS = Path(__file__).parents[2] / "docs"
SCHEMAS = contracts.FOLDER
REF = Path(os.path.relpath(SCHEMAS, DOCS)).as_posix() + "/"  # how docs/asyncapi.yaml refers to them
REGISTRIES: dict[str, EventRegistry] = {
    "catalog": catalog_events,
    "identity": identity_events,
    "payments": payments_events,
    "disbursement": disbursement_events,
    "reporting": reporting_events,
}


def schema(event_type: str) -> Draft202012Validator:
    document = json.loads((SCHEMAS / f"{event_type}.json").read_text())
    Draft202012Validator.check_schema(document)
    return Draft202012Validator(document, format_checker=FormatChecker())


def world_events() -> list[DomainEvent]:
    return [
        *world.catalogue(),
        *world.identity_events(),
        *world.payment_events(),
        *world.payee_events(),
        *world.outbound_events(),
    ]


@pytest.mark.parametrize("event", world_events(), ids=lambda e: e.event_type)
def test_world_events_validate(event: DomainEvent) -> None:
    errors = list(schema(event.event_type).iter_errors(event.model_dump(mode="json")))
    assert errors == []


def test_the_service_validates_partner_events_with_the_one_copy_of_the_schemas() -> None:
    assert messages.problems is contracts.problems
    for event_type in (messages.CARD_USED, messages.HOTLIST):
        assert contracts.schema(event_type) == json.loads((SCHEMAS / f"{event_type}.json").read_text())


def test_asyncapi_describes_every_topic_and_schema() -> None:
    spec: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    assert spec["asyncapi"].startswith("2.6")
    channels = set(spec["channels"])
    assert {
        "onecard.partner.{region}.v1",
        "partner.{region}.onecard.v1",
        "partner.{region}.onecard.v1.dlq",
    } <= channels
    assert {
        f"onecard.{s}.v1" for s in ("catalog", "identity", "payments", "disbursement", "reporting")
    } <= channels
    referenced = {
        m["payload"]["$ref"] for m in spec["components"]["messages"].values() if "$ref" in m["payload"]
    }
    on_disk = {f"{REF}{p.name}" for p in SCHEMAS.glob("*.json")}
    assert referenced == on_disk
    for name, message in spec["components"]["messages"].items():
        assert any(name in str(c) for c in spec["channels"].values()), f"{name} is on no channel"
        assert message["payload"]["$ref"] == f"{REF}{message['name']}.json"


def test_every_event_type_a_service_records_has_a_schema_on_its_channel() -> None:
    spec: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    messages_by_name = {m["name"]: key for key, m in spec["components"]["messages"].items()}
    missing = []
    for service, registry in REGISTRIES.items():
        on_channel = {
            ref["$ref"] for ref in spec["channels"][f"onecard.{service}.v1"]["subscribe"]["message"]["oneOf"]
        }
        for event_type, model in registry.event_types().items():
            document = contracts.schema(event_type)
            if document is None:
                missing.append(f"{event_type}: no schema")
                continue
            Draft202012Validator.check_schema(document)
            assert document["$id"] == f"urn:onecard:schema:{event_type}:{model.schema_version}"
            assert set(document["properties"]) == set(model.model_fields), event_type
            key = messages_by_name.get(event_type)
            if f"#/components/messages/{key}" not in on_channel:
                missing.append(f"{event_type}: not on channel onecard.{service}.v1")
    assert missing == []
