"""Extracts the catalogues of the seed documents into the JSON files of this package.

    python -m onecard_catalog.adapters.catalogue_data.extract [--seeds DIR] [--check]

Without --check the JSON files next to this module are rewritten; with --check nothing is
written and the exit status is 1 when a committed file differs from a fresh extraction.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onecard_catalog.adapters.catalogue_data._model import (
    ExtractionError,
    Item,
    apply_corrections,
    carry_over,
    to_item,
    validate,
)
from onecard_catalog.adapters.catalogue_data._seeds import (
    Table,
    parse_dazu,
    parse_liangping,
    parse_municipal,
    parse_shapingba,
    parse_shizhu,
)

PACKAGE_DIR = Path(__file__).resolve().parent
CORRECTIONS = PACKAGE_DIR / "corrections.json"


@dataclass(frozen=True)
class Catalogue:
    code: str
    seed: str  # file name in the seeds directory
    source: str  # the document the catalogue comes from
    parse: Callable[[str], list[Table]]


CATALOGUES = (
    Catalogue("500000", "001_5b8ba464fee2f925.txt", "渝府办发〔2024〕73号", parse_municipal),
    Catalogue("500106", "002_7b52d31b73a606cc.txt", "沙府办发〔2022〕107号", parse_shapingba),
    Catalogue("500111", "003_e639bd90d0f0f86c.txt", "大足府办发〔2024〕110号", parse_dazu),
    # The Liangping notice carries no document number; it is cited by issuer, date and annex.
    Catalogue(
        "500155",
        "004_c6915c1302b1b8b8.txt",
        "重庆市梁平区人力资源和社会保障局2021年7月19日通知 附件1（2020年版应用目录）",
        parse_liangping,
    ),
    Catalogue("500240", "000_365026246c868884.txt", "石柱府办发〔2025〕11号", parse_shizhu),
)

JURISDICTIONS: list[dict[str, str]] = [
    {"code": "500000", "name": "重庆市", "kind": "municipal"},
    {"code": "500106", "name": "沙坪坝区", "kind": "district"},
    {"code": "500111", "name": "大足区", "kind": "district"},
    {"code": "500155", "name": "梁平区", "kind": "district"},
    {"code": "500240", "name": "石柱土家族自治县", "kind": "county"},
    {"code": "510000", "name": "四川省", "kind": "partner"},
]


def default_seeds_dir(start: Path = PACKAGE_DIR) -> Path | None:
    """The shared seeds sit beside the repository (`<repo>/../shared/seeds`); walk up to them."""
    for directory in (start, *start.parents):
        candidate = directory / "shared" / "seeds"
        if candidate.is_dir():
            return candidate
    return None


def load_corrections(path: Path = CORRECTIONS) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


def extract_catalogue(catalogue: Catalogue, seeds: Path, corrections: Sequence[dict[str, Any]]) -> list[Item]:
    """Parse → corrections → carry-over of merged cells → checks → JSON items, table by table."""
    text = (seeds / catalogue.seed).read_text(encoding="utf-8")
    items: list[Item] = []
    for table in catalogue.parse(text):
        # Corrections come before the carry-over so that a corrected cell also reaches the rows
        # merged with it (e.g. municipal item 30's department is carried to items 31-32).
        apply_corrections(table.rows, corrections)
        carry_over(table.rows, table.carry)
        for row in table.rows:
            validate(row)
            items.append(to_item(row, catalogue.source))
    return items


def render(seeds: Path, corrections: Sequence[dict[str, Any]] | None = None) -> dict[str, str]:
    """File name → JSON text of every file this package ships."""
    entries = load_corrections() if corrections is None else corrections
    _check_correction_ids(entries)
    files = {"jurisdictions.json": _dumps(JURISDICTIONS)}
    for catalogue in CATALOGUES:
        items = extract_catalogue(catalogue, seeds, entries)
        files[f"{catalogue.code}.json"] = _dumps(items)
    return files


def _check_correction_ids(entries: Sequence[dict[str, Any]]) -> None:
    codes = {catalogue.code for catalogue in CATALOGUES}
    for entry in entries:
        if str(entry.get("item_id", "")).split(":")[0] not in codes:
            raise ExtractionError(f"correction for an unknown catalogue: {entry!r}")


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def check(files: dict[str, str], directory: Path = PACKAGE_DIR) -> list[str]:
    """Names of the committed files that differ from the fresh extraction."""
    stale = []
    for name, text in files.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seeds", type=Path, default=None, help="the seeds directory (default: ../shared/seeds)"
    )
    parser.add_argument("--check", action="store_true", help="compare with the committed JSON, write nothing")
    args = parser.parse_args(argv)
    seeds: Path | None = args.seeds or default_seeds_dir()
    if seeds is None or not seeds.is_dir():
        print("seeds directory not found; pass --seeds DIR", file=sys.stderr)
        return 2
    files = render(seeds)
    if args.check:
        stale = check(files)
        for name in stale:
            print(f"{name} differs from a fresh extraction of {seeds}", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        (PACKAGE_DIR / name).write_text(text, encoding="utf-8")
    counts = ", ".join(f"{name}: {len(json.loads(text))}" for name, text in files.items())
    print(f"wrote {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
