"""Wires the disbursement service: its store, routes, catalogue view, dispatcher and bank.

Its batch is state-stored (ADR 0010): rows are the source of truth, and the events written with
them in each unit of work are what other services (reporting) consume.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from onecard_service.platform import Platform, ServiceRuntime

from .adapters.bank import DisbursementBank
from .adapters.metrics import DisbursementMetrics
from .adapters.simulated_bank import SimulatedBankConfig, SimulatedDisbursementBank
from .domain.events import registry
from .entrypoints.api import install
from .handlers.context import Context
from .handlers.dispatch import run_dispatcher
from .handlers.results import apply_results

MIGRATIONS = Path(__file__).parent / "migrations"


class DisbursementRuntime(ServiceRuntime):
    """The service runtime plus handles tests and benchmarks reach for: the context and the bank."""

    context: Context
    bank: DisbursementBank


def build(platform: Platform) -> ServiceRuntime:
    runtime = DisbursementRuntime("disbursement", platform, registry, MIGRATIONS)
    runtime.keep_catalog_view()
    ctx = Context(
        runtime.db,
        runtime.store,
        platform.personal_data,
        DisbursementMetrics(runtime.metrics),
        runtime.freshness,
    )

    # The simulated bank is the only bank shipped; a real one implements DisbursementBank and
    # calls back POST /disbursement/v1/bank-results.
    bank = SimulatedDisbursementBank(runtime.db, SimulatedBankConfig.from_env(), partial(apply_results, ctx))
    runtime.context, runtime.bank = ctx, bank
    install(runtime.app, ctx, bank)
    runtime.add_worker("dispatcher", lambda stop: run_dispatcher(ctx, bank, stop))
    runtime.add_worker("simulated-bank", bank.run)
    return runtime
