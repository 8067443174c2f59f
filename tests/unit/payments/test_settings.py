"""The simulated bank's decision rules and the payments settings, on their own."""

from __future__ import annotations

from onecard_payments.adapters.simulated_bank import BankRules
from onecard_payments.domain.ports import BankOutcome, BankResult
from onecard_payments.handlers.context import PaymentsConfig


def test_the_simulated_bank_decides_by_its_rules() -> None:
    rules = BankRules(decline_above_fen=100, frozen_account_prefixes=("dead",))
    assert rules.decide("acct", 100) == BankResult(BankOutcome.APPROVED)
    assert rules.decide("acct", 101) == BankResult(BankOutcome.DECLINED, "insufficient_funds")
    assert rules.decide("deadbeef", 1) == BankResult(BankOutcome.DECLINED, "account_frozen")


def test_rules_and_settings_from_the_environment() -> None:
    rules = BankRules.from_env(
        {"ONECARD_SIMBANK_FROZEN_ACCOUNT_PREFIXES": "ab,cd", "ONECARD_SIMBANK_LATENCY_MS": "250"}
    )
    assert rules.frozen_account_prefixes == ("ab", "cd") and rules.latency_s == 0.25
    assert not rules.crash_after_debit
    config = PaymentsConfig.from_env({"ONECARD_PAYMENTS_BANK_TIMEOUT_MS": "1500"})
    assert config.bank_timeout_s == 1.5 and config.status_attempts == 3 and config.recover_after_s == 30.0
    assert PaymentsConfig.from_env({}) == PaymentsConfig()
