"""Credentials and roles, checked locally in every service.

Tokens are JWTs signed with Ed25519 (EdDSA): only the catalog, which issues clients, holds the
private key; every service verifies with the public key, so no call to another service is needed.
Revocation travels as a catalog event (`onecard.catalog.client_revoked`) that every service consumes
into its in-memory revocation list (see docs/adr/0004).
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, Request

# Client events are the catalogue's; credentials are checked against them here.
from onecard_contracts.catalogue_events import ROLES as ROLES
from onecard_contracts.catalogue_events import ClientRegistered as ClientRegistered
from onecard_contracts.catalogue_events import ClientRevoked as ClientRevoked

from .problems import Problem

Role = Literal["admin", "operator", "venue", "merchant", "department", "partner"]
ISSUER = "onecard-catalog"


@dataclass(frozen=True)
class Principal:
    client_id: str
    role: str
    venues: frozenset[str] = frozenset()
    merchants: frozenset[str] = frozenset()
    department: str | None = None
    jurisdiction: str | None = None
    region: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in ("admin", "operator")

    def may_use_venue(self, venue_id: str) -> bool:
        return self.is_staff or (self.role == "venue" and venue_id in self.venues)

    def may_use_merchant(self, merchant_id: str) -> bool:
        return self.is_staff or (self.role == "merchant" and merchant_id in self.merchants)


ADMIN = Principal("bootstrap-admin", "admin")


class TokenSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    def issue(self, principal: Principal, expires_in: int | None = None) -> str:
        """A token for `principal`; with `expires_in` (seconds) it is refused after that (`exp`).
        Each call makes a new token: a client may hold several valid ones, which is how a
        credential is rotated without downtime (docs/adr/0017)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": principal.client_id,
            "role": principal.role,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        if expires_in is not None:
            claims["exp"] = now + expires_in
        if principal.venues:
            claims["venues"] = sorted(principal.venues)
        if principal.merchants:
            claims["merchants"] = sorted(principal.merchants)
        for name in ("department", "jurisdiction", "region"):
            if value := getattr(principal, name):
                claims[name] = value
        return jwt.encode(claims, self._key, algorithm="EdDSA")


@dataclass
class RevocationList:
    """Client ids revoked so far, fed by the catalog's client events."""

    revoked: set[str] = field(default_factory=set)

    def apply(self, event_type: str, data: dict[str, Any]) -> None:
        if event_type == ClientRevoked.event_type:
            self.revoked.add(str(data["client_id"]))


class TokenVerifier:
    CACHE_SIZE = 10_000
    CACHE_SECONDS = 300.0

    def __init__(
        self, public_key: Ed25519PublicKey, revocations: RevocationList, admin_token: str | None
    ) -> None:
        self._key = public_key
        self.revocations = revocations
        self._admin_token = admin_token
        self._verified: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        if self._admin_token and hmac.compare_digest(token.encode(), self._admin_token.encode()):
            return ADMIN
        # An Ed25519 check on every request of a venue's terminal is wasted work: remember tokens
        # already verified for a while. Revocation is still checked on every request.
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.monotonic():
            principal = cached[0]
        else:
            principal, expires_at = self._decode(token)
            if len(self._verified) >= self.CACHE_SIZE:
                self._verified.clear()
            # Remembered no longer than the token is valid: an expired one is decoded, and refused.
            seconds = (
                self.CACHE_SECONDS
                if expires_at is None
                else min(self.CACHE_SECONDS, expires_at - time.time())
            )
            self._verified[token] = (principal, time.monotonic() + seconds)
        if principal.client_id in self.revocations.revoked:
            raise Problem(401, "the credential has been revoked")
        return principal

    def _decode(self, token: str) -> tuple[Principal, float | None]:
        try:
            claims = jwt.decode(
                token, self._key, algorithms=["EdDSA"], issuer=ISSUER, options={"require": ["sub"]}
            )
        except jwt.PyJWTError as exc:
            raise Problem(401, f"invalid token: {exc}") from None
        role = claims.get("role")
        if role not in ROLES:
            raise Problem(401, "token carries no known role")
        caller = Principal(
            client_id=claims["sub"],
            role=role,
            venues=frozenset(claims.get("venues", ())),
            merchants=frozenset(claims.get("merchants", ())),
            department=claims.get("department"),
            jurisdiction=claims.get("jurisdiction"),
            region=claims.get("region"),
        )
        expires_at = claims.get("exp")
        return caller, float(expires_at) if expires_at is not None else None


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("token signing key must be Ed25519")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("token verification key must be Ed25519")
    return key


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` one in a worker thread,
# a thread hop on every request.
async def principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated caller (401 without a valid bearer token)."""
    checked = request.scope.get("onecard.principal")  # the edge checked it already (edge.py)
    if isinstance(checked, Principal):
        return checked
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "a bearer token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(token.strip())


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """FastAPI dependency factory: the caller, who must hold one of `roles` (403 otherwise)."""
    allowed = frozenset(roles)

    async def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in allowed:
            raise Problem(403, f"role {caller.role!r} may not do this")
        return caller

    return check
