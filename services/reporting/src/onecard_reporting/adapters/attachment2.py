"""Liangping's 附件2 form, 社会保障卡“一卡通”应用落实情况, in its layout: the HR&SS table
(业务领域, 序号, 应用项目, 业务场景说明, 功能分类, 应用落实情况: 实体卡 / 电子卡) and the table of the
other fields (序号 … 区级落实情况: 实体卡 / 电子卡), filled from the progress rows."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from ..domain.levels import LOCAL

STATES = {"met": "已落实", "behind": "推进中", "no_plan": "已落实", "not_applicable": "不适用"}
HRSS_TITLE = "人社领域社会保障卡“一卡通”应用项目落实情况表"
OTHER_TITLE = "其他民生保障领域社会保障卡“一卡通”参考应用项目"


def completion(level: int | None, state: str) -> str:
    """A cell of 落实情况: 不适用 for a form the item does not take, else the level reached."""
    if state == "not_applicable" or level is None:
        return STATES["not_applicable"]
    if level == 0:
        return "未落实"
    return f"{STATES.get(state, state)}（{level}级）"


def form_rows(rows: list[dict[str, Any]], table: str) -> list[list[Any]]:
    """The body rows of one table (A: HR&SS, B: other fields), in catalogue order."""
    out = []
    for r in rows:
        seq = str(r["item_id"]).partition(":")[2]
        if not seq.startswith(table):
            continue
        cells = [
            seq[1:],
            r["name"],
            r.get("description", ""),
            "、".join(r.get("function_classes") or []),
            completion(r["physical_level"], r["physical_status"]),
            completion(r["ecard_level"], r["ecard_status"]),
        ]
        out.append([r.get("business_domain") or "", *cells] if table == "A" else cells)
    return out


def to_attachment2(rows: list[dict[str, Any]], unit: str, at: datetime) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "附件2"
    local = at.astimezone(LOCAL)
    sheet.append([f"{unit}社会保障卡“一卡通”应用落实情况"])
    sheet.append([f"填报时间：{local.year}年{local.month}月"])
    sheet.merge_cells("A1:G1")
    sheet.merge_cells("A2:G2")
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["A1"].alignment = Alignment(horizontal="center")
    for title, table, head in (
        (HRSS_TITLE, "A", ["业务领域", "序号", "应用项目", "业务场景说明", "功能分类", "应用落实情况"]),
        (OTHER_TITLE, "B", ["序号", "应用项目", "业务场景说明", "功能分类", "区级落实情况"]),
    ):
        sheet.append([])
        sheet.append([title])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        sheet.append(head)
        first = sheet.max_row
        width = len(head) + 1  # the last heading spans 实体卡 and 电子卡
        sheet.merge_cells(start_row=first, start_column=len(head), end_row=first, end_column=width)
        sheet.append([""] * (len(head) - 1) + ["实体卡", "电子卡"])
        for column in range(1, len(head)):
            sheet.merge_cells(start_row=first, start_column=column, end_row=first + 1, end_column=column)
        for row in form_rows(rows, table):
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
