"""The platform's second look at an offline tap (onecard_identity.domain.offline.recheck)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onecard_identity.domain.offline.recheck import Judged, StatusChange, finding_of, status_at, within_bundle

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def test_status_at_the_tap_from_the_history() -> None:
    history = [StatusChange(4, "lost", T0), StatusChange(9, "active", T0 + timedelta(hours=2))]
    assert status_at(history, T0 - timedelta(seconds=1)) == ("active", None)
    assert status_at(history, T0 + timedelta(hours=1)) == ("lost", 4)
    assert status_at(history, T0 + timedelta(hours=3)) == ("active", 9)
    # A change arriving late with an older changed_at does not undo a newer one.
    late = [*history, StatusChange(12, "cancelled", T0 + timedelta(hours=1))]
    assert status_at(late, T0 + timedelta(hours=3)) == ("active", 9)
    assert status_at([], T0) == (None, None)


def test_one_finding_per_tap() -> None:
    agree = Judged(True, None)
    assert finding_of(True, agree, True, 3) is None
    assert finding_of(False, Judged(False, "qr_reused"), True, 3) is None  # refused on the spot
    assert finding_of(True, Judged(False, "qr_reused"), True, 3) == "code_used_twice"
    assert finding_of(True, Judged(False, "qr_bad_signature"), True, 3) == "bad_signature"
    assert finding_of(True, agree, False, 3) == "outside_bundle_validity"
    assert finding_of(True, Judged(False, "card_lost", hotlist_seq=4), True, 3) == "hotlisted_after_bundle"
    assert finding_of(True, Judged(False, "card_lost", hotlist_seq=3), True, 3) == "decision_differs"
    assert finding_of(False, agree, True, 3) == "decision_differs"


def test_the_bundle_window_of_a_tap() -> None:
    issued = int(T0.timestamp())
    assert within_bundle(issued + 3600, issued, 5, current=5)
    assert not within_bundle(issued + 13 * 3600, issued, 5, current=5)
    assert not within_bundle(issued + 60, issued, 6, current=5)  # a version the platform never issued
    assert not within_bundle(issued, None, None, current=5)
