"""`onecard serve payments` as a child process on a fresh database and fresh topics."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from onecard_events.cloudevents import to_kafka
from onecard_events.kafka import KafkaPublisher, create_topics, platform_topics, service_topic
from onecard_events.model import DomainEvent, Position, RecordedEvent, utcnow
from onecard_service.settings import generate_token_keypair

from tests.conftest import ADMIN_TOKEN, create_database

ONECARD = Path(sys.executable).parent / "onecard"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PaymentsServer:
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def start(self, **extra_env: str) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: ASYNC220 - a child that outlives this call
                [str(ONECARD), "serve", "payments", "--migrate", "--port", str(self.port)],
                env={**self.env, **extra_env},
                stdout=out,
                stderr=out,
            )
        async with httpx.AsyncClient(base_url=self.url) as client:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise RuntimeError(f"payments exited early: {self.log.read_text()[-2000:]}")
                try:
                    if (await client.get("/payments/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("payments did not become ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def payments_server(pg_url: str, kafka: str, log: Path) -> tuple[PaymentsServer, str, str]:
    """A server (not started yet), its database URL and its topic prefix."""
    database_url = await create_database(pg_url)
    prefix = f"t_{uuid.uuid4().hex[:10]}."
    await create_topics(kafka, platform_topics(("510000",), 2, prefix))
    _private, public = generate_token_keypair()
    env = {
        **os.environ,
        "ONECARD_DATABASE_URL": database_url,
        "ONECARD_KAFKA_BOOTSTRAP": kafka,
        "ONECARD_TOPIC_PREFIX": prefix,
        "ONECARD_TOKEN_PUBLIC_KEY": public.decode(),
        "ONECARD_PII_KEY": os.urandom(32).hex(),
        "ONECARD_ADMIN_TOKEN": ADMIN_TOKEN,
        "ONECARD_LOG_LEVEL": "WARNING",
    }
    return PaymentsServer(env, log), database_url, prefix


async def publish_catalog(kafka: str, prefix: str, *events: DomainEvent) -> None:
    """Put catalogue events on the catalog topic, as the catalog's relay would: one stream (so one
    Kafka key and partition) for all of them, which keeps them in order."""
    stream_id = f"seed-{uuid.uuid4().hex}"
    publisher = KafkaPublisher(kafka, client_id="payments-test-seed")
    await publisher.start()
    try:
        messages: list[Any] = []
        for i, event in enumerate(events, start=1):
            record = RecordedEvent(
                event_id=str(uuid.uuid4()),
                event_type=event.event_type,
                schema_version=event.schema_version,
                stream_id=stream_id,
                stream_version=i,
                position=Position(0, i),
                recorded_at=utcnow(),
                data=event.model_dump(mode="json"),
                source="catalog",
            )
            messages.append((service_topic("catalog", prefix), *to_kafka(record, "catalog")))
        await publisher.publish(messages)
    finally:
        await publisher.stop()
