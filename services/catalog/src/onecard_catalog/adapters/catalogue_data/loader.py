"""Reads the extracted catalogues shipped with this package (see README.md)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

# Jurisdictions that have a catalogue file, in the order load_all_items returns them.
_PACKAGE = "onecard_catalog.adapters.catalogue_data"
CATALOGUE_CODES = ("500000", "500106", "500111", "500155", "500240")


def _read(name: str) -> Any:
    text = resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


def load_jurisdictions() -> list[dict[str, Any]]:
    """[{code, name, kind}] for the municipality, the districts/counties and the partners."""
    jurisdictions: list[dict[str, Any]] = _read("jurisdictions.json")
    return jurisdictions


def load_catalogue(code: str) -> list[dict[str, Any]]:
    """The items of one jurisdiction's catalogue; KeyError for a jurisdiction without one."""
    if code not in CATALOGUE_CODES:
        raise KeyError(f"no catalogue for jurisdiction {code!r}")
    items: list[dict[str, Any]] = _read(f"{code}.json")
    return items


def load_all_items() -> list[dict[str, Any]]:
    """Every item of every catalogue; item_ids are unique across them."""
    return [item for code in CATALOGUE_CODES for item in load_catalogue(code)]
