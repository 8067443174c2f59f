"""The service's refusals, all `Refused` (mapped to problem+json once, by onecard_service.problems).

The factories keep the bodies clients already see: a 422 names the field, a 409 says why, a 404
names what is missing, a 403 says whose scope the target is outside of.
"""

from __future__ import annotations

from onecard_events.aggregate import Refused


def invalid(field: str, message: str) -> Refused:
    return Refused(f"{field}: {message}", status=422, errors=[(field, message)])


def conflict(detail: str) -> Refused:
    return Refused(detail, status=409)


def not_found(what: str, ident: str) -> Refused:
    return Refused(f"{what} {ident!r} does not exist", status=404)


def forbidden(detail: str) -> Refused:
    return Refused(detail, status=403)
