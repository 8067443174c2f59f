"""One use per e-card code across the services that accept codes (docs/adr/0012).

Identity's verification and payments' bill pull each keep their own nonce table (strict within the
service). Across them:
- everywhere, each publishes the keyed hash of a code it consumed (`code_use` on
  `verification_recorded` and `payment_initiated`) and projects the other's into its own table, so a
  replay later than the projection lag is refused `qr_reused`;
- in one process (the embedded mode), `SharedCodeUses` is also handed to both (the composition
  wires it, `Platform.code_uses`): a claim made before either service commits its use, so a code is
  taken by the first service to claim it even when fired at both at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from .ecard_code import CLOCK_SKEW_SECONDS, QR_TTL_SECONDS

# A code checked as current at t expires by t + 65 s (exp <= iat + 60, iat <= t + 5): a claim is
# kept twice as long, then forgotten (the nonce tables keep theirs for longer).
CLAIM_RETENTION_SECONDS = 2 * (QR_TTL_SECONDS + CLOCK_SKEW_SECONDS)


class CodeUses(Protocol):
    """Claims a code's use for a service before it records that use."""

    def claim(self, code_use: str, service: str) -> bool:
        """True when no other service claimed `code_use` (the keyed hash of the code's use): the
        caller may go on, and its own nonce table decides a repeat at the same service. False when
        another service has it: the code is refused `qr_reused`."""
        ...


class SharedCodeUses:
    """The in-process claim: a dict checked and set without an await between, so under one event
    loop exactly one service takes a code. Forgotten on restart: by then each service's nonce
    table holds what the other recorded (projected from its store's log before the service is
    ready)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._claims: dict[str, tuple[str, float]] = {}
        self._next_sweep = 0.0

    def claim(self, code_use: str, service: str) -> bool:
        now = self.clock()
        if now >= self._next_sweep:
            self._claims = {k: v for k, v in self._claims.items() if v[1] > now}
            self._next_sweep = now + QR_TTL_SECONDS
        holder = self._claims.get(code_use)
        if holder is not None and holder[1] > now:
            return holder[0] == service
        self._claims[code_use] = (service, now + CLAIM_RETENTION_SECONDS)
        return True

    def __len__(self) -> int:
        return len(self._claims)
