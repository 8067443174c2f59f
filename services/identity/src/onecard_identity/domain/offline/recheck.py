"""The platform's second look at a tap made offline: its own decision as of the tap's time, and
the finding where the validator's decision and its own differ (pure).

The platform's decision is the one a live verification would have given at that moment (the card's
status then, from the hotlist history); what the validator knew is its bundle's version, so a card
hotlisted before the tap but after that version is `hotlisted_after_bundle`, not the validator's
fault. A code's single use is settled by the nonce table when the tap is recorded
(handlers/offline/upload.py): a code already used is `qr_reused`, flagged `code_used_twice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from onecard_contracts.offline_bundle import OFFLINE_CLOCK_SKEW_SECONDS, VALIDITY_SECONDS
from onecard_contracts.offline_taps import Finding

from ..verification import HOTLIST_STATUSES

HOTLIST_REASONS = ("card_lost", "card_cancelled", "partner_hotlisted")


class StatusChange(NamedTuple):
    """One entry of a card's hotlist history: its status from `changed_at` on (change `seq`)."""

    seq: int
    status: str
    changed_at: datetime


def status_at(history: list[StatusChange], moment: datetime) -> tuple[str | None, int | None]:
    """A card's status at `moment` and the change that set it, from its changes (the latest
    `changed_at` at or before it; an older change arriving late never undoes a newer one). Before
    its first change a card was in use; with no history at all, (None, None): the card's current
    status stands."""
    if not history:
        return None, None
    before = [c for c in history if c.changed_at <= moment]
    if not before:
        return "active", None
    last = max(before, key=lambda c: (c.changed_at, c.seq))
    return last.status, last.seq


def latest(history: list[StatusChange]) -> StatusChange:
    return max(history, key=lambda c: (c.changed_at, c.seq))


def is_hotlisted(status: str | None) -> bool:
    return status in HOTLIST_STATUSES


def within_bundle(
    tap_at: int, bundle_issued_at: int | None, bundle_version: int | None, current: int
) -> bool:
    """Whether the tap lies in the validity window of the bundle it was decided on (± skew), and
    that bundle could have been issued (its version not ahead of the platform's)."""
    if bundle_issued_at is None or bundle_version is None or bundle_version > current:
        return False
    skew = OFFLINE_CLOCK_SKEW_SECONDS
    return bundle_issued_at - skew <= tap_at < bundle_issued_at + VALIDITY_SECONDS + skew


@dataclass(frozen=True)
class Judged:
    """What the platform decides of one tap, with the hotlist change its refusal rests on."""

    verified: bool
    reason: str | None
    hotlist_seq: int | None = None


def finding_of(
    validator_verified: bool,
    platform: Judged,
    in_bundle: bool,
    bundle_version: int | None,
) -> Finding | None:
    """The one finding of a tap (FINDINGS order), or None when both decisions agree."""
    if validator_verified and platform.reason == "qr_bad_signature":
        return "bad_signature"
    if validator_verified and not in_bundle:
        return "outside_bundle_validity"
    if validator_verified and platform.reason == "qr_reused":
        return "code_used_twice"
    if validator_verified and platform.reason in HOTLIST_REASONS:
        known = platform.hotlist_seq is not None and platform.hotlist_seq <= (bundle_version or 0)
        return "decision_differs" if known else "hotlisted_after_bundle"
    if validator_verified != platform.verified:
        return "decision_differs"
    return None
