"""The JSON Schemas of every event the platform publishes and of the partner streams (the one copy:
docs/asyncapi.yaml refers to these files), and a validator per event type."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use: a service that validates nothing never loads it
    from jsonschema import Draft202012Validator

FOLDER = Path(__file__).parent


def schema(event_type: str) -> dict[str, Any] | None:
    """The JSON Schema document of `event_type`; None when there is none."""
    path = FOLDER / f"{event_type}.json"
    if not path.exists():
        return None
    document: dict[str, Any] = json.loads(path.read_text())
    return document


@cache
def validator(event_type: str) -> Draft202012Validator | None:
    from jsonschema import Draft202012Validator, FormatChecker

    document = schema(event_type)
    if document is None:
        return None
    return Draft202012Validator(document, format_checker=FormatChecker())


def problems(event_type: str, data: Any) -> list[str]:
    """Why `data` is not a valid `event_type` (empty when it is)."""
    check = validator(event_type)
    if check is None:
        return [f"unknown event type {event_type}"]
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in check.iter_errors(data)
    ]
