"""All five services (or some of them) in this process, behind one httpx client, in either mode:
embedded (SQLite files, in-process logs) or distributed (PostgreSQL and Kafka)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import httpx
from onecard.composition import PrefixDispatcher, build_services, start_all, stop_all
from onecard_events.kafka import create_topics, platform_topics
from onecard_service.auth import Principal
from onecard_service.platform import Platform
from onecard_service.settings import Settings, generate_token_keypair

from tests.support.databases import migrated_database
from tests.support.names import unique

ADMIN_TOKEN = "test-admin-token-0123456789"
ALL_SERVICES = ("catalog", "identity", "payments", "disbursement", "reporting")


def admin_headers(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class RunningPlatform:
    """All five services in this process, behind one httpx client, in either mode."""

    def __init__(self, platform: Platform, client: httpx.AsyncClient, dispatcher: PrefixDispatcher) -> None:
        self.platform = platform
        self.client = client
        self.dispatcher = dispatcher
        self.admin = admin_headers()

    def runtime(self, name: str):  # type: ignore[no-untyped-def]
        return next(r for r in self.dispatcher.runtimes if r.name == name)


def embedded_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN)


_migrated_files: list[Path] = []


async def fresh_embedded_settings(data_dir: Path) -> Settings:
    """Embedded settings on a data directory holding every service's SQLite file already migrated:
    copies of files migrated once per test session (copying takes milliseconds, migrating about
    half a second). Tests of migrations themselves use `embedded_settings` on an empty directory."""
    if not _migrated_files:
        template = Path(tempfile.mkdtemp(prefix="onecard-migrated-"))
        platform = Platform(embedded_settings(template))
        for runtime in build_services(platform):
            await runtime.migrate()
        await platform.close()
        _migrated_files.extend(_files(template))
    _copy(_migrated_files, data_dir)
    return embedded_settings(data_dir)


def _files(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def _copy(files: list[Path], into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(file, into / file.name)


def distributed_settings(
    kafka_bootstrap: str,
    database_url: str,
    *,
    admin_token: str = ADMIN_TOKEN,
    topic_prefix: str | None = None,
) -> Settings:
    private_pem, public_pem = generate_token_keypair()
    # A database per platform instance keeps tests isolated while each service keeps its schema.
    return Settings(
        data_dir=Path("/nonexistent"),
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        admin_token=admin_token,
        token_private_key_pem=private_pem,
        token_public_key_pem=public_pem,
        pii_key=os.urandom(32),
        # Every test platform gets its own topics on the shared broker.
        topic_prefix=topic_prefix if topic_prefix is not None else unique("t") + ".",
    )


async def fresh_distributed_settings(pg_url: str, kafka_bootstrap: str) -> Settings:
    """Distributed settings on a fresh database, with the platform's topics created."""
    settings = distributed_settings(kafka_bootstrap, await migrated_database(pg_url))
    await create_topics(kafka_bootstrap, platform_topics(settings.partners, 2, settings.topic_prefix))
    return settings


async def start_platform(
    settings: Settings, services: tuple[str, ...] = ALL_SERVICES
) -> tuple[RunningPlatform, PrefixDispatcher]:
    platform = Platform(settings)
    runtimes = build_services(platform, services)
    dispatcher = PrefixDispatcher(runtimes, migrate=True)
    await start_all(runtimes, migrate=True)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=dispatcher), base_url="http://onecard.test")
    return RunningPlatform(platform, client, dispatcher), dispatcher


async def stop_platform(running: RunningPlatform) -> None:
    await running.client.aclose()
    await stop_all(running.dispatcher.runtimes)


def token_for(running: RunningPlatform, principal: Principal) -> dict[str, str]:
    """Authorization header for a client with the given scope (signed as the catalog would)."""
    return {"Authorization": f"Bearer {running.platform.token_signer().issue(principal)}"}
