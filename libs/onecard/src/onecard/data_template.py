"""A prepared data directory for the embedded default: migrated, catalogue seeded, views applied.

A fresh `onecard up` spends most of its start migrating five SQLite files, publishing the official
catalogues and letting four views apply them: the same work, with the same result, on every fresh
data directory. So the result is kept once per machine and per build of the code (a fingerprint of
the packages' files) under `~/.cache/onecard/embedded/`, and a fresh data directory starts as a
copy of it. What the template holds is public and the same everywhere: the official catalogues and
their projections. Never keys (`secrets.json` is made per data directory) and never a client's
write: the template is built by its own process in its own directory, never copied from a data
directory that has served requests (ADR 0014, "Start to ready").

The first fresh start on a machine (or after an upgrade) finds no template, starts the slow way
and leaves a builder behind it, in the background at low priority; later fresh starts copy.
`ONECARD_DATA_TEMPLATE=off` turns it off.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

# What shapes the files: schemas (migrations), the seeded catalogue and the projections' code.
PACKAGES = (
    "onecard_events",
    "onecard_service",
    "onecard_contracts",
    "onecard_catalog",
    "onecard_identity",
    "onecard_payments",
    "onecard_disbursement",
    "onecard_reporting",
)
SUFFIXES = {".py", ".json", ".csv", ".txt", ".yaml", ".sql"}
DATABASE_FILES = "*.db"


def enabled() -> bool:
    return os.environ.get("ONECARD_DATA_TEMPLATE", "on").lower() not in {"off", "0", "false", "no"}


@functools.cache
def fingerprint() -> str:
    """A digest of every source and data file of the packages that shape the data files, and of
    the settings that do (the region, its partners)."""
    from onecard_service.settings import Settings

    settings = Settings.from_env()
    digest = hashlib.sha256(f"{sys.version} {settings.region} {settings.partners}".encode())
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)  # finds without importing
        if spec is None or not spec.submodule_search_locations:
            continue
        for root in spec.submodule_search_locations:
            for path in sorted(Path(root).rglob("*")):
                if path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                    digest.update(str(path.relative_to(root)).encode())
                    digest.update(path.read_bytes())
    return digest.hexdigest()[:20]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "onecard" / "embedded"


def is_fresh(data_dir: Path) -> bool:
    return not any(data_dir.glob(DATABASE_FILES))


def copy_into(data_dir: Path, print_: bool = False) -> bool:
    """On a fresh data directory, copy the template's files in; True when it did (the files are
    then migrated to this code's head and their views current)."""
    if not enabled() or not is_fresh(data_dir):
        return False
    template = cache_root() / fingerprint()
    files = sorted(template.glob(DATABASE_FILES)) if template.is_dir() else []
    if not files:
        return False
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    partials = [data_dir / f".{file.name}.partial" for file in files]
    try:
        # Under temporary names first: a start killed mid-copy leaves no half file that looks
        # like a database.
        for file, partial in zip(files, partials, strict=True):
            shutil.copyfile(file, partial)
            partial.chmod(0o600)
    except OSError as exc:  # the template replaced by a newer build meanwhile: start the slow way
        log.warning("onecard: data template not copied (%s); migrating instead", exc)
        for partial in partials:
            partial.unlink(missing_ok=True)
        return False
    for file, partial in zip(files, partials, strict=True):
        partial.replace(data_dir / file.name)
    return True


def build_in_background() -> None:
    """Leave a low-priority process building the template for this code, unless one exists."""
    if not enabled() or (cache_root() / fingerprint()).is_dir():
        return
    subprocess.Popen(
        [sys.executable, "-m", "onecard.data_template"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives the server that left it (a test stopping `onecard up`)
        preexec_fn=lambda: os.nice(10),
        env={**os.environ, "ONECARD_DATA_TEMPLATE": "off"},
    )


async def _prepare(directory: Path) -> None:
    """Start and stop every service on `directory`, without serving: migrated, seeded, views
    current."""
    from onecard_service.platform import Platform
    from onecard_service.settings import Settings

    from .composition import PrefixDispatcher, build_services, start_all, stop_all

    platform = Platform(Settings.from_env(data_dir=directory, database_url=None, kafka_bootstrap=None))
    runtimes = build_services(platform)
    await start_all(runtimes, migrate=True)
    whole = PrefixDispatcher(runtimes, migrate=True)
    while True:
        if (await whole.readiness())[0] == 200:
            break
        await asyncio.sleep(0.05)  # as `onecard up` waits to say it is ready
    await stop_all(runtimes)


def build() -> Path | None:
    """Build the template for this code (one builder at a time per machine); its directory."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = root / fingerprint()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when this process ends, however it ends
        if target.is_dir():
            return target
        work = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
        try:
            asyncio.run(_prepare(work))
            for leftover in work.iterdir():
                if leftover.suffix != ".db":
                    leftover.unlink()  # secrets.json above all: keys belong to one data directory
            work.rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for stale in root.iterdir():  # templates of earlier builds of the code
            if stale.is_dir() and stale != target:
                shutil.rmtree(stale, ignore_errors=True)
    return target


if __name__ == "__main__":
    built = build()
    print(f"onecard: data template in {built}")
