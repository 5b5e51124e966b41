"""Orders paid on terms, through orders' real handlers with the order in memory and its jobs in a fake schedule:
when the order becomes overdue is scheduled (net days from the invoice, or from the first shipment), and the
payment, when it lands, takes the order off that schedule. A payment told twice, or a shipment after the payment,
changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.fulfillment import Shipment
from shop_contracts.money import Money
from shop_contracts.values import LocatedLine
from shop_orders.core.jobs import MarkPaymentOverdue
from shop_orders.core.order import Order
from shop_orders.payment import handlers as payment
from shop_orders.payment import terms
from shop_orders.shipping import handlers as shipping
from tests.support.fakes import FakeJobs
from tests.unit.orders.fakes import NOW, FakeOrders, held, placed
from tests.unit.orders.preorders import Step, step

SECRET = "a-secret-of-sixteen-chars"
OVERDUE = MarkPaymentOverdue(order_id="o-1")


def on_terms(kind: str, due_date: date | None = None) -> Order:
    """An order a draft completed on ``kind`` terms: 41,000 won due, nothing charged at checkout."""
    return placed(
        payment_terms=kind,
        net_days=30 if kind == "net" else None,
        payment_due_amount=41000,
        payment_due_date=due_date,
        payment_status="awaiting_payment",
        payment_token=None,
    )


async def confirmed_on_terms(orders: FakeOrders) -> dict[str, str]:
    """Catalog holds the stock: the order is confirmed unpaid and its units go to fulfillment; its groups."""
    told = await held(orders)
    assert told.of_type(payment_contracts.CapturePayment) == []
    [confirmed] = told.of_type(contracts.OrderConfirmed)
    assert confirmed.charged_now == Money(0, "KRW")
    return {group.location: group.id for group in orders.stored["o-1"].groups}


def shipped(orders: FakeOrders, group_id: str, location: str, sku: str, quantity: int, at: datetime) -> Step:
    parcel = Shipment(
        location=location,
        lines=[LocatedLine(sku=sku, quantity=quantity, location=location)],
        carrier="cj",
        tracking_number=f"TRK-{location}",
    )
    return lambda uow: shipping.record_shipment(
        uow,
        order_id="o-1",
        fulfillment_id=f"f-{location}",
        group_id=group_id,
        shipment=parcel,
        now=at,
        orders=orders,
    )


def paid(orders: FakeOrders, payment_id: str = "pay-1") -> Step:
    return lambda uow: payment.confirm_paid_order(
        uow,
        order_id="o-1",
        payment_id=payment_id,
        amount=Money(41000, "KRW"),
        now=NOW + timedelta(days=5),
        balance_notice=timedelta(days=3),
        orders=orders,
    )


async def test_on_fulfillment_terms_fall_due_with_the_first_shipment_and_are_overdue_the_day_after() -> None:
    orders, jobs = FakeOrders(on_terms("on_fulfillment")), FakeJobs()
    groups = await confirmed_on_terms(orders)
    first = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)

    await step(jobs, shipped(orders, groups["seoul-1"], "seoul-1", "TEE-M", 2, first))
    await step(jobs, shipped(orders, groups["busan-1"], "busan-1", "CAP", 1, first + timedelta(days=2)))

    order = orders.stored["o-1"]
    assert (order.payment_due_date, order.payment_status) == (date(2026, 12, 7), "awaiting_payment")
    assert jobs.due(MarkPaymentOverdue) == [(OVERDUE, datetime(2026, 12, 8, tzinfo=UTC))]
    assert jobs.when("order_payment_overdue:o-1") == datetime(2026, 12, 8, tzinfo=UTC)
    assert orders.events_of("o-1").count("payment_due") == 1


async def test_the_payment_takes_the_order_off_the_overdue_schedule_once_however_often_it_is_told() -> None:
    orders, jobs = FakeOrders(on_terms("on_fulfillment")), FakeJobs()
    groups = await confirmed_on_terms(orders)
    await step(jobs, shipped(orders, groups["seoul-1"], "seoul-1", "TEE-M", 2, NOW + timedelta(days=1)))

    first = await step(jobs, paid(orders))
    again = await step(jobs, paid(orders))
    asked_after = await step(
        jobs,
        lambda uow: terms.request_payment_on_terms(
            uow, order_id="o-1", payment_token="tok_visa", bank_transfer_reference=None, orders=orders
        ),
    )

    order = orders.stored["o-1"]
    assert (order.payment_status, order.captured, order.paid_at) == (
        "paid",
        Money(41000, "KRW"),
        NOW + timedelta(days=5),
    )
    assert jobs.due(MarkPaymentOverdue) == []
    assert jobs.cancelled(MarkPaymentOverdue) == [OVERDUE]
    assert first.published == again.published == asked_after.published == []
    assert orders.events_of("o-1").count("payment_captured") == 1


async def test_net_terms_are_overdue_the_day_after_the_due_date_and_a_bank_transfer_pays_them() -> None:
    due = date(2027, 1, 3)
    orders, jobs = FakeOrders(on_terms("net", due)), FakeJobs()
    await confirmed_on_terms(orders)

    await step(jobs, lambda uow: terms.schedule_payment_overdue(uow, order_id="o-1", due_date=due))
    asked = await step(
        jobs,
        lambda uow: terms.request_payment_on_terms(
            uow,
            order_id="o-1",
            payment_token="bank-transfer:KB-0001",
            bank_transfer_reference="KB-0001",
            orders=orders,
        ),
    )
    scheduled = jobs.due(MarkPaymentOverdue)
    await step(jobs, paid(orders))

    assert scheduled == [(OVERDUE, datetime(2027, 1, 4, tzinfo=UTC))]
    [capture] = asked.of_type(payment_contracts.CapturePayment)
    assert (capture.amount, capture.step, capture.bank_transfer_reference) == (
        Money(41000, "KRW"),
        "full",
        "KB-0001",
    )
    assert jobs.due(MarkPaymentOverdue) == []
    assert orders.stored["o-1"].payment_status == "paid"
    assert orders.events_of("o-1")[-2:] == ["payment_requested", "payment_captured"]


async def test_an_order_paid_before_it_shipped_never_falls_due_and_an_overdue_check_finds_it_paid() -> None:
    orders, jobs = FakeOrders(on_terms("on_fulfillment")), FakeJobs()
    groups = await confirmed_on_terms(orders)
    await step(jobs, paid(orders))

    await step(jobs, shipped(orders, groups["seoul-1"], "seoul-1", "TEE-M", 2, NOW + timedelta(days=6)))
    checked = await step(
        jobs,
        lambda uow: terms.mark_payment_overdue(
            uow, order_id="o-1", now=NOW + timedelta(days=40), token_secret=SECRET, orders=orders
        ),
    )

    assert jobs.due(MarkPaymentOverdue) == []
    assert checked.of_type(contracts.OrderPaymentOverdue) == []
    order = orders.stored["o-1"]
    assert (order.payment_status, order.payment_due_date) == ("paid", None)
