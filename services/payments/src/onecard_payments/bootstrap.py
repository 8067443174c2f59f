"""Wires the payments service: its store, routes and workers."""

from __future__ import annotations

from pathlib import Path

from onecard_service.platform import Platform, ServiceRuntime

from .adapters.simulated_bank import BankRules, SimulatedCardBank
from .adapters.simulated_ecard import SimulatedEcardWallet
from .config import PaymentsConfig
from .context import PaymentMetrics, PaymentsContext
from .domain.events import registry
from .entrypoints.api import router
from .handlers.recovery import run_recovery

MIGRATIONS = Path(__file__).parent / "migrations"


def build(platform: Platform) -> ServiceRuntime:
    runtime = ServiceRuntime("payments", platform, registry, MIGRATIONS)
    runtime.keep_catalog_view()
    # The bank and the e-card wallet are the simulated adapters (see adapters/); a real bank
    # client and identity's QR verification plug in here behind the same ports.
    ctx = PaymentsContext(
        db=runtime.db,
        store=runtime.store,
        keys=platform.personal_data,
        bank=SimulatedCardBank(runtime.db, BankRules.from_env()),
        ecard=SimulatedEcardWallet(platform.personal_data, runtime.db),
        config=PaymentsConfig.from_env(),
        metrics=PaymentMetrics(runtime.metrics),
    )
    runtime.app.state.payments = ctx
    runtime.app.include_router(router)
    runtime.add_worker("recovery", lambda stop: run_recovery(ctx, stop))
    return runtime
