"""The in-process claim identity and payments share in the embedded mode (docs/adr/0012)."""

from __future__ import annotations

from onecard_contracts.code_uses import CLAIM_RETENTION_SECONDS, SharedCodeUses


def test_the_first_service_to_claim_a_code_has_it_and_may_claim_it_again() -> None:
    now = [1000.0]
    uses = SharedCodeUses(clock=lambda: now[0])
    assert uses.claim("u1", "payments")
    assert not uses.claim("u1", "identity")  # refused qr_reused
    assert uses.claim("u1", "payments")  # the same service: its own nonce table decides
    assert uses.claim("u2", "identity") and not uses.claim("u2", "payments")


def test_claims_are_forgotten_once_every_code_they_could_name_has_expired() -> None:
    now = [1000.0]
    uses = SharedCodeUses(clock=lambda: now[0])
    assert uses.claim("u1", "payments")
    now[0] += CLAIM_RETENTION_SECONDS - 1
    assert not uses.claim("u1", "identity")
    now[0] += 2
    assert uses.claim("u2", "identity")
    assert uses.claim("u1", "identity")  # long expired as a code: whoever asks may have it
