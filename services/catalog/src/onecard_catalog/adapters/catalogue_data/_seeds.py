"""Parsers for the five seed documents, one per table layout.

Two layouts occur. The municipal plan has one table row per text line, cells separated by tabs.
The other seeds put one cell per line, each line starting with a tab; a line without the
leading tab continues the cell above (a cell split across lines), and blank lines mean nothing.
In both, a blank cell of a merged column is left None here and filled later (carry-over).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from onecard_catalog.adapters.catalogue_data._model import ExtractionError, Row, kind_of
from onecard_catalog.adapters.catalogue_data._text import (
    Plan,
    card_forms,
    categories,
    is_card_form_cell,
    join_lines,
    join_names,
    parse_plan,
    split_departments,
    squeeze,
)


@dataclass(frozen=True)
class Table:
    """Rows of one table and the columns whose blank cells carry over from the row above."""

    rows: list[Row]
    carry: tuple[str, ...]


# Columns that are merged cells in the depth-plan tables (类别, 责任单位, 配合单位, 推进计划 and,
# in Shizhu, the responsible leader/office/person).
PLAN_TABLE_CARRY = ("kind", "lead_departments", "cooperating_departments", "plan", "responsible")


@dataclass(frozen=True)
class Cell:
    line: int  # 1-based line of the seed where the cell starts
    text: str


def _find(lines: Sequence[str], test: Callable[[str], bool], start: int = 0) -> int:
    for index in range(start, len(lines)):
        if test(lines[index]):
            return index
    raise ExtractionError("a table boundary was not found in the seed text")


# ---------------------------------------------------------------- municipal (渝府办发〔2024〕73号)

MUNICIPAL_YEARS = ("2024", "2025", "2026", "2027")
_COLUMNS = 12  # 序号 类别 责任单位 配合单位 服务事项 具体内容 用卡方式 应用类别 + four year ends
_NAME, _DESC, _CARDS = 4, 5, 6
_LIST_COLUMNS = (2, 3)  # 责任单位, 配合单位


def parse_municipal(text: str) -> list[Table]:
    lines = text.splitlines()
    start = _find(lines, lambda line: line.startswith("序号\t类别"))
    stop = _find(lines, lambda line: line.strip() == "说明", start)
    grid = _municipal_grid(lines, start, stop)
    _join_trailing_enumerations(grid)
    return [Table([_municipal_row(line, cells) for line, cells in grid], PLAN_TABLE_CARRY)]


def _is_header(line: str) -> bool:
    # Every page break repeats the two header lines.
    return line.startswith("序号\t") or "2024年底" in line


def _municipal_grid(lines: Sequence[str], start: int, stop: int) -> list[tuple[int, list[str]]]:
    """The data rows as (seed line, 12 canonical cells), continuation lines merged in."""
    grid: list[tuple[int, list[str]]] = []
    pending_seq = ""
    for index in range(start, stop):
        line = lines[index]
        if not line.strip() or _is_header(line):
            continue
        cells = [squeeze(cell) for cell in line.split("\t")]
        anchor = _card_form_column(cells)
        if anchor is None:
            # A row without a 用卡方式 cell is the overflow of the row above at a page break. Its
            # 序号, if any, belongs to the next row: the converter put item 5's number on item
            # 4's overflow line (seed lines 85-86).
            pending_seq = cells[0] or pending_seq
            _append_overflow(grid, cells, index + 1)
            continue
        row = _canonical(cells, anchor, index + 1)
        if not row[0]:
            row[0], pending_seq = pending_seq, ""
        grid.append((index + 1, row))
    return grid


def _card_form_column(cells: Sequence[str]) -> int | None:
    return next((i for i, cell in enumerate(cells) if i and is_card_form_cell(cell)), None)


def _canonical(cells: list[str], anchor: int, line: int) -> list[str]:
    """Realigns a row on its 用卡方式 cell, the one column that is always recognisable.

    服务事项 and 具体内容 sit just left of it and 应用类别 and the plan just right of it. The cells
    left of 服务事项 are 类别, 责任单位, 配合单位: when a row has surplus empty cells there (items
    40-41 on seed lines 151-152) only the last three count; when it has too few (item 29) they are
    padded on the right and the result is repaired by corrections.json.
    """
    front = cells[1 : anchor - 2]
    if len(front) > 3:
        if any(front[:-3]):
            raise ExtractionError(f"seed line {line}: unexpected cells {front[:-3]}")
        front = front[-3:]
    front += [""] * (3 - len(front))
    tail = cells[anchor:]
    if any(tail[2 + len(MUNICIPAL_YEARS) :]):
        raise ExtractionError(f"seed line {line}: cells beyond the last year column")
    tail = (tail + [""] * _COLUMNS)[: 2 + len(MUNICIPAL_YEARS)]
    return [cells[0], *front, cells[anchor - 2], cells[anchor - 1], *tail]


def _append_overflow(grid: list[tuple[int, list[str]]], cells: list[str], line: int) -> None:
    if not grid:
        raise ExtractionError(f"seed line {line}: overflow line before the first row")
    row = grid[-1][1]
    for column, cell in enumerate(cells[1:_COLUMNS], start=1):
        row[column] += cell


def _join_trailing_enumerations(grid: list[tuple[int, list[str]]]) -> None:
    """A department list ending in 、 continues in the same column of the next row.

    Item 21's 配合单位 ends "…市级有关部门、" and its last name, 区县政府, opens item 22's row
    after the page break (seed lines 114 and 118); the next row's cell is then blank, i.e.
    merged with item 21's.
    """
    for (_, above), (_, below) in itertools.pairwise(grid):
        for column in _LIST_COLUMNS:
            if above[column].endswith("、") and below[column]:
                above[column], below[column] = above[column] + below[column], ""


def _municipal_row(line: int, cells: list[str]) -> Row:
    if not cells[0].isdigit():
        raise ExtractionError(f"seed line {line}: no 序号")
    return Row(
        jurisdiction="500000",
        seq=int(cells[0]),
        line=line,
        kind=kind_of(cells[1]),
        lead_departments=split_departments(cells[2]) or None,
        cooperating_departments=split_departments(cells[3]) or None,
        name=cells[_NAME],
        description=cells[_DESC],
        card_forms=card_forms(cells[_CARDS]),
        categories=categories(cells[_CARDS + 1]),
        plan=parse_plan(cells[_CARDS + 2 :], MUNICIPAL_YEARS),
    )


# ------------------------------------------------------------- one-cell-per-line tables


def tab_cells(lines: Sequence[str], start: int, stop: int) -> list[Cell]:
    """Cells of a one-cell-per-line table; continuation lines are kept as separate lines."""
    cells: list[Cell] = []
    for index in range(start, stop):
        raw = lines[index]
        if raw.startswith("\t"):
            cells.append(Cell(index + 1, raw[1:]))
        elif raw.strip() and cells:
            cells[-1] = Cell(cells[-1].line, cells[-1].text + "\n" + raw)
    return cells


def split_records(cells: Sequence[Cell], seq_column: int) -> list[list[Cell]]:
    """Splits the cell stream into rows at the 序号 cells, which count 1, 2, 3, … in order.

    No other cell of these tables is a bare number, so the running count is a reliable anchor
    even where a row has lost its trailing (merged) cells.
    """
    anchors: list[int] = []
    for index, cell in enumerate(cells):
        if cell.text.strip() == str(len(anchors) + 1):
            anchors.append(index)
    ends = [*anchors[1:], len(cells) + seq_column]
    return [
        list(cells[start - seq_column : end - seq_column]) for start, end in zip(anchors, ends, strict=True)
    ]


# ------------------------------------------------- Shizhu (石柱) and Dazu (大足) district plans

SHIZHU_YEARS = ("2025", "2026", "2027")
DAZU_YEARS = MUNICIPAL_YEARS


def parse_shizhu(text: str) -> list[Table]:
    return _parse_plan_table(text, "500240", SHIZHU_YEARS, responsible=True)


def parse_dazu(text: str) -> list[Table]:
    return _parse_plan_table(text, "500111", DAZU_YEARS, responsible=False)


def _parse_plan_table(text: str, code: str, years: Sequence[str], *, responsible: bool) -> list[Table]:
    lines = text.splitlines()
    start = _find(lines, lambda line: line == "\t1")
    stop = _find(lines, lambda line: line.replace(" ", "").strip() == "说明", start)
    records = split_records(tab_cells(lines, start, stop), seq_column=0)
    rows = [_plan_table_row(code, record, years, responsible) for record in records]
    return [Table(rows, PLAN_TABLE_CARRY)]


def _plan_table_row(code: str, record: list[Cell], years: Sequence[str], responsible: bool) -> Row:
    texts = [cell.text for cell in record]
    plan_start = 11 if responsible else 8
    if len(texts) <= plan_start - 1:
        raise ExtractionError(f"seed line {record[0].line}: short row {texts}")
    return Row(
        jurisdiction=code,
        seq=int(texts[0]),
        line=record[0].line,
        kind=kind_of(join_lines(texts[1])),
        lead_departments=split_departments(texts[2]) or None,
        cooperating_departments=split_departments(texts[3]) or None,
        name=join_lines(texts[4]),
        description=join_lines(texts[5]),
        card_forms=card_forms(texts[6]),
        categories=categories(texts[7]),
        plan=parse_plan(texts[plan_start:], years),
        responsible=_responsible(texts[8:11]) if responsible else None,
    )


def _responsible(texts: Sequence[str]) -> dict[str, str] | None:
    """Shizhu's 责任领导/责任科室/责任人; several people are listed one per line."""
    leader, office, person = (join_names(text) for text in texts)
    if not (leader or office or person):
        return None  # merged with the row above (item 5)
    return {"leader": leader, "office": office, "person": person}


