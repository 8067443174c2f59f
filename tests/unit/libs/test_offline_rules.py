"""The offline bundle and a validator's decisions (onecard_contracts.offline_bundle, offline_taps)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from onecard_contracts.ecard_code import QrClaims, card_subject, sign_qr
from onecard_contracts.offline_bundle import Bundle, BundleInvalid, CodeKey, read_bundle, sign_bundle
from onecard_contracts.offline_taps import decide_card, decide_code
from onecard_validator.cli import main

NOW = 1_800_000_000
OURS, PARTNER = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()


def _raw(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def bundle(hotlist: dict[str, str] | None = None, version: int = 7, since: int | None = None) -> Bundle:
    keys = (CodeKey("500000", "k1", _raw(OURS)), CodeKey("510000", "p1", _raw(PARTNER)))
    return Bundle.issued("500000", "V1", version, since, NOW, ("500000", "510000"), keys, hotlist or {})


def code(card_no: str, *, iss: str = "500000", reg: str = "500240", iat: int = NOW, jti: str = "n1") -> str:
    claims = QrClaims(iss, card_subject(iss, card_no), reg, iat, iat + 60, jti)
    return sign_qr(claims, "k1" if iss == "500000" else "p1", OURS if iss == "500000" else PARTNER)


def test_a_bundle_is_signed_and_read_back_and_refused_when_tampered() -> None:
    platform = Ed25519PrivateKey.generate()
    token = sign_bundle(bundle({"abc": "lost"}), "b1", platform)
    assert read_bundle(token, platform.public_key()) == bundle({"abc": "lost"})
    head, body, signature = token.split(".")
    with pytest.raises(BundleInvalid):
        read_bundle(f"{head}.{body}x.{signature}", platform.public_key())
    with pytest.raises(BundleInvalid):
        read_bundle(token, Ed25519PrivateKey.generate().public_key())


def test_a_delta_brings_a_bundle_up_to_its_version() -> None:
    base = bundle({"a": "lost", "b": "cancelled"}, version=3)
    delta = bundle({"a": "active", "c": "lost"}, version=5, since=3)
    merged = base.merged(delta)
    assert (merged.version, merged.since, merged.hotlist) == (5, None, {"b": "cancelled", "c": "lost"})
    with pytest.raises(BundleInvalid):
        bundle(version=2).merged(delta)  # the delta starts after what this validator has


def test_offline_decisions_in_order() -> None:
    lost = card_subject("500000", "B00000001")
    b = bundle({lost: "lost", card_subject("510000", "S00000001"): "cancelled"})
    never = lambda nonce: False  # noqa: E731
    assert decide_code(b, code("B00000002"), NOW + 10, never).accepted
    assert decide_code(b, code("B00000001"), NOW, never).reason == "card_lost"
    assert (
        decide_code(b, code("S00000001", iss="510000", reg="510100"), NOW, never).reason
        == "partner_hotlisted"
    )
    assert decide_code(b, code("B00000002"), NOW, lambda nonce: True).reason == "qr_reused"
    assert decide_code(b, "not-a-code", NOW, never).reason == "qr_malformed"
    forged = sign_qr(QrClaims("500000", "x", "500240", NOW, NOW + 60, "n"), "k1", PARTNER)
    assert decide_code(b, forged, NOW, never).reason == "qr_bad_signature"
    # The stated clock-skew tolerance: 30 s either side of the code's window.
    assert decide_code(b, code("B00000002"), NOW + 60 + 29, never).accepted
    assert decide_code(b, code("B00000002"), NOW + 60 + 30, never).reason == "qr_expired"
    assert decide_code(b, code("B00000002", iat=NOW + 30), NOW, never).accepted
    # Past the bundle's validity (12 h, plus the skew), or without one: no offline use.
    assert decide_code(b, code("B00000002", iat=b.exp), b.exp + 30, never).reason == "bundle_expired"
    assert decide_code(None, code("B00000002"), NOW, never).reason == "bundle_expired"
    assert decide_card(b, "B00000002", "500240", NOW).accepted
    assert decide_card(b, "B00000001", "500240", NOW).reason == "card_lost"
    assert decide_card(b, "G00000001", "520100", NOW).reason == "unknown_issuer"
    assert decide_card(b, "short", "500240", NOW).reason == "invalid_card"


def test_the_validator_cli_decides_and_queues_without_a_network(tmp_path: Path, capsys: Any) -> None:
    """No bundle yet: refused offline, but queued (encrypted) for the upload all the same."""
    where = ["--data", str(tmp_path), "--url", "http://127.0.0.1:9", "--venue", "V", "--terminal", "T"]
    assert main([*where, "tap-card", "B00000001", "500240199001011234", "张三", "500240"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "accepted": False,
        "reason": "bundle_expired",
        "nonce": None,
    }
    assert main([*where, "refresh"]) == 0  # nothing listens on port 9
    assert json.loads(capsys.readouterr().out) == {"refreshed": False}
    assert main([*where, "status"]) == 0
    assert json.loads(capsys.readouterr().out) == {"bundle": None, "taps": 1, "pending": 1}
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"B00000001" not in stored and "张三".encode() not in stored
