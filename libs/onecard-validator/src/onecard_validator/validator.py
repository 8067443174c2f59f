"""The reference offline validator: decides every tap alone from its bundle, queues it on its own
disk, and talks to the platform only to refresh the bundle and upload the queue.

    validator = Validator(Path("/var/lib/validator"), "https://onecard.example", token, "V1", "T1")
    await validator.refresh()          # the signed bundle (a delta after the first)
    decision = validator.tap_code(qr)  # accepted or refused on the spot, queued durably
    await validator.upload()           # when the platform is reachable; safe to repeat

Nothing here needs the network to answer a tap; `refresh` and `upload` report an unreachable
platform instead of raising, so a terminal loop calls them whenever it likes.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from onecard_contracts.offline_bundle import (
    BUNDLE_KEY_USE,
    Bundle,
    BundleInvalid,
    bundle_from_claims,
    bundle_kid,
    read_bundle,
)
from onecard_contracts.offline_taps import OfflineDecision, decide_card, decide_code

from .queue import TapQueue

UPLOAD_BATCH = 500
# A code's use is remembered past its 60 s plus the skew: a replay later is refused as expired.
USED_CODE_SECONDS = 600


class PlatformError(RuntimeError):
    """The platform answered, but refused (a bad credential, a malformed upload)."""


@dataclass(frozen=True)
class UploadReport:
    sent: int  # taps the platform acknowledged in this call
    recorded: int  # of which it recorded now (the rest it had from an earlier upload)
    findings: dict[str, int]
    pending: int  # still queued
    reachable: bool


class Validator:
    def __init__(
        self,
        data_dir: Path,
        base_url: str,
        token: str,
        venue_id: str,
        terminal_id: str,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 10.0,
    ) -> None:
        self.queue = TapQueue(data_dir)
        self.base_url = base_url.rstrip("/")
        self.venue_id = venue_id
        self.terminal_id = terminal_id
        self.clock = clock
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = timeout

    def close(self) -> None:
        self.queue.close()

    def bundle(self) -> Bundle | None:
        kept = self.queue.bundle()
        return bundle_from_claims(kept[0]) if kept else None

    # -- deciding alone -------------------------------------------------------------------------

    def tap_code(self, qr: str, now: float | None = None) -> OfflineDecision:
        at = self.clock() if now is None else now
        bundle = self.bundle()
        decision = decide_code(bundle, qr, int(at), self.queue.code_used)
        use = (decision.nonce, int(at) + USED_CODE_SECONDS) if decision.accepted and decision.nonce else None
        self.queue.record(
            _rfc3339(at), "electronic", decision.accepted, decision.reason, _of(bundle), qr=qr, nonce=use
        )
        return decision

    def tap_card(
        self, card_no: str, ssn: str, name: str, issuer_region: str, now: float | None = None
    ) -> OfflineDecision:
        at = self.clock() if now is None else now
        bundle = self.bundle()
        decision = decide_card(bundle, card_no, issuer_region, int(at))
        card = {"card_no": card_no, "ssn": ssn, "name": name, "issuer_region": issuer_region}
        self.queue.record(
            _rfc3339(at), "physical", decision.accepted, decision.reason, _of(bundle), card=card
        )
        return decision

    # -- talking to the platform ------------------------------------------------------------------

    async def refresh(self) -> bool:
        """Fetch the bundle (a delta after the version kept); False when the platform is unreachable."""
        current = self.bundle()
        try:
            async with self._client() as client:
                params: dict[str, Any] = {"venue_id": self.venue_id}
                if current is not None:
                    params["since"] = current.version
                answer = _ok(await client.get("/identity/v1/offline-bundle", params=params))
                # After the bundle: the platform makes its bundle key with the first bundle.
                keys = _ok(await client.get("/identity/v1/keys"))
        except httpx.TransportError:
            return False
        token = str(answer["bundle"])
        kid = bundle_kid(token)
        listed = [k for k in keys if k.get("use") == BUNDLE_KEY_USE and k.get("kid") == kid]
        if not listed:
            raise BundleInvalid(f"the platform lists no bundle key {kid}")
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(listed[0]["public_key"]))
        fetched = read_bundle(token, public)
        merged = current.merged(fetched) if current is not None and fetched.since is not None else fetched
        self.queue.keep_bundle(merged.as_claims(), listed[0]["public_key"])
        self.queue.forget_used_codes(int(self.clock()))
        return True

    async def upload(self, batch: int = UPLOAD_BATCH) -> UploadReport:
        """Send the queued taps in order, a batch at a time; a batch the platform acknowledged is
        marked sent. Repeating it after a crash or a lost answer is safe: the platform records a
        (terminal, sequence) once and answers a repeat from its record."""
        sent = recorded = 0
        findings: dict[str, int] = {}
        reachable = True
        try:
            async with self._client() as client:
                while pending := self.queue.pending(batch):
                    body = {
                        "venue_id": self.venue_id,
                        "terminal_id": self.terminal_id,
                        "taps": [t.as_upload() for t in pending],
                    }
                    answers = _ok(await client.post("/identity/v1/offline-verifications", json=body))["taps"]
                    self.queue.mark_uploaded([int(a["sequence"]) for a in answers])
                    sent += len(answers)
                    recorded += sum(1 for a in answers if a["recorded"])
                    for a in answers:
                        if a["finding"]:
                            findings[a["finding"]] = findings.get(a["finding"], 0) + 1
        except httpx.TransportError:
            reachable = False
        return UploadReport(sent, recorded, findings, self.queue.counts()["pending"], reachable)

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=self._timeout)


def _ok(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise PlatformError(f"{response.request.method} {response.request.url.path}: {response.status_code}")
    return response.json()


def _of(bundle: Bundle | None) -> tuple[int, int] | None:
    return (bundle.version, bundle.iat) if bundle is not None else None


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
