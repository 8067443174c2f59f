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
