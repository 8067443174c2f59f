"""The item aggregate (stream `item-<item_id>`): its versions, and what makes an item acceptable.

Every change is a new version recorded with the moment it takes effect (`effective_from`: now,
unless the department names the date; the official catalogues: their documents' dates) and the
moment it was recorded (`recorded_at`), so the catalogue can answer "which version was in force
then" and reports stay reproducible. A retired item keeps its history; retirement is itself a
version with status `retired`.

The version in force at T is the one with the greatest effective_from <= T; of versions with the
same effective_from, the one recorded last (the higher version number). A retirement may not take
effect before a version already recorded does (the item would come back into force), and an item
whose retirement is recorded takes no more revisions, even while that retirement is still ahead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from onecard_events.aggregate import Aggregate, Refused
from onecard_events.model import DomainEvent
from onecard_events.times import parse_rfc3339, rfc3339

from .errors import duplicate, invalid, invalid_fields, unknown
from .events import ItemPublished, ItemRetired

KINDS = ("service", "support")
CARD_FORMS = ("physical", "electronic")
CATEGORIES = ("identity", "disbursement", "payment")
# "<6-digit jurisdiction>:<seq>", seq a number or, for the Liangping tables, A<n> / B<n>.
ITEM_ID = re.compile(r"^(\d{6}):([A-Z]?\d{1,4})$")
YEAR = re.compile(r"^20\d\d$")
# Filled by the catalogue itself, never taken from a caller.
_SERVER_FIELDS = ("version", "status")


def stream_of(item_id: str) -> str:
    return f"item-{item_id}"


def check_jurisdiction(known: bool, code: str) -> None:
    """Items, venues and merchants belong to a jurisdiction the catalogue knows."""
    if not known:
        raise invalid("jurisdiction", f"jurisdiction {code!r} is not known")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_identity(raw: dict[str, Any], errors: list[tuple[str, str]]) -> str | None:
    item_id = raw.get("item_id")
    jurisdiction = raw.get("jurisdiction")
    seq = raw.get("seq")
    if item_id is None and jurisdiction is not None and seq is not None:
        item_id = f"{jurisdiction}:{seq}"
    match = ITEM_ID.match(item_id) if isinstance(item_id, str) else None
    if match is None:
        errors.append(("item_id", "must be <6-digit jurisdiction>:<seq>, e.g. 500000:30 or 500155:A1"))
        return None
    if jurisdiction is not None and jurisdiction != match.group(1):
        errors.append(("jurisdiction", f"must be {match.group(1)}, the prefix of item_id"))
    if seq is not None and str(seq) != match.group(2):
        errors.append(("seq", f"must be {match.group(2)}, the suffix of item_id"))
    return item_id


def _check_choices(
    raw: dict[str, Any], name: str, allowed: tuple[str, ...], errors: list[tuple[str, str]]
) -> None:
    values = raw.get(name, [])
    if not _strings(values):
        errors.append((name, "must be a list of strings"))
        return
    for index, value in enumerate(values):
        if value not in allowed:
            errors.append((f"{name}.{index}", f"{value!r} is not one of {', '.join(allowed)}"))
    if len(set(values)) != len(values):
        errors.append((name, "lists a value twice"))
    if raw.get("kind") == "service" and not values:
        errors.append((name, "a service item needs at least one"))


def _check_plan(plan: Any, errors: list[tuple[str, str]]) -> None:
    if not isinstance(plan, dict):
        errors.append(("plan", 'must be an object such as {"2025": 2}'))
        return
    for year, level in plan.items():
        if not YEAR.match(str(year)):
            errors.append((f"plan.{year}", "the key must be a year such as 2025"))
        # bool is an int in Python; a plan of `true` is a mistake, not level 1.
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 3:
            errors.append((f"plan.{year}", "a planned level is an integer 1–3 (text goes to plan_note)"))


def _check_text(raw: dict[str, Any], errors: list[tuple[str, str]]) -> None:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(("name", "is required"))
    if raw.get("kind") not in KINDS:
        errors.append(("kind", f"must be one of {', '.join(KINDS)}"))
    for optional in ("description", "department", "plan_note"):
        if raw.get(optional) is not None and not isinstance(raw[optional], str):
            errors.append((optional, "must be text"))
    for listed in ("cooperating_departments", "function_classes"):
        if not _strings(raw.get(listed, [])):
            errors.append((listed, "must be a list of strings"))
    completion = raw.get("completion")
    if completion is not None and (not isinstance(completion, dict) or set(completion) - set(CARD_FORMS)):
        errors.append(("completion", "must be {physical, electronic} or null"))


def normalise_item(raw: dict[str, Any]) -> dict[str, Any]:
    """The item as the catalogue records it, or a refusal listing every field at fault.

    Fields the contract does not name are kept as given (the official catalogues carry their
    source and lead departments); `version` and `status` are the catalogue's to set.
    """
    errors: list[tuple[str, str]] = []
    item_id = _check_identity(raw, errors)
    _check_text(raw, errors)
    _check_choices(raw, "card_forms", CARD_FORMS, errors)
    _check_choices(raw, "categories", CATEGORIES, errors)
    _check_plan(raw.get("plan", {}), errors)
    if errors or item_id is None:
        raise invalid_fields(errors)
    jurisdiction, seq = item_id.split(":", 1)
    extras = {k: v for k, v in raw.items() if k not in _SERVER_FIELDS}
    return {
        **extras,
        "item_id": item_id,
        "jurisdiction": jurisdiction,
        "seq": int(seq) if seq.isdigit() else seq,
        "kind": raw["kind"],
        "name": raw["name"].strip(),
        "description": raw.get("description") or "",
        "department": raw.get("department"),
        "cooperating_departments": list(raw.get("cooperating_departments", [])),
        "card_forms": list(raw.get("card_forms", [])),
        "categories": list(raw.get("categories", [])),
        "plan": {str(y): level for y, level in raw.get("plan", {}).items()},
        "plan_note": raw.get("plan_note"),
        "function_classes": list(raw.get("function_classes", [])),
        "completion": raw.get("completion"),
    }


@dataclass
class Item(Aggregate):
    """One item folded from its stream; its decisions trigger the versions they make."""

    item_id: str
    status: str | None = None
    current: dict[str, Any] = field(default_factory=dict)
    latest: int = 0
    # The latest effective_from of any version recorded (retirement may not come before it).
    latest_effective: datetime | None = None

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, ItemPublished):
            self.latest, self.status, self.current = event.version, "active", dict(event.item)
        elif isinstance(event, ItemRetired):
            self.latest, self.status = event.version, "retired"
        if isinstance(event, ItemPublished | ItemRetired):
            effective = parse_rfc3339(event.effective_from)
            if self.latest_effective is None or effective > self.latest_effective:
                self.latest_effective = effective

    @property
    def exists(self) -> bool:
        return self.latest > 0

    def _publish(self, item: dict[str, Any], version: int, now: str, effective: str | None) -> ItemPublished:
        published = {**item, "version": version, "status": "active"}
        moment = effective or now
        return self.trigger(
            ItemPublished(
                item=published, version=version, valid_from=moment, effective_from=moment, recorded_at=now
            )
        )

    def publish(
        self,
        item: dict[str, Any],
        now: str,
        jurisdiction_known: bool = True,
        effective_from: str | None = None,
    ) -> ItemPublished:
        """The first version of a new item (of a jurisdiction the catalogue knows), in force from
        `effective_from` (default: `now`)."""
        check_jurisdiction(jurisdiction_known, item["jurisdiction"])
        if self.exists:
            raise duplicate("item", self.item_id)
        return self._publish(item, 1, now, effective_from)

    def revise(
        self,
        item: dict[str, Any],
        now: str,
        expected_version: int | None,
        effective_from: str | None = None,
    ) -> ItemPublished | None:
        """A new version in force from `effective_from` (default: `now`); nothing when the content
        is unchanged (a repeated PUT records nothing)."""
        if not self.exists:
            raise unknown("item", self.item_id)
        if self.status == "retired":
            raise Refused(f"item {self.item_id!r} is retired; publish a new item instead")
        if expected_version is not None and expected_version != self.latest:
            raise Refused(f"item {self.item_id!r} is at version {self.latest}, not {expected_version}")
        unchanged = {k: v for k, v in self.current.items() if k not in _SERVER_FIELDS}
        if unchanged == item:
            return None
        return self._publish(item, self.latest + 1, now, effective_from)

    def retire(self, now: str, effective_from: str | None = None) -> ItemRetired | None:
        """Retirement as a version of its own, from `effective_from` (default: `now`); nothing when
        the item is retired already."""
        if not self.exists:
            raise unknown("item", self.item_id)
        if self.status == "retired":
            return None
        moment = effective_from or now
        if self.latest_effective is not None and parse_rfc3339(moment) < self.latest_effective:
            raise invalid(
                "effective_from",
                f"must not be before a version of the item takes effect ({rfc3339(self.latest_effective)})",
            )
        retired = ItemRetired(
            item_id=self.item_id,
            version=self.latest + 1,
            valid_from=moment,
            effective_from=moment,
            recorded_at=now,
        )
        return self.trigger(retired)
