"""Why the catalogue refuses a command, in terms the API turns into problem+json."""

from __future__ import annotations


class Rejected(Exception):
    """A command the catalogue refuses. `field` names the offending input (None: the whole request).

    Status follows the contract: 422 for input that is well formed but not acceptable, 409 for a
    command that conflicts with what is recorded (a duplicate id, a retired item revised), 404 for
    an id that does not exist when it is the target of the request.
    """

    def __init__(
        self, status: int, message: str, field: str | None = None, errors: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors if errors is not None else ([(field, message)] if field else [])


def invalid_fields(errors: list[tuple[str, str]]) -> Rejected:
    """Every problem found in one input at once, so a client fixes them in one round trip."""
    summary = "; ".join(f"{field}: {message}" for field, message in errors)
    return Rejected(422, summary, errors=errors)


def invalid(field: str, message: str) -> Rejected:
    return Rejected(422, f"{field}: {message}", field)


def duplicate(what: str, ident: str) -> Rejected:
    return Rejected(409, f"{what} {ident!r} exists already")


def unknown(what: str, ident: str) -> Rejected:
    return Rejected(404, f"{what} {ident!r} does not exist")
