"""What the benchmarks share. Importing it puts the repository root on sys.path, so that a benchmark
run as a script (`.venv/bin/python bench/<name>.py`, from the repository root) can import
`tests.support`, where the set-up the tests use lives (databases, processes, people, catalogue)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's argument parser, its description the module's docstring."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile (0 to 100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