# --------------------------------------------------------- Liangping (梁平) 2020 catalogue

LIANGPING_HRSS = "区人力社保局"
# Table 1 lists the HR&SS items, "with completion dates"; table 2 is advisory (seed line 96).
_TABLE1_NOTE = "人社领域用卡明确了完成时间：实体卡{physical}，电子卡{electronic}"
_TABLE2_NOTE = (
    "其他民生保障领域用卡为鼓励引导性质，由各地根据本地“一卡通”进展情况推进，不做统一的完成时间要求"
)

_PAYS_OUT = ("发放", "领取")
_COLLECTS = ("缴纳", "交纳", "缴费", "扣费", "扣款", "购买")
_BY_CLASS = {
    "身份凭证": ["identity"],
    "信息记录": ["identity"],
    "自助查询": ["identity"],
    "就医结算": ["payment"],
    "金融支付": ["payment"],
}


def liangping_categories(function_class: str, name: str, description: str) -> list[str]:
    """Derives 应用类别 from Liangping's function class (the rule of README.md).

    缴费和待遇领取 covers both directions of money, so the item's own wording decides: paying out
    into the card account (发放/领取) is a disbursement, collecting (缴纳/缴费/扣费/购买 …) a
    payment.
    """
    if function_class in _BY_CLASS:
        return list(_BY_CLASS[function_class])
    if function_class != "缴费和待遇领取":
        raise ExtractionError(f"unknown function class {function_class!r}")
    text = name + description
    found = [
        category
        for category, words in (("disbursement", _PAYS_OUT), ("payment", _COLLECTS))
        if any(word in text for word in words)
    ]
    if not found:
        raise ExtractionError(f"{name}: neither paying out nor collecting")
    return found


