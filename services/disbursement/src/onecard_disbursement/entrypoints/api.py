"""Routes of /disbursement/v1: parse, authorise, call a handler, shape the response."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from onecard_service.auth import Principal, require
from onecard_service.edge import UPLOAD
from onecard_service.idempotency import IdempotencyKey
from onecard_service.problems import conflict, problem_response
from onecard_service.uploads import UploadRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from ..adapters.bank import DisbursementBank
from ..domain.batch import IDENTIFIER, PERIOD
from ..domain.settlement import Result
from ..handlers import batches as batch_handlers
from ..handlers import programs as program_handlers
from ..handlers import queries
from ..handlers.context import Context
from ..handlers.results import apply_results

MAX_PAYEES_PER_CALL = 50_000
MAX_RESULTS_PER_CALL = 20_000
Id = Annotated[str, Field(pattern=IDENTIFIER.pattern)]
Managers = Annotated[Principal, Depends(require("admin", "operator", "department"))]
Staff = Annotated[Principal, Depends(require("admin", "operator"))]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProgramIn(Strict):
    program_id: Id
    item_id: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    jurisdiction: Annotated[str, Field(pattern=r"^\d{6}$")]


class BatchIn(Strict):
    batch_id: Id
    program_id: Id
    period: Annotated[str, Field(pattern=PERIOD.pattern)]
    control_count: Annotated[int, Field(ge=1, le=10_000_000)]
    control_total_fen: Annotated[int, Field(ge=1)]


class PayeesIn(Strict):
    # Rows stay loose on purpose: one malformed payee is rejected on its own, not the whole call.
    payees: Annotated[list[Any], Field(max_length=MAX_PAYEES_PER_CALL)]


class RejectedOut(BaseModel):
    reference_id: str
    reason: str


class PayeesOut(BaseModel):
    accepted: int
    rejected: list[RejectedOut]


class ResultIn(Strict):
    reference_id: Annotated[str, Field(min_length=1, max_length=200)]
    status: Literal["paid", "failed", "returned"]
    reason: Annotated[str, Field(max_length=200)] = ""


class ResultsIn(Strict):
    results: Annotated[list[ResultIn], Field(max_length=MAX_RESULTS_PER_CALL)]


def router(ctx: Context, bank: DisbursementBank) -> APIRouter:
    r = APIRouter(prefix="/disbursement/v1", tags=["disbursement"])

    @r.post("/programs", status_code=201)
    async def create_program(body: ProgramIn, caller: Managers, key: IdempotencyKey = None) -> JSONResponse:
        cmd = program_handlers.CreateProgram(**body.model_dump())
        status, answer = await program_handlers.create_program(ctx, caller, cmd, key)
        return JSONResponse(answer, status_code=status)

    @r.post("/batches", status_code=201)
    async def create_batch(body: BatchIn, caller: Managers, key: IdempotencyKey = None) -> JSONResponse:
        cmd = batch_handlers.CreateBatch(**body.model_dump())
        status, answer = await batch_handlers.create_batch(ctx, caller, cmd, key)
        return JSONResponse(answer, status_code=status)

    async def add_payees(
        batch_id: str, body: PayeesIn, caller: Managers, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        return await batch_handlers.add_payees(ctx, caller, batch_id, body.payees, key)

    # Up to 50,000 payees, about 10 MB of JSON: parsed in turns of the event loop (UploadRoute).
    r.add_api_route(
        "/batches/{batch_id}/payees",
        add_payees,
        methods=["POST"],
        response_model=PayeesOut,
        openapi_extra=UPLOAD,
        route_class_override=UploadRoute,
    )

    @r.post("/batches/{batch_id}/submit", status_code=202)
    async def submit(batch_id: str, caller: Managers, key: IdempotencyKey = None) -> dict[str, Any]:
        return await batch_handlers.submit_batch(ctx, caller, batch_id, key)

    @r.get("/batches/{batch_id}")
    async def get_batch(batch_id: str, caller: Managers) -> dict[str, Any]:
        return await queries.get_batch(ctx, caller, batch_id)

    @r.get("/batches/{batch_id}/payees/{reference_id}")
    async def get_payee(batch_id: str, reference_id: str, caller: Managers) -> dict[str, Any]:
        return await queries.get_payee(ctx, caller, batch_id, reference_id)

    @r.get("/batches/{batch_id}/reconciliation")
    async def reconciliation(batch_id: str, caller: Managers) -> dict[str, Any]:
        return await queries.reconciliation(ctx, bank, caller, batch_id)

    @r.post("/bank-results", openapi_extra=UPLOAD)
    async def bank_results(body: Annotated[ResultsIn, Body()], caller: Staff) -> dict[str, Any]:
        del caller
        results = [Result(x.reference_id, x.status, x.reason) for x in body.results]
        return await apply_results(ctx, results)

    return r


def install(app: FastAPI, ctx: Context, bank: DisbursementBank) -> None:
    app.include_router(router(ctx, bank))

    async def on_integrity(_: Request, exc: Exception) -> JSONResponse:
        # A unique key lost a race with a concurrent request (same batch id, reference, person).
        del exc
        return problem_response(conflict("a concurrent request changed the same records; retry"))

    app.add_exception_handler(IntegrityError, on_integrity)
