"""The JSON Schemas of the partner streams (copies of docs/schemas, shipped with the package)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

FOLDER = Path(__file__).parent.parent / "schemas"


@cache
def validator(event_type: str) -> Draft202012Validator | None:
    path = FOLDER / f"{event_type}.json"
    if not path.exists():
        return None
    schema: dict[str, Any] = json.loads(path.read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def problems(event_type: str, data: Any) -> list[str]:
    """Why `data` is not a valid `event_type` (empty when it is)."""
    check = validator(event_type)
    if check is None:
        return [f"unknown event type {event_type}"]
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in check.iter_errors(data)
    ]
