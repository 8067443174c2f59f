"""Cell normalisation shared by the seed parsers: spacing, token lists and depth plans."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# CJK ideographs plus the full-width and CJK punctuation the seeds use (、，。（）“” …).
_CJK = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef\u2018-\u201d]"
# The office-to-text conversion spread some cells out as "宾 旅 馆 住 宿"; spaces between two CJK
# characters carry no meaning in Chinese, while spaces next to digits or Latin text ("大学生 24365")
# are kept.
_CJK_GAP = re.compile(rf"(?<={_CJK})\s+(?={_CJK})")

CARD_FORMS = {"实体卡": "physical", "电子卡": "electronic"}
CATEGORIES = {"身份识别": "identity", "资金发放": "disbursement", "缴费支付": "payment"}
LEVELS = {"一级": 1, "二级": 2, "三级": 3}
# The seeds mark "not applicable" cells (support items) with a backslash.
NOT_APPLICABLE = "\\"


def squeeze(text: str) -> str:
    """Trims a cell and removes the spaces the conversion put between Chinese characters."""
    return _CJK_GAP.sub("", text.strip())


def join_lines(text: str, sep: str = "") -> str:
    """Joins a cell split across lines; Chinese words split mid-word rejoin without a separator."""
    return sep.join(squeeze(part) for part in text.splitlines() if part.strip())


def join_names(text: str) -> str:
    """Joins a cell listing people or offices one per line into a 、-separated list."""
    parts = [squeeze(part) for part in text.splitlines() if part.strip()]
    joined = ""
    for part in parts:
        joined += part if not joined or joined.endswith("、") else "、" + part
    return joined


def split_departments(text: str) -> list[str]:
    """A department cell: names separated by 、, possibly split across lines mid-name."""
    return [name for name in join_lines(text).split("、") if name]


def card_forms(text: str) -> list[str]:
    """用卡方式 → physical/electronic, in that canonical order; a bare backslash gives none."""
    found = set(re.findall("|".join(CARD_FORMS), text))
    return [form for key, form in CARD_FORMS.items() if key in found]


def categories(text: str) -> list[str]:
    """应用类别 → identity/disbursement/payment, in canonical order.

    Cells such as "身份识别缴费" + "支付" arrive without separators or across rows, so the
    labels are matched in the text with all whitespace removed.
    """
    compact = re.sub(r"\s+", "", text)
    return [category for key, category in CATEGORIES.items() if key in compact]


def is_card_form_cell(text: str) -> bool:
    """True for a 用卡方式 cell; used to anchor rows whose leading columns are shifted."""
    compact = re.sub(r"\s+", "", text)
    return compact == NOT_APPLICABLE or (bool(compact) and not re.sub("实体卡|电子卡", "", compact))


@dataclass(frozen=True)
class Plan:
    """推进计划: planned level per year end, and the plan's wording where it is text."""

    levels: dict[str, int] = field(default_factory=dict)
    note: str | None = None


def parse_plan(cells: Sequence[str], years: Sequence[str]) -> Plan | None:
    """Reads the plan cells of one row; None when they are all blank (merged with the row above).

    A single filled cell followed by blanks is a cell merged across all the year columns: the
    level (or the text) holds for every year. Otherwise each cell is its year's plan; a text
    cell among levels ("争取国家部委支持") goes to the note, prefixed by its year.
    """
    values = [join_lines(cell) for cell in cells]
    if not any(values):
        return None
    if all(value in ("", NOT_APPLICABLE) for value in values):
        return Plan()
    if values[0] and not any(values[1:]):
        return _spanning_plan(values[0], years)
    if len(values) != len(years) or not all(values):
        raise ValueError(f"plan cells {values!r} do not match the years {list(years)}")
    return _yearly_plan(values, years)


def _spanning_plan(value: str, years: Sequence[str]) -> Plan:
    if value in LEVELS:
        return Plan(levels={year: LEVELS[value] for year in years})
    return Plan(note=value)


def _yearly_plan(values: Sequence[str], years: Sequence[str]) -> Plan:
    levels: dict[str, int] = {}
    notes: list[str] = []
    for year, value in zip(years, values, strict=True):
        if value in LEVELS:
            levels[year] = LEVELS[value]
        else:
            notes.append(f"{year}年底：{value}")
    return Plan(levels=levels, note="；".join(notes) or None)
