"""`onecard serve disbursement` as a child process on PostgreSQL + Kafka (fault test, benchmark).

Each run gets a fresh database, its own topic prefix and its own keys. The catalogue item reaches
the service the way it does in production: as a CloudEvent on the catalog topic.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from onecard_events.cloudevents import to_kafka
from onecard_events.database import open_database
from onecard_events.kafka import KafkaPublisher, service_topic
from onecard_events.model import Position, RecordedEvent, utcnow
from onecard_service.settings import generate_token_keypair
from sqlalchemy import text

ONECARD = Path(sys.executable).parent / "onecard"
ADMIN_TOKEN = "disbursement-process-admin-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def create_database(pg_url: str) -> str:
    name = f"dsb_{uuid.uuid4().hex[:10]}"
    admin = open_database(pg_url, schema="public")
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return f"{pg_url.rpartition('/')[0]}/{name}"


@dataclass
class ServedDisbursement:
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    @classmethod
    async def prepare(cls, pg_url: str, bootstrap: str, **extra_env: str) -> ServedDisbursement:
        _private, public = generate_token_keypair()
        env = {
            **os.environ,
            "ONECARD_DATABASE_URL": await create_database(pg_url),
            "ONECARD_KAFKA_BOOTSTRAP": bootstrap,
            "ONECARD_TOPIC_PREFIX": f"d{uuid.uuid4().hex[:8]}.",
            "ONECARD_TOKEN_PUBLIC_KEY": public.decode(),
            "ONECARD_PII_KEY": os.urandom(32).hex(),
            "ONECARD_ADMIN_TOKEN": ADMIN_TOKEN,
            "ONECARD_LOG_LEVEL": "WARNING",
            **extra_env,
        }
        # Blocking on purpose: set-up, before anything else runs on the loop.
        subprocess.run(  # noqa: ASYNC221
            [str(ONECARD), "topics", "--partitions", "2"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        return cls(env)

    async def start(self, log: Path | None = None) -> None:
        out = log.open("ab") if log else subprocess.DEVNULL
        self.process = subprocess.Popen(  # noqa: ASYNC220 (returns at once; the child runs on)
            [str(ONECARD), "serve", "disbursement", "--port", str(self.port), "--migrate"],
            env=self.env,
            stdout=out,
            stderr=out,
        )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.base) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get("/disbursement/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("onecard serve disbursement did not become ready")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; whatever was committed is all that remains."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    async def publish_item(self, item: dict[str, Any]) -> None:
        """Put an item_published event on the catalog topic, as the catalog's relay would."""
        record = RecordedEvent(
            event_id=str(uuid.uuid4()),
            event_type="onecard.catalog.item_published",
            schema_version=1,
            stream_id=f"item-{item['item_id']}",
            stream_version=1,
            position=Position(),  # no store position: the consumer tracks the Kafka offset
            recorded_at=utcnow(),
            data={"item": item, "version": 1, "valid_from": "2024-01-01T00:00:00Z"},
        )
        key, value, headers = to_kafka(record, "catalog")
        publisher = KafkaPublisher(self.env["ONECARD_KAFKA_BOOTSTRAP"], client_id="disbursement-test")
        await publisher.start()
        try:
            topic = service_topic("catalog", self.env["ONECARD_TOPIC_PREFIX"])
            await publisher.publish([(topic, key, value, headers)])
        finally:
            await publisher.stop()

    def database(self) -> Any:
        return open_database(self.env["ONECARD_DATABASE_URL"], schema="disbursement")


def item(item_id: str) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "jurisdiction": "500155",
        "seq": 1,
        "kind": "service",
        "name": "城乡居民养老保险待遇发放",
        "department": "梁平区人力社保局",
        "categories": ["disbursement"],
    }


async def create_program(client: httpx.AsyncClient, headers: dict[str, str], item_id: str) -> str:
    """Create a program once the item has reached the service's catalogue view."""
    program_id = f"P-{uuid.uuid4().hex[:8]}"
    body = {"program_id": program_id, "item_id": item_id, "name": "养老金", "jurisdiction": "500155"}
    deadline = time.monotonic() + 60
    while True:
        response = await client.post("/disbursement/v1/programs", json=body, headers=headers)
        if response.status_code == 201:
            return program_id
        if response.status_code != 422 or time.monotonic() > deadline:
            raise RuntimeError(f"program not created: {response.text}")
        await asyncio.sleep(0.2)
