"""The rules of dunning a lapsed hold: each attempt is its own step, and a retry comes only while the period lasts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shop_contracts.money import Money
from shop_payments.holds import REPLACEMENT_STEP, Dunning, replacement_step

BEGAN = datetime(2026, 12, 10, 9, tzinfo=UTC)


def dunning(**changes: object) -> Dunning:
    values: dict[str, object] = {
        "order_id": "ord-1",
        "authorization_id": uuid.uuid4(),
        "owed": Money(42000, "KRW"),
        "began_at": BEGAN,
        "give_up_at": BEGAN + timedelta(days=10),
        **changes,
    }
    return Dunning(**values)  # type: ignore[arg-type]


def test_the_first_attempt_is_the_replacement_step_and_each_retry_a_step_of_its_own() -> None:
    assert replacement_step(1) == REPLACEMENT_STEP
    assert [replacement_step(n) for n in (2, 3)] == ["replacement:2", "replacement:3"]


def test_a_failed_attempt_is_tried_again_after_the_wait_while_the_period_lasts() -> None:
    running = dunning()
    assert running.next_retry(now=BEGAN, retry_after=timedelta(hours=24)) == BEGAN + timedelta(hours=24)
    late = BEGAN + timedelta(days=9, hours=1)
    assert running.next_retry(now=late, retry_after=timedelta(hours=24)) is None


def test_a_dunning_runs_until_it_ends_paid_or_unpaid() -> None:
    assert dunning().running
    assert not dunning(outcome="paid").running
    assert not dunning(outcome="unpaid").running
