"""The naive baseline of a recorded verification: one FastAPI file, a pydantic body, one asyncpg
INSERT (autocommitted: one commit) per request, one process. What the identity service is
measured against (bench/identity_verifications.py).

    NAIVE_DATABASE_URL=postgresql://... .venv/bin/python -m uvicorn naive_insert:app --app-dir bench/baselines
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel

POOL_SIZE = int(os.environ.get("NAIVE_POOL_SIZE", "20"))


class Card(BaseModel):
    card_no: str
    ssn: str
    name: str
    issuer_region: str


class VerificationRequest(BaseModel):
    venue_id: str
    terminal_id: str
    method: str
    card: Card | None = None
    qr: str | None = None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(os.environ["NAIVE_DATABASE_URL"], min_size=POOL_SIZE, max_size=POOL_SIZE)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS naive_verifications (id uuid PRIMARY KEY, venue_id text NOT NULL,"
        " terminal_id text NOT NULL, card_no text, verified boolean NOT NULL,"
        " recorded_at timestamptz NOT NULL DEFAULT now())"
    )
    app.state.pool = pool
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}


@app.post("/identity/v1/verifications")
async def verify(body: VerificationRequest) -> dict[str, object]:
    verification_id = uuid.uuid4()
    await app.state.pool.execute(
        "INSERT INTO naive_verifications (id, venue_id, terminal_id, card_no, verified)"
        " VALUES ($1, $2, $3, $4, $5)",
        verification_id,
        body.venue_id,
        body.terminal_id,
        body.card.card_no if body.card else None,
        True,
    )
    return {"verification_id": str(verification_id), "verified": True, "reason": None}
