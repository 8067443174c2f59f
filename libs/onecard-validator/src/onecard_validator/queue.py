"""The validator's own disk: its bundle, its single-use cache and its queue of taps, in one SQLite
file written with a full fsync per commit (WAL, `synchronous=FULL`), so a tap answered is a tap
kept, whatever happens to the power or the process.

A physical card's fields (card number, ssn, name) are kept encrypted (AES-GCM) with a key of the
validator's own (`queue.key`, mode 0600), never in clear at rest; a code is kept as read.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = """
CREATE TABLE IF NOT EXISTS bundle (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    token TEXT NOT NULL,        -- the last full or merged bundle, as claims JSON
    platform_key TEXT NOT NULL  -- the platform's bundle key it was checked with (base64)
);
CREATE TABLE IF NOT EXISTS used_codes (nonce TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS taps (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TEXT NOT NULL,
    method TEXT NOT NULL,
    qr TEXT,
    card_enc TEXT,
    bundle_version INTEGER,
    bundle_issued_at INTEGER,
    verified INTEGER NOT NULL,
    reason TEXT,
    uploaded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_taps_pending ON taps (uploaded, sequence);
"""


@dataclass(frozen=True)
class QueuedTap:
    sequence: int
    occurred_at: str
    method: str
    qr: str | None
    card: dict[str, str] | None
    bundle_version: int | None
    bundle_issued_at: int | None
    verified: bool
    reason: str | None

    def as_upload(self) -> dict[str, Any]:
        """The tap as POST /identity/v1/offline-verifications takes it."""
        fields = {k: v for k, v in asdict(self).items() if v is not None and k not in ("verified", "reason")}
        return fields | {"decision": {"verified": self.verified, "reason": self.reason}}


class TapQueue:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._cipher = AESGCM(_key(directory / "queue.key"))
        self._db = sqlite3.connect(directory / "validator.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # fsync at every commit
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- the bundle ---------------------------------------------------------------------------

    def bundle(self) -> tuple[dict[str, Any], str] | None:
        row = self._db.execute("SELECT token, platform_key FROM bundle WHERE id = 1").fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def keep_bundle(self, claims: dict[str, Any], platform_key: str) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO bundle (id, token, platform_key) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET token = excluded.token, platform_key = excluded.platform_key",
                (json.dumps(claims), platform_key),
            )

    # -- taps ---------------------------------------------------------------------------------

    def code_used(self, nonce: str) -> bool:
        return self._db.execute("SELECT 1 FROM used_codes WHERE nonce = ?", (nonce,)).fetchone() is not None

    def record(
        self,
        occurred_at: str,
        method: str,
        verified: bool,
        reason: str | None,
        bundle: tuple[int, int] | None,
        *,
        qr: str | None = None,
        card: dict[str, str] | None = None,
        nonce: tuple[str, int] | None = None,
    ) -> int:
        """Queue a tap (and its code's use) durably; returns its sequence number."""
        card_enc = self._seal(json.dumps(card)) if card is not None else None
        version, issued_at = bundle if bundle is not None else (None, None)
        with self._transaction() as db:
            if nonce is not None:
                db.execute("INSERT OR IGNORE INTO used_codes (nonce, expires_at) VALUES (?, ?)", nonce)
            cursor = db.execute(
                "INSERT INTO taps (occurred_at, method, qr, card_enc, bundle_version, bundle_issued_at,"
                " verified, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (occurred_at, method, qr, card_enc, version, issued_at, int(verified), reason),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def pending(self, limit: int) -> list[QueuedTap]:
        rows = self._db.execute(
            "SELECT sequence, occurred_at, method, qr, card_enc, bundle_version, bundle_issued_at, verified,"
            " reason FROM taps WHERE uploaded = 0 ORDER BY sequence LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            QueuedTap(
                r[0],
                r[1],
                r[2],
                r[3],
                json.loads(self._open(r[4])) if r[4] else None,
                r[5],
                r[6],
                bool(r[7]),
                r[8],
            )
            for r in rows
        ]

    def mark_uploaded(self, sequences: list[int]) -> None:
        with self._transaction() as db:
            db.executemany("UPDATE taps SET uploaded = 1 WHERE sequence = ?", [(s,) for s in sequences])

    def forget_used_codes(self, before: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM used_codes WHERE expires_at < ?", (before,))

    def counts(self) -> dict[str, int]:
        total, pending = self._db.execute(
            "SELECT count(*), coalesce(sum(1 - uploaded), 0) FROM taps"
        ).fetchone()
        return {"taps": int(total), "pending": int(pending)}

    def _seal(self, text: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(
            nonce + self._cipher.encrypt(nonce, text.encode(), b"onecard-validator-card")
        ).decode()

    def _open(self, token: str) -> str:
        raw = base64.b64decode(token)
        return self._cipher.decrypt(raw[:12], raw[12:], b"onecard-validator-card").decode()


def _key(path: Path) -> bytes:
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(AESGCM.generate_key(bit_length=256))
            file.flush()
            os.fsync(file.fileno())
    return path.read_bytes()
