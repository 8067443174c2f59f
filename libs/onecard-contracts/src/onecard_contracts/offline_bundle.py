"""The offline bundle: what a validator needs to decide alone, signed by the platform.

Format (docs/offline-validators.md): a compact JWS like the e-card code, header
{"alg":"EdDSA","typ":"onecard-offline-bundle","kid":...}, signed with the platform's bundle key
(published at GET /identity/v1/keys with `use: "offline-bundle"`); the claims carry the e-card
public keys (ours and partners', by kid), the hotlist by card subject (never a card number), a
validity window and a version. A delta (`since` set) lists only the hotlist entries changed after
that version, `active` ones included, so that a validator on a thin link fetches little.
Identity produces bundles; validators (libs/onecard-validator) read and merge them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .ecard_code import QrMalformed, _b64, _unb64

BUNDLE_TYP = "onecard-offline-bundle"
BUNDLE_KEY_USE = "offline-bundle"
# How long a bundle may be used offline after it was issued: a bus on a mountain road is cut off
# for minutes or hours, rarely a whole day.
VALIDITY_SECONDS = 12 * 3600
# The validator's clock against the code's iat/exp and the bundle's window: terminals drift more
# than servers, and a tap is judged on the terminal's own clock (docs/offline-validators.md).
OFFLINE_CLOCK_SKEW_SECONDS = 30
HotlistStatus = Literal["lost", "cancelled", "active"]


class BundleInvalid(ValueError):
    pass


@dataclass(frozen=True)
class CodeKey:
    iss: str  # the region's province code
    kid: str
    public_key: str  # base64 of the 32 raw Ed25519 bytes


@dataclass(frozen=True)
class Bundle:
    iss: str  # the platform's region
    venue_id: str
    version: int  # the hotlist version this bundle brings the validator to
    since: int | None  # a delta from this version; None for a full bundle
    iat: int
    nbf: int  # valid from (Unix seconds)
    exp: int  # valid until
    skew: int
    regions: tuple[str, ...]  # the province codes whose cards are accepted: ours and partners'
    code_keys: tuple[CodeKey, ...]
    hotlist: dict[str, HotlistStatus] = field(default_factory=dict)  # card subject -> status

    @classmethod
    def issued(
        cls,
        iss: str,
        venue_id: str,
        version: int,
        since: int | None,
        now: int,
        regions: tuple[str, ...],
        code_keys: tuple[CodeKey, ...],
        hotlist: dict[str, HotlistStatus],
    ) -> Bundle:
        """A bundle issued at `now`, valid for VALIDITY_SECONDS with the offline skew."""
        window = {"iat": now, "nbf": now, "exp": now + VALIDITY_SECONDS, "skew": OFFLINE_CLOCK_SKEW_SECONDS}
        return cls(
            iss, venue_id, version, since, regions=regions, code_keys=code_keys, hotlist=hotlist, **window
        )

    def as_claims(self) -> dict[str, Any]:
        """The JSON claims: the fields as named, the hotlist as a list of {sub, status}."""
        claims = asdict(self)
        claims["hotlist"] = [{"sub": sub, "status": status} for sub, status in sorted(self.hotlist.items())]
        return claims

    def valid_at(self, now: int) -> bool:
        return self.nbf - self.skew <= now < self.exp + self.skew

    def hotlisted(self, subject: str) -> HotlistStatus | None:
        status = self.hotlist.get(subject)
        return status if status in ("lost", "cancelled") else None

    def merged(self, delta: Bundle) -> Bundle:
        """This bundle brought up to `delta` (a full bundle replaces it). A delta applies to any
        base at or past its `since`: each entry is its card's latest status."""
        if delta.since is None:
            return delta
        if delta.since > self.version:
            raise BundleInvalid(f"delta since {delta.since} does not apply to version {self.version}")
        hotlist = {**self.hotlist, **delta.hotlist}
        kept: dict[str, HotlistStatus] = {sub: s for sub, s in hotlist.items() if s != "active"}
        return replace(delta, since=None, hotlist=kept)


def sign_bundle(bundle: Bundle, kid: str, key: Ed25519PrivateKey) -> str:
    header = {"alg": "EdDSA", "typ": BUNDLE_TYP, "kid": kid}
    head = _b64(json.dumps(header, separators=(",", ":")).encode())
    body = _b64(json.dumps(bundle.as_claims(), separators=(",", ":")).encode())
    return f"{head}.{body}.{_b64(key.sign(f'{head}.{body}'.encode()))}"


def bundle_kid(token: str) -> str:
    """The kid a bundle names, before checking it (to pick the key)."""
    try:
        header = json.loads(_unb64(token.split(".")[0]))
        kid = header["kid"]
    except (ValueError, KeyError, TypeError, QrMalformed) as exc:
        raise BundleInvalid("not a bundle") from exc
    if not isinstance(kid, str):
        raise BundleInvalid("bad kid")
    return kid


def read_bundle(token: str, key: Ed25519PublicKey) -> Bundle:
    """The bundle, once its signature verifies under the platform's `key`; else BundleInvalid."""
    from cryptography.exceptions import InvalidSignature

    parts = token.split(".")
    if len(parts) != 3:
        raise BundleInvalid("not a compact JWS")
    try:
        header = json.loads(_unb64(parts[0]))
        key.verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode())
        claims = json.loads(_unb64(parts[1]))
    except InvalidSignature as exc:
        raise BundleInvalid("bad signature") from exc
    except (ValueError, QrMalformed) as exc:
        raise BundleInvalid("bad encoding") from exc
    if not isinstance(header, dict) or header.get("typ") != BUNDLE_TYP or header.get("alg") != "EdDSA":
        raise BundleInvalid("unexpected header")
    return bundle_from_claims(claims)


def bundle_from_claims(claims: Any) -> Bundle:
    """A bundle from its claims (as signed, or as a validator keeps its merged bundle)."""
    try:
        return Bundle(
            iss=str(claims["iss"]),
            venue_id=str(claims["venue_id"]),
            version=int(claims["version"]),
            since=None if claims["since"] is None else int(claims["since"]),
            iat=int(claims["iat"]),
            nbf=int(claims["nbf"]),
            exp=int(claims["exp"]),
            skew=int(claims["skew"]),
            regions=tuple(str(r) for r in claims["regions"]),
            code_keys=tuple(
                CodeKey(str(k["iss"]), str(k["kid"]), str(k["public_key"])) for k in claims["code_keys"]
            ),
            hotlist={str(e["sub"]): e["status"] for e in claims["hotlist"]},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleInvalid("missing or bad claim") from exc
