"""Which items and jurisdictions a disbursement program may be run for."""

from __future__ import annotations

from typing import Any

from onecard_contracts.regions import covers


def item_refusal(item: dict[str, Any] | None) -> str | None:
    """Why an item of the catalogue view cannot carry a program (None when it can)."""
    if item is None:
        return "no such item in the catalogue"
    if "disbursement" not in (item.get("categories") or []):
        return "the item is not in the disbursement category"
    if item.get("status") != "active":
        return "the item is retired"
    return None


def jurisdiction_fits(item_jurisdiction: str, program_jurisdiction: str) -> bool:
    """A district runs its own items; a municipal (or provincial) item may be run by any of its
    districts, whose beneficiaries then count towards that district's figure."""
    return covers(item_jurisdiction, program_jurisdiction)
