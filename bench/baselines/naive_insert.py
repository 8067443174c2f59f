"""The naive baseline of a recorded request: one FastAPI file, a pydantic body, one asyncpg
INSERT (autocommitted: one commit) per request, one process. What the identity service's
verifications (bench/identity_verifications.py) and the payments service's bills and payments
(bench/payments_throughput.py) are measured against.

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
        "CREATE TABLE IF NOT EXISTS naive_bills (id uuid PRIMARY KEY, merchant_id text NOT NULL,"
        " bill_ref text NOT NULL, amount_fen bigint NOT NULL);"
        "CREATE TABLE IF NOT EXISTS naive_payments (id uuid PRIMARY KEY, bill_id uuid NOT NULL,"
        " method text NOT NULL, card_no text, recorded_at timestamptz NOT NULL DEFAULT now())"
    )
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


class BillRequest(BaseModel):
    merchant_id: str
    bill_ref: str
    amount_fen: int
    description: str | None = None


class PaymentRequest(BaseModel):
    method: str
    card: Card | None = None
    qr: str | None = None


@app.post("/payments/v1/bills", status_code=201)
async def open_bill(body: BillRequest) -> dict[str, object]:
    bill_id = uuid.uuid4()
    await app.state.pool.execute(
        "INSERT INTO naive_bills (id, merchant_id, bill_ref, amount_fen) VALUES ($1, $2, $3, $4)",
        bill_id,
        body.merchant_id,
        body.bill_ref,
        body.amount_fen,
    )
    return {"bill_id": str(bill_id), "status": "open"}


@app.post("/payments/v1/bills/{bill_id}/payments")
async def pay(bill_id: uuid.UUID, body: PaymentRequest) -> dict[str, object]:
    payment_id = uuid.uuid4()
    await app.state.pool.execute(
        "INSERT INTO naive_payments (id, bill_id, method, card_no) VALUES ($1, $2, $3, $4)",
        payment_id,
        bill_id,
        body.method,
        body.card.card_no if body.card else None,
    )
    return {"payment_id": str(payment_id), "status": "settled", "reason": None}


PAYEE_COLUMNS = ("reference_id", "ssn", "card_no", "name", "amount_fen", "channel")


class PayeesRequest(BaseModel):
    payees: list[dict[str, str | int]]


@app.post("/disbursement/v1/batches", status_code=201)
async def declare_batch(body: dict[str, object]) -> dict[str, object]:
    await app.state.pool.execute(
        "CREATE TABLE IF NOT EXISTS naive_payees (batch_id text NOT NULL, reference_id text PRIMARY KEY,"
        " ssn text NOT NULL, card_no text NOT NULL, name text NOT NULL, amount_fen bigint NOT NULL,"
        " channel text NOT NULL)"
    )
    return {"batch_id": body["batch_id"], "status": "open"}


@app.post("/disbursement/v1/batches/{batch_id}/payees")
async def add_payees(batch_id: str, body: PayeesRequest) -> dict[str, object]:
    rows = [
        (batch_id, p["reference_id"], p["ssn"], p["card_no"], p["name"], p["amount_fen"], p["channel"])
        for p in body.payees
    ]
    await app.state.pool.executemany("INSERT INTO naive_payees VALUES ($1, $2, $3, $4, $5, $6, $7)", rows)
    return {"accepted": len(rows)}


@app.post("/disbursement/v1/batches/{batch_id}/submit", status_code=202)
async def submit(batch_id: str) -> dict[str, str]:
    return {"status": "submitted"}


@app.get("/disbursement/v1/batches/{batch_id}")
async def batch_state(batch_id: str) -> dict[str, object]:
    paid = await app.state.pool.fetchval("SELECT count(*) FROM naive_payees WHERE batch_id = $1", batch_id)
    return {"status": "completed", "paid": paid, "failed": 0, "returned": 0}


@app.get("/disbursement/v1/batches/{batch_id}/reconciliation")
async def reconciliation(batch_id: str) -> dict[str, object]:
    return {"balanced": True}
