"""Wires the payments service: its store, routes and workers."""

from __future__ import annotations

from pathlib import Path

from onecard_service.platform import Platform, ServiceRuntime

from .adapters.identity_view import IdentityEcardReader, IdentityView
from .adapters.metrics import PaymentMetrics
from .adapters.simulated_bank import BankRules, SimulatedCardBank
from .domain.events import registry
from .entrypoints.api import router
from .handlers.context import PaymentsConfig, PaymentsContext
from .handlers.nonces import keep_purging_nonces
from .handlers.recovery import recover_at_start, run_recovery

MIGRATIONS = Path(__file__).parent / "migrations"


def build(platform: Platform) -> ServiceRuntime:
    runtime = ServiceRuntime("payments", platform, registry, MIGRATIONS)
    runtime.keep_catalog_view()
    # Identity's cards and signing keys, from its events: e-card codes are checked and cards
    # resolved without calling identity on the request path; the codes identity's verifications
    # used go into ecard_nonces (one use platform-wide, ADR 0012).
    runtime.add_projection(IdentityView(), ["identity"])
    reader = IdentityEcardReader(runtime.db, platform.personal_data, platform.settings.region)
    # The bank is the simulated adapter (adapters/simulated_bank.py); a real bank client plugs in
    # here behind the same port.
    simulated_bank = SimulatedCardBank(runtime.db, BankRules.from_env())
    ctx = PaymentsContext(
        db=runtime.db,
        store=runtime.store,
        keys=platform.personal_data,
        config=PaymentsConfig.from_env(),
        bank=simulated_bank,
        ecard=reader,
        cards=reader,
        metrics=PaymentMetrics(runtime.metrics),
        views=runtime.freshness,
        code_uses=platform.code_uses,
    )
    runtime.app.state.payments = ctx
    # Requests wait on the simulated bank's batches, so under --workers one runs in each request
    # process.
    runtime.add_worker("simulated-bank", simulated_bank.run, every_process=True)
    runtime.app.include_router(router)
    # After a crash, payments the dead process left initiated are finished before this one is
    # ready, so a client's retry is answered, not told 409 "in progress" until the worker's delay
    # has passed. Safe with other replicas: the bank applies a reference at most once, and the
    # first of request and recovery to finish a payment wins.
    runtime.add_startup_step("recovery", lambda: recover_at_start(ctx), timeout=2.0)
    # Concurrent payments' starts and outcomes are committed together (ADR 0016), in each
    # request process.
    runtime.add_worker("payment-writes", ctx.writes.run, every_process=True)
    runtime.add_worker("recovery", lambda stop: run_recovery(ctx, stop))
    runtime.add_worker("nonce-purge", lambda stop: keep_purging_nonces(ctx, stop))
    return runtime
