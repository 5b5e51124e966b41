"""Orders' checkout and payment steps as handlers, with a fake repository and unit of work (no database, no
broker).

Each test drives the real handler as the dispatcher would and checks what payments, fulfillment, catalog and
the customer would see: the messages published, the order as stored and its timeline. The same steps run
against PostgreSQL and RabbitMQ in the integration, system and chaos suites; these pin the decisions, fast,
including what a step told twice or told late does.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_orders.cancellation import handlers as cancellation
from shop_orders.checkout import handlers as checkout
from shop_orders.core.domain import STOCK_LOST_REASON, GroupStatus, OrderStatus
from shop_orders.core.errors import UnknownOrder
from shop_orders.payment import handlers as payment
from tests.support.fakes import FakeUnitOfWork
from tests.unit.orders.cancellations import FakeCancellations
from tests.unit.orders.fakes import HELD, NOW, FakeOrders, held, paid, placed


async def test_held_stock_asks_payments_for_the_total_and_groups_the_units_by_location() -> None:
    orders = FakeOrders(placed())

    uow = await held(orders)

    [capture] = uow.of_type(payment_contracts.CapturePayment)
    assert (capture.amount, capture.payment_token) == (Money(41000, "KRW"), "tok_visa")
    assert capture.save_method
    assert not capture.balance_later
    order = orders.stored["o-1"]
    assert order.status is OrderStatus.RESERVED
    assert order.charged_now == Money(41000, "KRW")
    assert [(group.location, group.status, group.lines) for group in order.groups] == [
        ("busan-1", GroupStatus.RESERVED, [{"sku": "CAP", "quantity": 1, "location": "busan-1"}]),
        ("seoul-1", GroupStatus.RESERVED, [{"sku": "TEE-M", "quantity": 2, "location": "seoul-1"}]),
    ]
    assert [(line.sku, line.paid_now, line.balance) for line in order.lines] == [
        ("TEE-M", Money(30000, "KRW"), Money(0, "KRW")),
        ("CAP", Money(8000, "KRW"), Money(0, "KRW")),
    ]
    assert orders.events_of("o-1") == ["stock_reserved"]


async def test_a_discount_comes_off_what_checkout_charges() -> None:
    orders = FakeOrders(placed(discount=4100, total=36900))

    uow = await held(orders)

    [capture] = uow.of_type(payment_contracts.CapturePayment)
    assert capture.amount == Money(36900, "KRW")
    assert orders.stored["o-1"].total == Money(36900, "KRW")


async def test_stock_held_twice_asks_for_one_payment_and_keeps_one_set_of_groups() -> None:
    orders = FakeOrders(placed())
    await held(orders)

    again = await held(orders)

    assert again.published == []
    assert len(orders.stored["o-1"].groups) == 2
    assert orders.events_of("o-1") == ["stock_reserved"]


async def test_stock_held_after_the_order_was_cancelled_goes_back_to_catalog() -> None:
    orders = FakeOrders(placed(status=OrderStatus.CANCELLED, status_reason="customer_request"))

    uow = await held(orders)

    assert [(m.order_id, m.reason) for m in uow.of_type(catalog_contracts.ReleaseStock)] == [
        ("o-1", "customer_request")
    ]
    assert uow.of_type(payment_contracts.CapturePayment) == []
    assert orders.stored["o-1"].status is OrderStatus.CANCELLED
    assert orders.events_of("o-1") == ["late_reservation_released"]


async def test_a_hold_for_an_id_that_is_no_order_is_left_to_drafts() -> None:
    uow = FakeUnitOfWork()

    handled = await checkout.take_payment_for_reserved_stock(
        uow, order_id="draft-7", lines=HELD, preorder_lines=[], orders=FakeOrders()
    )

    assert handled is False
    assert uow.published == []


async def test_an_order_on_payment_terms_is_confirmed_unpaid_and_goes_to_the_warehouse() -> None:
    orders = FakeOrders(placed(payment_terms="net", net_days=30, payment_due_amount=41000))

    uow = await held(orders)

    assert uow.of_type(payment_contracts.CapturePayment) == []
    [confirmed] = uow.of_type(contracts.OrderConfirmed)
    assert confirmed.charged_now == Money(0, "KRW")
    assert sorted(m.location for m in uow.of_type(fulfillment_contracts.CreateFulfillmentOrder)) == [
        "busan-1",
        "seoul-1",
    ]
    order = orders.stored["o-1"]
    assert order.status is OrderStatus.CONFIRMED
    assert order.payment_token is None
    assert {group.status for group in order.groups} == {GroupStatus.RELEASED}
    assert orders.events_of("o-1") == ["stock_reserved", "confirmed"]


async def test_missing_stock_rejects_the_order_and_frees_its_discount_code() -> None:
    orders = FakeOrders(placed(discount_code="WINBACK-1"))
    uow = FakeUnitOfWork()

    assert await checkout.reject_for_missing_stock(
        uow, order_id="o-1", detail="TEE-M: 0 left", now=NOW, orders=orders
    )

    [rejected] = uow.of_type(contracts.OrderRejected)
    assert (rejected.reason, rejected.detail, rejected.customer.email) == (
        "out_of_stock",
        "TEE-M: 0 left",
        "minsu@example.com",
    )
    assert orders.stored["o-1"].status is OrderStatus.REJECTED
    assert orders.freed_codes == ["o-1"]


async def test_missing_stock_told_after_the_order_was_paid_cancels_it_and_refunds_everything_once() -> None:
    # An order placed with a hold asks for the capture at once: catalog may refuse after it (the hold expired).
    orders, cancellations = FakeOrders(placed()), FakeCancellations()
    await held(orders)
    await paid(orders)
    uow = FakeUnitOfWork()

    await checkout.reject_for_missing_stock(
        uow, order_id="o-1", detail="hold expired", now=NOW, orders=orders, cancellations=cancellations
    )
    again = FakeUnitOfWork()
    await checkout.reject_for_missing_stock(
        again, order_id="o-1", detail="hold expired", now=NOW, orders=orders, cancellations=cancellations
    )

    assert again.published == []
    # released to fulfillment when paid: fulfillment is asked to stop both groups before the refund
    assert len(uow.of_type(fulfillment_contracts.CancelFulfillmentOrder)) == 2
    stopped = FakeUnitOfWork()
    for group in orders.stored["o-1"].groups:
        await cancellation.fulfillment_cancelled(
            stopped, order_id="o-1", group_id=group.id, now=NOW, orders=orders, cancellations=cancellations
        )
    [cancelled] = stopped.of_type(contracts.OrderCancelled)
    assert cancelled.reason == STOCK_LOST_REASON
    [refund] = stopped.of_type(payment_contracts.IssueRefund)
    assert refund.amount == Money(41000, "KRW")
    assert orders.stored["o-1"].status is OrderStatus.CANCELLED
    assert [m.reason for m in stopped.of_type(catalog_contracts.ReleaseStock)] == [STOCK_LOST_REASON]


async def test_a_payment_that_succeeds_after_the_order_was_rejected_is_refunded_once() -> None:
    orders, cancellations = FakeOrders(placed()), FakeCancellations()
    await held(orders)  # the capture is on its way
    await checkout.reject_for_missing_stock(
        FakeUnitOfWork(), order_id="o-1", detail="hold expired", now=NOW, orders=orders
    )

    refunds = []
    for _ in range(2):
        uow = FakeUnitOfWork()
        await payment.confirm_paid_order(
            uow,
            order_id="o-1",
            payment_id="pay-1",
            amount=Money(41000, "KRW"),
            now=NOW,
            balance_notice=timedelta(days=3),
            orders=orders,
            cancellations=cancellations,
        )
        refunds += uow.of_type(payment_contracts.IssueRefund)
        assert uow.of_type(contracts.OrderConfirmed) == []

    assert [refund.amount for refund in refunds] == [Money(41000, "KRW")]
    order = orders.stored["o-1"]
    assert order.status is OrderStatus.REJECTED
    assert (order.captured, order.refund_requested) == (Money(41000, "KRW"), Money(41000, "KRW"))


async def test_payment_confirms_the_order_then_sends_each_group_to_its_warehouse() -> None:
    orders = FakeOrders(placed())
    await held(orders)

    uow = await paid(orders)

    assert [type(m) for m in uow.published] == [
        contracts.OrderConfirmed,
        fulfillment_contracts.CreateFulfillmentOrder,
        fulfillment_contracts.CreateFulfillmentOrder,
    ]
    [confirmed] = uow.of_type(contracts.OrderConfirmed)
    assert (confirmed.total, [line.line_total for line in confirmed.lines]) == (
        Money(41000, "KRW"),
        [Money(30000, "KRW"), Money(8000, "KRW")],
    )
    assert confirmed.charged_now is None  # no pre-order line: the email thanks for the whole payment
    created = {m.location: m for m in uow.of_type(fulfillment_contracts.CreateFulfillmentOrder)}
    assert [line.sku for line in created["seoul-1"].lines] == ["TEE-M"]
    assert created["seoul-1"].shipping_address.city == "Seoul"
    order = orders.stored["o-1"]
    assert (order.status, order.captured, order.payment_token) == (
        OrderStatus.CONFIRMED,
        Money(41000, "KRW"),
        None,
    )
    assert {group.id for group in order.groups} == {m.group_id for m in created.values()}
    assert {group.status for group in order.groups} == {GroupStatus.RELEASED}
    assert orders.events_of("o-1") == ["stock_reserved", "payment_captured", "confirmed"]


async def test_payment_told_twice_sends_the_groups_once() -> None:
    orders = FakeOrders(placed())
    await held(orders)
    await paid(orders)

    again = await paid(orders)

    assert again.published == []
    assert orders.events_of("o-1") == ["stock_reserved", "payment_captured", "confirmed"]


async def test_a_group_with_a_balance_is_charged_before_it_is_released() -> None:
    orders = FakeOrders(placed())
    await held(orders)
    order = orders.stored["o-1"]
    order.groups[0].balance_amount = Money(5000, "KRW")

    uow = await paid(orders)

    [charge] = uow.of_type(payment_contracts.ChargeBalance)
    assert (charge.group_id, charge.amount, charge.attempt) == (order.groups[0].id, Money(5000, "KRW"), 1)
    assert [m.group_id for m in uow.of_type(fulfillment_contracts.CreateFulfillmentOrder)] == [
        order.groups[1].id
    ]
    assert orders.stored["o-1"].groups[0].status is GroupStatus.AWAITING_BALANCE


async def test_a_declined_card_gives_the_stock_back_and_rejects() -> None:
    orders = FakeOrders(placed(discount_code="WINBACK-1"))
    await held(orders)
    uow = FakeUnitOfWork()

    await payment.reject_for_failed_payment(
        uow, order_id="o-1", decline_code="card_declined", message="Do not honor", orders=orders
    )

    assert [type(m) for m in uow.published] == [catalog_contracts.ReleaseStock, contracts.OrderRejected]
    assert uow.of_type(catalog_contracts.ReleaseStock)[0].reason == "payment_declined"
    assert uow.of_type(contracts.OrderRejected)[0].detail == "card_declined: Do not honor"
    order = orders.stored["o-1"]
    assert (order.status, order.status_reason, order.payment_token) == (
        OrderStatus.REJECTED,
        "payment_declined",
        None,
    )
    assert orders.freed_codes == ["o-1"]
    assert orders.events_of("o-1") == ["stock_reserved", "payment_failed", "rejected"]


async def test_a_decline_told_after_the_payment_went_through_changes_nothing() -> None:
    orders = FakeOrders(placed())
    await held(orders)
    await paid(orders)
    uow = FakeUnitOfWork()

    await payment.reject_for_failed_payment(
        uow, order_id="o-1", decline_code="card_declined", message="late", orders=orders
    )

    assert uow.published == []
    assert orders.stored["o-1"].status is OrderStatus.CONFIRMED


async def test_a_payment_for_an_unknown_order_is_refused_so_it_is_retried_or_parked() -> None:
    with pytest.raises(UnknownOrder):
        await paid(FakeOrders(), order_id="o-404")
