"""Configuration from the environment (see the README's configuration table)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from onecard_events.database import private_directory


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".onecard")
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    admin_token: str | None = None
    partners: tuple[str, ...] = ("510000",)
    region: str = "500000"
    topic_prefix: str = ""
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    token_private_key_pem: bytes | None = None
    token_public_key_pem: bytes | None = None
    pii_key: bytes | None = None
    # A background worker with work and no progress for this long makes /readyz answer 503.
    worker_stuck_seconds: float = 60.0
    # How long a request waits for views to cover its consistency tokens, or to catch up before
    # a refusal, before it is answered 503.
    consistency_wait_seconds: float = 5.0
    # The edge (edge.py, docs/adr/0017): request sizes, read and idle timeouts, rate limits.
    max_body_bytes: int = 256 * 1024
    max_upload_bytes: int = 32 * 1024 * 1024  # routes marked as uploads: payees, bank results
    max_url_bytes: int = 8 * 1024
    max_header_bytes: int = 16 * 1024
    read_timeout_seconds: float = 10.0
    idle_timeout_seconds: float = 5.0
    rate_limits: str = ""  # overrides of the default buckets, e.g. "venue=200/400,address=off"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def distributed(self) -> bool:
        return self.database_url is not None

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        env = os.environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("ONECARD_DATA_DIR", ".onecard")),
            "database_url": env.get("ONECARD_DATABASE_URL") or None,
            "kafka_bootstrap": env.get("ONECARD_KAFKA_BOOTSTRAP") or None,
            "admin_token": env.get("ONECARD_ADMIN_TOKEN") or None,
            "partners": tuple(p for p in env.get("ONECARD_PARTNERS", "510000").split(",") if p),
            "region": env.get("ONECARD_REGION", "500000"),
            "topic_prefix": env.get("ONECARD_TOPIC_PREFIX", ""),
            "otlp_endpoint": env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
            "log_level": env.get("ONECARD_LOG_LEVEL", "INFO"),
            "token_private_key_pem": _pem(env.get("ONECARD_TOKEN_PRIVATE_KEY")),
            "token_public_key_pem": _pem(env.get("ONECARD_TOKEN_PUBLIC_KEY")),
            "pii_key": bytes.fromhex(env["ONECARD_PII_KEY"]) if env.get("ONECARD_PII_KEY") else None,
            "worker_stuck_seconds": float(env.get("ONECARD_WORKER_STUCK_SECONDS", "60")),
            "consistency_wait_seconds": int(env.get("ONECARD_CONSISTENCY_WAIT_MS", "5000")) / 1000,
            "max_body_bytes": int(env.get("ONECARD_MAX_BODY_BYTES", str(256 * 1024))),
            "max_upload_bytes": int(env.get("ONECARD_MAX_UPLOAD_BYTES", str(32 * 1024 * 1024))),
            "max_url_bytes": int(env.get("ONECARD_MAX_URL_BYTES", str(8 * 1024))),
            "max_header_bytes": int(env.get("ONECARD_MAX_HEADER_BYTES", str(16 * 1024))),
            "read_timeout_seconds": float(env.get("ONECARD_READ_TIMEOUT_SECONDS", "10")),
            "idle_timeout_seconds": float(env.get("ONECARD_IDLE_TIMEOUT_SECONDS", "5")),
            "rate_limits": env.get("ONECARD_RATE_LIMITS", ""),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


def _pem(value: str | None) -> bytes | None:
    """A PEM given inline, or a path to a PEM file."""
    if not value:
        return None
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    return Path(value).read_bytes()


@dataclass(frozen=True)
class Secrets:
    token_private_key_pem: bytes | None
    token_public_key_pem: bytes
    pii_key: bytes


def generate_token_keypair() -> tuple[bytes, bytes]:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem


def resolve_secrets(settings: Settings) -> Secrets:
    """Keys from the environment; in the embedded mode, generated once into the data folder."""
    if settings.token_public_key_pem and settings.pii_key:
        return Secrets(settings.token_private_key_pem, settings.token_public_key_pem, settings.pii_key)
    if settings.distributed:
        raise RuntimeError("distributed mode needs ONECARD_TOKEN_PUBLIC_KEY and ONECARD_PII_KEY")
    path = settings.data_dir / "secrets.json"
    private_directory(settings.data_dir)
    if not path.exists():
        private_pem, public_pem = generate_token_keypair()
        stored = {
            "token_private_key": private_pem.decode(),
            "token_public_key": public_pem.decode(),
            "pii_key": secrets.token_hex(32),
        }
        tmp = path.with_suffix(".tmp")
        # Created 0600, never readable by others even for a moment.
        with os.fdopen(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as out:
            out.write(json.dumps(stored))
        tmp.replace(path)
    stored = json.loads(path.read_text())
    return Secrets(
        stored["token_private_key"].encode(),
        stored["token_public_key"].encode(),
        bytes.fromhex(stored["pii_key"]),
    )