def parse_liangping(text: str) -> list[Table]:
    lines = text.splitlines()
    start1 = _find(lines, lambda line: line.startswith("一、人社领域社会保障卡"))
    start2 = _find(lines, lambda line: line.startswith("二、其他民生保障领域"), start1)
    stop = _find(lines, lambda line: line.strip() == "附件2", start2)
    # Table 1 rows open with the 业务领域 cell, one cell before the 序号.
    table1 = split_records(tab_cells(lines, start1, start2), seq_column=1)
    table2 = split_records(tab_cells(lines, start2, stop), seq_column=0)
    return [
        Table([_liangping_hrss_row(record) for record in table1], ("business_domain",)),
        Table([_liangping_other_row(record) for record in table2], ()),
    ]


def _liangping_hrss_row(record: list[Cell]) -> Row:
    texts = [cell.text for cell in record]
    if len(texts) != 8:
        raise ExtractionError(f"seed line {record[0].line}: table 1 row of {len(texts)} cells")
    domain, seq, name, description, function_class = (join_lines(text) for text in texts[:5])
    completion = {"physical": join_lines(texts[6], " "), "electronic": join_lines(texts[7], " ")}
    return Row(
        jurisdiction="500155",
        seq=f"A{seq}",
        line=record[1].line,
        kind="service",
        lead_departments=[LIANGPING_HRSS],
        cooperating_departments=[],
        name=name,
        description=description,
        card_forms=card_forms(texts[5]),
        categories=liangping_categories(function_class, name, description),
        plan=_note_plan(_TABLE1_NOTE.format(**completion)),
        function_classes=[function_class],
        completion=completion,
        business_domain=domain or None,
    )


