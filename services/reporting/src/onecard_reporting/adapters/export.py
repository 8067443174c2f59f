"""The progress report as CSV or XLSX (the half-yearly form: per item, both card forms)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

COLUMNS = (
    ("item_id", "事项编号 item"),
    ("name", "服务事项 name"),
    ("jurisdiction", "地区 jurisdiction"),
    ("department", "责任单位 department"),
    ("categories", "应用类别 categories"),
    ("achieved_level", "已达深度 achieved level"),
    ("planned_level", "计划深度 planned level"),
    ("status", "状态 status"),
    ("physical_level", "实体卡深度 physical level"),
    ("physical_status", "实体卡状态 physical status"),
    ("ecard_level", "电子卡深度 e-card level"),
    ("ecard_status", "电子卡状态 e-card status"),
)


def _cell(value: Any) -> Any:
    return "" if value is None else value


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([key for key, _ in COLUMNS])
    for row in rows:
        writer.writerow([_cell(row.get(key)) for key, _ in COLUMNS])
    return out.getvalue()


def to_xlsx(rows: list[dict[str, Any]], year: int, as_of: datetime, summary: dict[str, Any]) -> bytes:
    from openpyxl import Workbook  # on first export: its import is a third of a second of start

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"progress {year}"
    sheet.append([title for _, title in COLUMNS])
    for row in rows:
        sheet.append([_cell(row.get(key)) for key, _ in COLUMNS])
    sheet.freeze_panes = "A2"
    about = book.create_sheet("about")
    about.append(["year", year])
    about.append(["as_of", as_of.isoformat()])
    for key, value in summary.items():
        about.append([key, _cell(value)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
