"""A lapsed hold whose off-session charge fails goes into dunning, against the real PostgreSQL and RabbitMQ: the
customer the confirmation names is told at each failure, the charge is tried again after the wait (each attempt
once, under its own key), a new card is charged at once, and the period's end leaves an unpaid order to staff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import asyncpg
import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.engine import make_url

from shop_contracts import orders
from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_contracts.values import Address, Customer, PricedLineV1
from shop_payments.bootstrap import service_definition
from shop_payments.psp import SandboxPsp
from tests.integration.payments.harness import Payments, payments_of, worker_idle
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

ADDRESS = Address(name="Jane Park", line1="1 Sejong-daero", city="Seoul", postal_code="04524", country="KR")
HOUR = 3600.0

PaymentsWith = Callable[..., AbstractAsyncContextManager[tuple[Payments, str]]]


@pytest.fixture
def payments_with(broker: AbstractRobustConnection) -> PaymentsWith:
    """Payments capturing at shipment with the dunning's wait and period given in seconds, and its database."""

    @asynccontextmanager
    async def running(*, retry_seconds: float, period_seconds: float) -> AsyncIterator[tuple[Payments, str]]:
        sandbox = SandboxPsp()
        definition = service_definition(lambda settings: sandbox)
        settings = infra.service_settings(
            definition,
            capture_mode="at_shipment",
            scheduler_poll_seconds=0.2,
            hold_dunning_retry_hours=retry_seconds / HOUR,
            hold_dunning_period_days=period_seconds / HOUR / 24,
        )
        async with running_service(definition, settings, broker) as service:
            yield Payments(service.client, sandbox), settings.database_url
            await sandbox.close()

    return running


def _checkout(order_id: str, amount: int) -> contracts.CapturePayment:
    return contracts.CapturePayment(
        order_id=order_id,
        step="full",
        amount=Money(amount, "KRW"),
        payment_token="tok_hold_expires_declined",
        save_method=True,
    )


def _confirmed(order_id: str, amount: int) -> orders.OrderConfirmedV1:
    line = PricedLineV1(sku="SHIRT", title="Shirt", quantity=1, unit_price=amount, line_total=amount)
    return orders.OrderConfirmedV1(
        order_id=order_id,
        customer=Customer(email="jane@example.com", locale="ko"),
        currency="KRW",
        lines=[line],
        subtotal=amount,
        shipping=0,
        total=amount,
        shipping_address=ADDRESS,
    )


def _failures(probe: MessageProbe, order_id: str) -> list[contracts.HoldChargeFailed]:
    return [m for m in probe.of_type(contracts.HoldChargeFailed) if m.order_id == order_id]


async def test_a_failed_charge_is_told_tried_again_and_paid_at_once_by_a_new_card(
    payments_with: PaymentsWith, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    async with payments_with(retry_seconds=1, period_seconds=HOUR) as (payments, database):
        await send(broker, _checkout("d-new-card", 39_000), subject="d-new-card")

        async def declined() -> None:
            view = await payments_of(payments.client, "d-new-card")
            assert ("replacement", "failed", 39_000) in [
                (item["kind"], item["status"], item["amount"]) for item in view["items"]
            ]

        # The hold lapses and the off-session charge is declined before orders' confirmation names whom to tell:
        # dunning begins once it is recorded.
        await eventually(declined, timeout=15)
        assert not _failures(probe, "d-new-card")
        await send(broker, _confirmed("d-new-card", 39_000), subject="d-new-card")
        first = await probe.wait_for(
            contracts.HoldChargeFailed, lambda m: m.order_id == "d-new-card" and m.attempt == 1
        )
        assert first.customer == Customer(email="jane@example.com", locale="ko")
        assert (first.amount, first.decline_code, first.requires_action) == (
            Money(39_000, "KRW"),
            "card_declined",
            False,
        )
        assert first.retry_at is not None
        assert first.retry_at < first.give_up_at

        # A second later the same card is tried again, under the next step's key, and declined again.
        second = await probe.wait_for(
            contracts.HoldChargeFailed, lambda m: m.order_id == "d-new-card" and m.attempt == 2
        )
        assert second.give_up_at == first.give_up_at
        keys = [
            c.idempotency_key for c in payments.sandbox.charges if c.idempotency_key.startswith("d-new-card")
        ]
        assert keys[:2] == ["d-new-card:replacement", "d-new-card:replacement:2"]

        replaced = await payments.client.put("/payment-methods/d-new-card", json={"token": "tok_visa"})
        assert replaced.status_code == 200, replaced.text

        async def paid() -> None:
            view = await payments_of(payments.client, "d-new-card")
            assert view["captured"] == 39_000
            assert view["held"] == 0

        await eventually(paid, timeout=15)
        assert await outcome_of(database, "d-new-card") == "paid"
        told = len(_failures(probe, "d-new-card"))
        succeeded = [
            c
            for c in payments.sandbox.charges
            if c.idempotency_key.startswith("d-new-card") and c.result.approved
        ]
        assert len(succeeded) == 1
        # Paid: the dunning ended, a retry still scheduled charges nothing, and nobody is told again.
        await worker_idle()
        assert len(_failures(probe, "d-new-card")) == told


async def outcome_of(database_url: str, order_id: str) -> str | None:
    """How the order's dunning ended, as payments recorded it (None while it runs)."""
    url = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    try:
        outcome: str | None = await connection.fetchval(
            "SELECT outcome FROM hold_dunning WHERE order_id = $1", order_id
        )
        return outcome
    finally:
        await connection.close()


async def test_an_order_still_unpaid_when_the_period_ends_is_left_to_staff(
    payments_with: PaymentsWith, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    async with payments_with(retry_seconds=HOUR, period_seconds=2) as (payments, database):
        await send(broker, _checkout("d-unpaid", 25_000), subject="d-unpaid")
        await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "d-unpaid")
        await send(broker, _confirmed("d-unpaid", 25_000), subject="d-unpaid")
        told = await probe.wait_for(contracts.HoldChargeFailed, lambda m: m.order_id == "d-unpaid")
        # The next try would come after the period's end: none is promised.
        assert told.retry_at is None

        async def ended() -> None:
            assert await outcome_of(database, "d-unpaid") == "unpaid"

        await eventually(ended, timeout=15)
        # A new card after the period is saved, but payments no longer charges it: staff decide.
        replaced = await payments.client.put("/payment-methods/d-unpaid", json={"token": "tok_visa"})
        assert replaced.status_code == 200, replaced.text
        await worker_idle()
        assert (await payments_of(payments.client, "d-unpaid"))["captured"] == 0
        assert [
            c.idempotency_key for c in payments.sandbox.charges if c.idempotency_key.startswith("d-unpaid")
        ] == ["d-unpaid:replacement"]