def _liangping_other_row(record: list[Cell]) -> Row:
    texts = [cell.text for cell in record]
    if len(texts) != 7:
        raise ExtractionError(f"seed line {record[0].line}: table 2 row of {len(texts)} cells")
    seq, name, description, function_class = (join_lines(text) for text in texts[:4])
    municipal = _sector_names(join_lines(texts[5]))
    district = [squeeze(part) for part in texts[6].splitlines() if part.strip()]
    return Row(
        jurisdiction="500155",
        seq=f"B{seq}",
        line=record[0].line,
        kind="service",
        # The district unit answers for the item in Liangping; items 44-45 name none at all.
        lead_departments=district[:1],
        cooperating_departments=district[1:],
        name=name,
        description=description,
        card_forms=card_forms(texts[4]),
        categories=liangping_categories(function_class, name, description),
        plan=_note_plan(_TABLE2_NOTE),
        function_classes=[function_class],
        extras={"municipal_departments": municipal, "district_departments": district},
    )


def _sector_names(text: str) -> list[str]:
    """市级相关单位 lists sectors one per line, some split mid-name ("退役军人" / "事务部门");
    every sector name ends in 部门 or 机构, so the joined text splits there."""
    return re.findall(r".+?(?:部门|机构)|.+", text)


def _note_plan(note: str) -> Plan:
    return Plan(note=note)


# ------------------------------------------------------- Shapingba (沙坪坝) pilot scenarios

_SCENARIO = re.compile(r"^\s*([1-9])．\s*(.+?)。(.*)$")
_LABELS = {"牵头单位": "leads", "配合单位": "cooperating", "主要任务": "main_task", "完成时限": "deadline"}


def parse_shapingba(text: str) -> list[Table]:
    """The three pilot scenarios of section (四); each has the same labelled lines."""
    lines = text.splitlines()
    start = _find(lines, lambda line: line.startswith("（四）推进重点应用场景"))
    stop = _find(lines, lambda line: line.startswith("（五）"), start)
    scenarios: list[dict[str, str | int]] = []
    for index in range(start, stop):
        line = lines[index].strip()
        heading = _SCENARIO.match(line)
        if heading:
            number, name, rest = heading.groups()
            scenarios.append({"seq": int(number), "line": index + 1, "name": name, "description": rest})
        elif scenarios and "：" in line and line.split("：", 1)[0] in _LABELS:
            label, value = line.split("：", 1)
            scenarios[-1][_LABELS[label]] = value.strip()
    return [Table([_scenario_row(scenario) for scenario in scenarios], ())]


def _scenario_row(scenario: dict[str, str | int]) -> Row:
    text = f"{scenario['description']}{scenario['main_task']}"
    found = shapingba_categories(text)
    leads = str(scenario["leads"]).split("、")
    return Row(
        jurisdiction="500106",
        seq=int(scenario["seq"]),
        line=int(scenario["line"]),
        kind="service",
        lead_departments=leads,
        cooperating_departments=str(scenario["cooperating"]).split("、"),
        name=str(scenario["name"]),
        description=str(scenario["description"]),
        card_forms=shapingba_card_forms(found),
        categories=found,
        plan=_note_plan(f"试点场景，完成时限：{scenario['deadline']}"),
        extras={"main_task": scenario["main_task"], "deadline": scenario["deadline"]},
    )


def shapingba_categories(text: str) -> list[str]:
    """The pilot names no 应用类别: a scenario using the card as 身份凭证 is identity; one paying
    money into the card's 金融账户 is a disbursement."""
    found = []
    if "身份凭证" in text:
        found.append("identity")
    if "金融账户" in text:
        found.append("disbursement")
    return found


def shapingba_card_forms(found: Sequence[str]) -> list[str]:
    """The pilot defines 社保卡 as including the e-card (seed line 24), and the identity scenario
    accepts 渝快码, which carries the e-card; money is paid into the physical card's bank account."""
    forms = ["physical"]
    if "identity" in found:
        forms.append("electronic")
    return forms
