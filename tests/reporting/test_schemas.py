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
from onecard_contracts import schemas as contracts
from onecard_events.model import DomainEvent
from onecard_reporting.adapters.partners import messages

from tests.reporting import world

DOCS = Path(__file__).parents[2] / "docs"
SCHEMAS = contracts.FOLDER
REF = Path(os.path.relpath(SCHEMAS, DOCS)).as_posix() + "/"  # how docs/asyncapi.yaml refers to them


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
