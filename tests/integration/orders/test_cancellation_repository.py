"""Cancellation storage against PostgreSQL, and the handler tests' fake held to the same contract: one scenario
runs over ``SqlCancellations`` (each step in a transaction of its own, committed) and over ``FakeCancellations``,
and both answer the same."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from shop_orders.bootstrap import DEFINITION
from shop_orders.cancellation.domain import WinBackCode
from shop_orders.cancellation.repository import Cancellation, Cancellations, SqlCancellations
from shop_orders.core.tables import orders
from shop_runtime.database import Database
from tests.support import infra
from tests.unit.orders.cancellations import FakeCancellations

pytestmark = pytest.mark.integration

ADDRESS = {"name": "Kim", "line1": "1 Teheran-ro", "city": "Seoul", "postal_code": "06236", "country": "KR"}
ASKED_AT = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
DONE_AT = ASKED_AT + timedelta(hours=2)

Open = Callable[[], AbstractAsyncContextManager[Cancellations]]


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[Database]:
    settings = infra.service_settings(DEFINITION, suffix="_cancellations")
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    yield database
    await database.dispose()


async def an_order(database: Database, order_id: str) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.execute(
            sa.insert(orders).values(
                id=order_id, status="confirmed", email="kim@example.com", locale="ko", currency="KRW",
                subtotal=30000, shipping=3000, total=33000, shipping_address=ADDRESS,
                shipping_method="standard", idempotency_key=f"key-{order_id}", request_fingerprint="fp",
            )
        )  # fmt: skip
        await uow.commit()


@pytest.fixture(params=["sql", "fake"])
async def kept(request: pytest.FixtureRequest, database: Database) -> tuple[Open, str]:
    """A way to open the cancellations in a new transaction, and an order id they may be about."""
    order_id = f"can-{request.param}-{uuid.uuid4().hex[:8]}"
    if request.param == "fake":
        fake = FakeCancellations()

        @asynccontextmanager
        async def in_memory() -> AsyncIterator[Cancellations]:
            yield fake

        return in_memory, order_id

    await an_order(database, order_id)

    @asynccontextmanager
    async def in_postgres() -> AsyncIterator[Cancellations]:
        async with database.unit_of_work() as uow:
            yield SqlCancellations(uow.session)
            await uow.commit()

    return in_postgres, order_id


def requested(order_id: str, **changes: object) -> Cancellation:
    values: dict[str, object] = {
        "order_id": order_id,
        "reason": "changed_mind",
        "note": "too late for the party",
        "cancelled_by": "customer",
        "email": "kim@example.com",
        "status": "requested",
        "asked": ["g-1", "g-2"],
        "awaiting": ["g-1", "g-2"],
        "refused": [],
        "refund": 0,
        "offer": {"kind": "percent", "percent_off": 10, "amount_off": {}, "link": None, "valid_days": 30},
        "requested_at": ASKED_AT,
        "completed_at": None,
    }
    return Cancellation(**values | changes)  # type: ignore[arg-type]


async def test_a_cancellation_is_kept_answered_and_completed(kept: tuple[Open, str]) -> None:
    open_cancellations, order_id = kept
    async with open_cancellations() as cancellations:
        assert await cancellations.get(order_id) is None
        await cancellations.request(requested(order_id))
    async with open_cancellations() as cancellations:
        assert await cancellations.get(order_id) == requested(order_id)
        await cancellations.record_answers(order_id, awaiting=["g-2"], refused=["g-1"])
    async with open_cancellations() as cancellations:
        await cancellations.complete(order_id, status="partially_cancelled", refund=8000, now=DONE_AT)
    async with open_cancellations() as cancellations:
        assert await cancellations.get(order_id) == requested(
            order_id,
            status="partially_cancelled",
            awaiting=["g-2"],
            refused=["g-1"],
            refund=8000,
            completed_at=DONE_AT,
        )


async def test_a_refused_cancellation_is_replaced_by_the_next_request(kept: tuple[Open, str]) -> None:
    open_cancellations, order_id = kept
    async with open_cancellations() as cancellations:
        await cancellations.request(requested(order_id))
        await cancellations.refuse(order_id, now=DONE_AT)
    async with open_cancellations() as cancellations:
        refused = await cancellations.get(order_id)
        assert refused is not None
        assert (refused.status, refused.completed_at) == ("refused", DONE_AT)
        again = requested(order_id, reason="found_cheaper", note=None, asked=[], awaiting=[], offer=None)
        await cancellations.request(again)
    async with open_cancellations() as cancellations:
        assert await cancellations.get(order_id) == again


async def test_a_win_back_code_late_payments_and_feedback_are_kept_once(kept: tuple[Open, str]) -> None:
    open_cancellations, order_id = kept
    code = WinBackCode(
        code=f"BACK-{order_id.upper()}",
        kind="fixed_amount",
        expires_at=DONE_AT + timedelta(days=30),
        amount_off=5000,
        currency="KRW",
    )
    async with open_cancellations() as cancellations:
        await cancellations.request(requested(order_id))
        await cancellations.complete(order_id, status="cancelled", refund=33000, now=DONE_AT)
        assert await cancellations.win_back_code(order_id) is None
        assert (
            await cancellations.add_win_back_code(
                code, order_id=order_id, email="kim@example.com", customer_id=None
            )
            == code
        )
    async with open_cancellations() as cancellations:
        assert await cancellations.win_back_code(order_id) == code
        assert await cancellations.count_late_payment(
            payment_id=f"pay-{order_id}", order_id=order_id, what="checkout", amount=33000
        )
    async with open_cancellations() as cancellations:
        assert not await cancellations.count_late_payment(
            payment_id=f"pay-{order_id}", order_id=order_id, what="checkout", amount=33000
        )
        first = await cancellations.keep_feedback(order_id, score=4, comment="nice people", now=DONE_AT)
    async with open_cancellations() as cancellations:
        second = await cancellations.keep_feedback(
            order_id, score=1, comment=None, now=DONE_AT + timedelta(days=1)
        )

    assert first is not None
    assert second is not None
    assert (first.score, first.comment, first.created_at, first.recorded) == (4, "nice people", DONE_AT, True)
    assert (second.score, second.comment, second.created_at, second.recorded) == (
        4,
        "nice people",
        DONE_AT,
        False,
    )
