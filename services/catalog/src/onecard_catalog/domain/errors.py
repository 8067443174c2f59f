"""Why the catalogue refuses a command: `Refused`, made by these factories.

Status follows the contract: 422 for input that is well formed but not acceptable, 409 for a
command that conflicts with what is recorded (a duplicate id, a retired item revised), 404 for an
id that does not exist when it is the target of the request. `onecard_service.problems` turns a
refusal into problem+json.
"""

from __future__ import annotations

from onecard_events.aggregate import Refused


def invalid_fields(errors: list[tuple[str, str]]) -> Refused:
    """Every problem found in one input at once, so a client fixes them in one round trip."""
    summary = "; ".join(f"{field}: {message}" for field, message in errors)
    return Refused(summary, status=422, errors=errors)


def invalid(field: str, message: str) -> Refused:
    return Refused(f"{field}: {message}", status=422, field=field)


def duplicate(what: str, ident: str) -> Refused:
    return Refused(f"{what} {ident!r} exists already", status=409)


def unknown(what: str, ident: str) -> Refused:
    return Refused(f"{what} {ident!r} does not exist", status=404)


def not_in_force(item_id: str, at: str, first: str | None) -> Refused:
    """404 for an item that exists but had no version in force at `at`: not yet (before `first`,
    when its earliest version takes effect) or no longer (retired)."""
    if first is not None:
        detail = f"item {item_id!r} was not yet in force at {at}; it takes effect from {first}"
        return Refused(detail, status=404, code="not_yet_in_force")
    return Refused(f"item {item_id!r} was no longer in force at {at}", status=404, code="no_longer_in_force")
