"""The parsed row of a catalogue table and how it becomes a catalogue item.

A row is first read as the seed shows it, with blank (merged) cells kept as None. Hand
corrections are applied to that reading, then merged cells are filled from the row above, and
only then is the row checked and turned into the JSON item.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from onecard_catalog.adapters.catalogue_data._text import Plan

Item = dict[str, Any]

KINDS = {"事项类": "service", "保障类": "support"}
FUNCTION_CLASSES = ("身份凭证", "信息记录", "自助查询", "就医结算", "缴费和待遇领取", "金融支付")


class ExtractionError(ValueError):
    """The seed text does not read as expected; fix the parser or add a correction."""


@dataclass
class Row:
    """One catalogue row. None marks a blank cell that carries over from the row above."""

    jurisdiction: str
    seq: int | str
    line: int
    kind: str | None
    lead_departments: list[str] | None
    cooperating_departments: list[str] | None
    name: str
    description: str
    card_forms: list[str]
    categories: list[str]
    plan: Plan | None
    function_classes: list[str] = field(default_factory=list)
    completion: dict[str, str] | None = None
    responsible: dict[str, str] | None = None
    business_domain: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def item_id(self) -> str:
        return f"{self.jurisdiction}:{self.seq}"


def kind_of(cell: str) -> str | None:
    """类别 cell → service/support; blank → None; anything else is kept for validation to reject."""
    return KINDS.get(cell, cell) if cell else None


def carry_over(rows: Sequence[Row], fields: Iterable[str]) -> None:
    """Fills blank (None) cells of the given fields from the row above: the merged-cell rule."""
    names = tuple(fields)
    for previous, row in itertools.pairwise(rows):
        for name in names:
            if getattr(row, name) is None:
                setattr(row, name, getattr(previous, name))


# Fields a correction may set, with the JSON types their values must have.
_CORRECTABLE: dict[str, tuple[type, ...]] = {
    "kind": (str, type(None)),
    "department": (str, type(None)),
    "lead_departments": (list, type(None)),
    "cooperating_departments": (list, type(None)),
    "name": (str,),
    "description": (str,),
    "card_forms": (list,),
    "categories": (list,),
}


def apply_corrections(rows: Sequence[Row], corrections: Sequence[dict[str, Any]]) -> list[str]:
    """Applies the hand corrections that concern these rows; returns the ids it corrected.

    A correction that names an unknown item or field, or that would not change anything, is an
    error: corrections must stay tied to a real defect of the seed text.
    """
    by_id = {row.item_id: row for row in rows}
    applied: list[str] = []
    for entry in corrections:
        row = by_id.get(entry["item_id"])
        if row is None:
            continue
        _apply_one(row, entry)
        applied.append(row.item_id)
    return applied


def _apply_one(row: Row, entry: dict[str, Any]) -> None:
    name, value = entry["field"], entry["value"]
    if name not in _CORRECTABLE or not isinstance(value, _CORRECTABLE[name]):
        raise ExtractionError(f"correction {entry!r}: unknown field or wrong value type")
    if not entry.get("reason"):
        raise ExtractionError(f"correction {entry!r} gives no reason")
    attr, new = _target(name, value)
    if getattr(row, attr) == new:
        raise ExtractionError(f"correction {entry!r} changes nothing; remove it")
    setattr(row, attr, new)


def _target(name: str, value: Any) -> tuple[str, Any]:
    """The Row attribute a correction sets, and the value in the Row's form."""
    if name == "department":
        # The 责任单位 cell as one name; None means blank, i.e. merged with the row above.
        return "lead_departments", None if value is None else [value]
    return name, value


def validate(row: Row) -> None:
    """The invariants every extracted item satisfies; a failure names the row to look at."""
    where = f"{row.item_id} (seed line {row.line})"
    if row.kind not in KINDS.values():
        raise ExtractionError(f"{where}: 类别 reads {row.kind!r}")
    if not row.name:
        raise ExtractionError(f"{where}: no 服务事项 name")
    plan = row.plan or Plan()
    if row.kind == "support":
        if row.categories or plan.levels:
            raise ExtractionError(f"{where}: a support item with categories or a depth plan")
        return
    if not row.categories or not row.card_forms:
        raise ExtractionError(f"{where}: a service item without categories or card forms")
    if not plan.levels and not plan.note:
        raise ExtractionError(f"{where}: a service item without a plan")
    if any(level not in (1, 2, 3) for level in plan.levels.values()):
        raise ExtractionError(f"{where}: plan levels {plan.levels}")
    if any(fc not in FUNCTION_CLASSES for fc in row.function_classes):
        raise ExtractionError(f"{where}: function classes {row.function_classes}")


def to_item(row: Row, source: str) -> Item:
    """The JSON item: the contract's fields first, then the extras this seed has."""
    plan = row.plan or Plan()
    leads = row.lead_departments or []
    item: Item = {
        "item_id": row.item_id,
        "jurisdiction": row.jurisdiction,
        "seq": row.seq,
        "kind": row.kind,
        "name": row.name,
        "description": row.description,
        "department": leads[0] if leads else None,
        # Co-leading departments (a second 责任单位) also answer for the item, so they are listed
        # ahead of the 配合单位.
        "cooperating_departments": _unique([*leads[1:], *(row.cooperating_departments or [])]),
        "card_forms": row.card_forms,
        "categories": row.categories if row.kind == "service" else [],
        "plan": plan.levels if row.kind == "service" else {},
        "plan_note": plan.note if row.kind == "service" else None,
        "function_classes": row.function_classes,
        "completion": row.completion,
        "source": source,
        "lead_departments": leads,
    }
    if row.responsible is not None:
        item["responsible"] = row.responsible
    if row.business_domain is not None:
        item["business_domain"] = row.business_domain
    item.update(row.extras)
    item["source_line"] = row.line
    return item


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))
