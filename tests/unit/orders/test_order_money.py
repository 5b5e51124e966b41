"""The order computes with Money in its own currency: money in another currency is refused where it would enter
the order (a payment, a balance, a refund, a return), never added in as if it were the order's."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop_contracts import payments as payment_contracts
from shop_contracts.money import CurrencyMismatch, Money
from shop_orders.core.domain import GroupStatus, OrderStatus
from shop_orders.payment import balances
from shop_orders.payment import handlers as payment
from shop_orders.returns.domain import ReturnedUnits, refund_for_return
from tests.support.fakes import FakeUnitOfWork
from tests.unit.orders.fakes import KRW, NOW, FakeOrders, held, paid, placed


async def test_a_payment_in_another_currency_than_the_orders_is_refused_and_confirms_nothing() -> None:
    orders = FakeOrders(placed())
    await held(orders)
    uow = FakeUnitOfWork()

    with pytest.raises(CurrencyMismatch):
        await payment.confirm_paid_order(
            uow,
            order_id="o-1",
            payment_id="pay-1",
            amount=Money(4100, "USD"),
            now=NOW,
            balance_notice=timedelta(days=3),
            orders=orders,
        )

    order = orders.stored["o-1"]
    assert (order.status, order.captured) == (OrderStatus.RESERVED, KRW(0))
    assert uow.published == []


async def test_a_refund_in_another_currency_than_the_orders_is_refused_rather_than_mixed_in() -> None:
    orders = FakeOrders(placed())
    await held(orders)
    await paid(orders)
    order = await orders.get("o-1")

    with pytest.raises(CurrencyMismatch):
        order.request_refund(Money(1000, "USD"), key="refund:o-1", reason="changed_mind")

    assert order.refund_requested == KRW(0)
    assert order.take_messages() == []


async def test_a_refund_in_the_orders_currency_is_asked_as_money_never_more_than_was_captured() -> None:
    orders = FakeOrders(placed())
    await held(orders)
    await paid(orders)
    order = await orders.get("o-1")

    order.request_refund(KRW(50000), key="refund:o-1", reason="changed_mind")

    [refund] = [m for m in order.take_messages() if isinstance(m, payment_contracts.IssueRefund)]
    assert (refund.amount, order.refund_requested) == (KRW(41000), KRW(41000))


async def test_a_balance_charged_in_another_currency_than_the_orders_is_refused() -> None:
    orders = FakeOrders(placed(status=OrderStatus.CONFIRMED, captured=41000))
    order = orders.stored["o-1"]
    group = order.add_group(
        "g-1", kind="preorder", location="seoul-1", lines=[], status=GroupStatus.AWAITING_BALANCE
    )
    group.balance_amount = KRW(12000)

    with pytest.raises(CurrencyMismatch):
        await balances.release_paid_group(
            FakeUnitOfWork(),
            order_id="o-1",
            group_id="g-1",
            payment_id="pay-2",
            amount=Money(12000, "USD"),
            orders=orders,
        )

    stored = orders.stored["o-1"]
    [waiting] = stored.groups
    assert (stored.captured, waiting.status) == (KRW(41000), GroupStatus.AWAITING_BALANCE)


def test_a_return_refunds_nothing_from_captures_in_another_currency() -> None:
    with pytest.raises(CurrencyMismatch):
        refund_for_return(
            currency="KRW",
            units=[ReturnedUnits(unit_price=15000, quantity=1, condition="resellable")],
            reason="damaged",
            subtotal=KRW(38000),
            discount=KRW(0),
            return_shipping_fee=0,
            restocking_fee_percent=0,
            refundable=Money(41000, "USD"),
        )
