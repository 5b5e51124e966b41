"""Cancelling an order through orders' real cancellation handlers, with the order in a ``FakeOrders``, its
cancellation in a ``FakeCancellations`` and its jobs in a ``FakeJobs``: what catalog, payments, fulfillment and the
customer are told, the refund, the jobs cancelled, and the order and its timeline as stored. A request, the
warehouse's reports and fulfillment's answers arrive late, twice and out of order: those tests replay every
arrival order and check the end is the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from shop_contracts import Message
from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation.domain import CancellationResult, WinBackOffer
from shop_orders.core.domain import GroupStatus, OrderStatus
from shop_orders.core.errors import NotCancellable
from shop_orders.core.order import Order
from shop_orders.payment import handlers as payment
from tests.support.fakes import FakeJobs, FakeUnitOfWork
from tests.unit.orders.cancellations import FakeCancellations
from tests.unit.orders.fakes import NOW, FakeOrders, held, paid, placed
from tests.unit.orders.test_shipping_handlers import (
    Report,
    confirmed_order,
    packed,
    picked,
    shipment,
    shipped,
)

M = TypeVar("M", bound=Message)
SECRET = "a-secret-for-feedback-tokens"
LATER = NOW + timedelta(hours=1)
TEN_PERCENT = WinBackOffer(kind="percent", percent_off=10, valid_days=30)


@dataclass
class Shop:
    """Orders' storage and schedule in memory, and everything its handlers published, in order."""

    orders: FakeOrders
    cancellations: FakeCancellations = field(default_factory=FakeCancellations)
    jobs: FakeJobs = field(default_factory=FakeJobs)
    told: list[Message] = field(default_factory=list)

    async def run(self, handler: Callable[[FakeUnitOfWork], Awaitable[Any]]) -> Any:
        """One handler in a unit of work of its own, as the dispatcher runs it; what it published is kept only
        when it succeeds (a handler that raises is rolled back)."""
        uow = FakeUnitOfWork(self.jobs)
        result = await handler(uow)
        self.told += uow.published
        return result

    def of_type(self, message_type: type[M]) -> list[M]:
        return [message for message in self.told if isinstance(message, message_type)]

    def order(self) -> Order:
        """The order as stored now."""
        return self.orders.stored["o-1"]


Step = Callable[[Shop], Awaitable[Any]]


def cancel(
    reason: str = "changed_mind",
    *,
    by: str = "customer",
    offer: WinBackOffer | None = None,
    note: str | None = None,
) -> Step:
    async def step(shop: Shop) -> CancellationResult:
        result: CancellationResult = await shop.run(
            lambda uow: cancellation.cancel_order(
                uow,
                order_id="o-1",
                reason=reason,
                now=LATER,
                note=note,
                cancelled_by=by,
                offer=offer,
                token_secret=SECRET,
                orders=shop.orders,
                cancellations=shop.cancellations,
            )
        )
        return result

    return step


def stopped(group_id: str) -> Step:
    """Fulfillment stopped the group."""
    return lambda shop: shop.run(
        lambda uow: cancellation.fulfillment_cancelled(
            uow,
            order_id="o-1",
            group_id=group_id,
            now=LATER,
            token_secret=SECRET,
            orders=shop.orders,
            cancellations=shop.cancellations,
        )
    )


def not_stopped(group_id: str) -> Step:
    """Fulfillment could not stop the group: the warehouse packed it."""
    return lambda shop: shop.run(
        lambda uow: cancellation.fulfillment_refused(
            uow,
            order_id="o-1",
            group_id=group_id,
            status="packed",
            now=LATER,
            token_secret=SECRET,
            orders=shop.orders,
            cancellations=shop.cancellations,
        )
    )


def reported(report: Report) -> Step:
    """One of the warehouse's reports, through shipping's handler."""
    return lambda shop: shop.run(lambda uow: report(shop.orders, uow))


async def paid_shop() -> tuple[Shop, dict[str, str]]:
    """A paid order for two T-shirts at seoul-1 and a cap at busan-1, both handed to the warehouse."""
    orders, groups = await confirmed_order()
    return Shop(orders), groups


# --- before the warehouse has anything -----------------------------------------------------------------------


async def test_a_placed_order_is_cancelled_at_once_and_stock_reserved_later_goes_straight_back() -> None:
    shop = Shop(FakeOrders(placed()))

    result = await cancel()(shop)

    assert (result.status, result.refund) == ("cancelled", 0)
    assert [m.reason for m in shop.of_type(catalog_contracts.ReleaseStock)] == ["changed_mind"]
    assert shop.of_type(payment_contracts.IssueRefund) == []
    [told] = shop.of_type(contracts.OrderCancelled)
    assert (told.reason, told.refund, told.cancelled_by) == ("changed_mind", Money(0, "KRW"), "customer")
    assert (shop.order().status, shop.order().status_reason) == (OrderStatus.CANCELLED, "changed_mind")
    assert shop.orders.events_of("o-1") == ["cancel_requested", "cancelled"]

    late = await held(shop.orders)  # catalog's reservation lands after the cancellation

    assert [m.reason for m in late.of_type(catalog_contracts.ReleaseStock)] == ["changed_mind"]
    assert late.of_type(payment_contracts.CapturePayment) == []
    assert shop.order().status is OrderStatus.CANCELLED
    assert shop.orders.events_of("o-1")[-1] == "late_reservation_released"


async def test_a_reserved_order_is_cancelled_and_a_payment_landing_later_is_refunded_once() -> None:
    shop = Shop(FakeOrders(placed()))
    await held(shop.orders)

    result = await cancel()(shop)
    for _ in range(2):  # payments tells orders twice
        await shop.run(
            lambda uow: payment.confirm_paid_order(
                uow,
                order_id="o-1",
                payment_id="pay-1",
                amount=Money(41000, "KRW"),
                now=LATER,
                balance_notice=timedelta(days=3),
                orders=shop.orders,
                cancellations=shop.cancellations,
            )
        )

    assert (result.status, result.refund) == ("cancelled", 0)
    assert {group.status for group in shop.order().groups} == {GroupStatus.CANCELLED}
    [refund] = shop.of_type(payment_contracts.IssueRefund)
    assert (refund.amount, refund.reason, refund.idempotency_key) == (
        Money(41000, "KRW"),
        "changed_mind",
        "cancel:o-1:checkout:pay-1",
    )
    assert (shop.order().captured, shop.order().refund_requested) == (
        Money(41000, "KRW"),
        Money(41000, "KRW"),
    )
    assert shop.orders.events_of("o-1").count("late_payment_refunded") == 1


async def test_a_payment_for_an_order_not_cancelled_is_left_to_confirm_the_order() -> None:
    shop = Shop(FakeOrders(placed()))
    await held(shop.orders)

    counted = await shop.run(
        lambda uow: cancellation.refund_after_cancel(
            uow,
            order_id="o-1",
            payment_id="pay-1",
            amount=Money(41000, "KRW"),
            what="checkout",
            orders=shop.orders,
            cancellations=shop.cancellations,
        )
    )

    assert not counted
    assert shop.told == []
    assert shop.order().status is OrderStatus.RESERVED


@pytest.mark.parametrize("card_hold", [True, False])
async def test_the_cancellation_says_whether_what_goes_back_was_only_held_on_the_card(
    card_hold: bool,
) -> None:
    orders = FakeOrders(placed())
    await held(orders)
    await paid(orders, held=card_hold)
    groups = {group.location: group.id for group in orders.stored["o-1"].groups}
    shop = Shop(orders)

    await cancel()(shop)
    for group_id in groups.values():
        await stopped(group_id)(shop)

    [told] = shop.of_type(contracts.OrderCancelled)
    assert (told.refund, told.held) == (Money(41000, "KRW"), card_hold)
    [refund] = shop.of_type(payment_contracts.IssueRefund)
    assert refund.amount == Money(41000, "KRW")  # payments releases the hold, or refunds the capture


# --- with the warehouse ----------------------------------------------------------------------------------------


async def test_a_paid_order_is_stopped_at_the_warehouse_and_then_refunded_in_full() -> None:
    shop, groups = await paid_shop()

    asked = await cancel()(shop)

    assert (asked.status, asked.refund) == ("requested", 0)  # the API answers 202
    stop = shop.of_type(fulfillment_contracts.CancelFulfillmentOrder)
    assert sorted((m.group_id, m.location) for m in stop) == sorted((g, loc) for loc, g in groups.items())
    assert shop.of_type(payment_contracts.IssueRefund) == []
    assert shop.order().status is OrderStatus.CONFIRMED

    await stopped(groups["seoul-1"])(shop)
    assert shop.of_type(contracts.OrderCancelled) == []  # busan-1 has not answered yet
    await stopped(groups["busan-1"])(shop)

    [refund] = shop.of_type(payment_contracts.IssueRefund)
    assert (refund.amount, refund.reason, refund.idempotency_key) == (
        Money(41000, "KRW"),
        "changed_mind",
        "cancel:o-1",
    )
    [told] = shop.of_type(contracts.OrderCancelled)
    assert (told.refund, told.partial) == (Money(41000, "KRW"), False)
    assert [m.lines for m in shop.of_type(catalog_contracts.ReleaseStock)] == [None]
    assert shop.order().status is OrderStatus.CANCELLED
    assert {group.status for group in shop.order().groups} == {GroupStatus.CANCELLED}
    kept = shop.cancellations.by_order["o-1"]
    assert (kept.status, kept.refund, kept.awaiting) == ("cancelled", 41000, [])
    events = shop.orders.events_of("o-1")
    assert events[-4:] == ["cancel_requested", "fulfillment_cancelled", "fulfillment_cancelled", "cancelled"]


async def test_a_partly_shipped_order_cancels_and_refunds_only_what_has_not_shipped() -> None:
    shop, groups = await paid_shop()
    seoul = groups["seoul-1"]
    parcel = shipment("seoul-1", "TEE-M", 2)
    for report in (picked(seoul, "seoul-1"), packed(seoul, "seoul-1"), shipped(seoul, parcel)):
        await reported(report)(shop)
    assert shop.order().status is OrderStatus.PARTIALLY_SHIPPED
    shop.told.clear()

    asked = await cancel()(shop)
    await stopped(groups["busan-1"])(shop)

    assert asked.status == "requested"
    assert [m.group_id for m in shop.of_type(fulfillment_contracts.CancelFulfillmentOrder)] == [
        groups["busan-1"]
    ]
    [refund] = shop.of_type(payment_contracts.IssueRefund)
    assert refund.amount == Money(8000, "KRW")  # the cap; the shipping of the parcel that left is kept
    [release] = shop.of_type(catalog_contracts.ReleaseStock)
    assert [(line.sku, line.quantity) for line in release.lines or []] == [("CAP", 1)]
    [told] = shop.of_type(contracts.OrderCancelled)
    assert (told.refund, told.partial) == (Money(8000, "KRW"), True)
    assert shop.order().status is OrderStatus.PARTIALLY_FULFILLED
    assert shop.cancellations.by_order["o-1"].status == "partially_cancelled"
    assert shop.orders.events_of("o-1")[-1] == "partially_cancelled"


@pytest.mark.parametrize("how_far", ["packed", "shipped"])
async def test_an_order_the_warehouse_packed_or_shipped_in_full_is_refused_and_nothing_is_sent(
    how_far: str,
) -> None:
    shop, groups = await paid_shop()
    for location, sku, quantity in (("seoul-1", "TEE-M", 2), ("busan-1", "CAP", 1)):
        await reported(packed(groups[location], location))(shop)
        if how_far == "shipped":
            await reported(shipped(groups[location], shipment(location, sku, quantity)))(shop)
    before = (shop.order().status, shop.orders.events_of("o-1"))
    shop.told.clear()

    with pytest.raises(NotCancellable, match="request a return"):  # the API answers 409 not_cancellable
        await cancel()(shop)

    assert shop.told == []
    assert shop.cancellations.by_order == {}
    assert (shop.order().status, shop.orders.events_of("o-1")) == before


# --- the same request twice, and in every arrival order --------------------------------------------------------


async def test_a_repeated_cancellation_answers_what_the_first_did_and_sends_nothing_twice() -> None:
    shop, groups = await paid_shop()

    first = await cancel()(shop)
    while_asking = await cancel()(shop)
    for group_id in groups.values():
        await stopped(group_id)(shop)
        await stopped(group_id)(shop)  # fulfillment's answer told twice
    after = await cancel("found_cheaper", note="again")(shop)

    assert first == while_asking == CancellationResult("o-1", "requested", "changed_mind", 0)
    assert after == CancellationResult("o-1", "cancelled", "changed_mind", 41000)
    assert len(shop.of_type(fulfillment_contracts.CancelFulfillmentOrder)) == 2
    assert [m.amount for m in shop.of_type(payment_contracts.IssueRefund)] == [Money(41000, "KRW")]
    assert len(shop.of_type(catalog_contracts.ReleaseStock)) == 1
    assert len(shop.of_type(contracts.OrderCancelled)) == 1
    assert shop.orders.events_of("o-1").count("cancel_requested") == 1
    assert shop.orders.events_of("o-1").count("cancelled") == 1


async def replay(shop: Shop, steps: list[Step]) -> None:
    for step in steps:
        await step(shop)


async def test_a_cancellation_the_warehouse_could_still_stop_ends_the_same_whenever_its_pick_is_reported() -> (
    None
):
    arrivals = 0
    for arrival in itertools.permutations(range(4)):
        shop, groups = await paid_shop()
        steps = [
            cancel(),
            reported(picked(groups["seoul-1"], "seoul-1")),
            stopped(groups["seoul-1"]),
            stopped(groups["busan-1"]),
        ]
        if arrival.index(0) > min(arrival.index(2), arrival.index(3)):
            continue  # fulfillment answers only once it was asked
        arrivals += 1

        await replay(shop, [steps[i] for i in arrival] * 2)  # and everything arrives a second time

        assert shop.order().status is OrderStatus.CANCELLED, arrival
        assert {group.status for group in shop.order().groups} == {GroupStatus.CANCELLED}, arrival
        assert [m.amount for m in shop.of_type(payment_contracts.IssueRefund)] == [Money(41000, "KRW")], (
            arrival
        )
        assert len(shop.of_type(contracts.OrderCancelled)) == 1, arrival
        assert len(shop.of_type(catalog_contracts.ReleaseStock)) == 1, arrival
        assert shop.cancellations.by_order["o-1"].status == "cancelled", arrival
    assert arrivals == 8


async def test_a_cancellation_arriving_with_the_warehouses_packing_keeps_the_parcel_in_every_arrival_order() -> (
    None
):
    """Asked while the warehouse packs the T-shirts: fulfillment stops the cap but not the parcel, which ships;
    however its reports and fulfillment's answers are ordered, the customer pays for the parcel only."""
    for arrival in itertools.permutations(range(4)):
        shop, groups = await paid_shop()
        seoul, busan = groups["seoul-1"], groups["busan-1"]
        await cancel()(shop)
        steps = [
            reported(packed(seoul, "seoul-1")),
            reported(shipped(seoul, shipment("seoul-1", "TEE-M", 2))),
            not_stopped(seoul),
            stopped(busan),
        ]

        await replay(shop, [steps[i] for i in arrival] * 2)

        order = shop.order()
        assert order.status is OrderStatus.PARTIALLY_FULFILLED, arrival
        assert [(g.id, g.status) for g in order.groups if g.id == seoul] == [(seoul, GroupStatus.SHIPPED)]
        assert [(g.id, g.status) for g in order.groups if g.id == busan] == [(busan, GroupStatus.CANCELLED)]
        assert [m.amount for m in shop.of_type(payment_contracts.IssueRefund)] == [Money(8000, "KRW")], (
            arrival
        )
        [told] = shop.of_type(contracts.OrderCancelled)
        assert (told.refund, told.partial) == (Money(8000, "KRW"), True), arrival
        [release] = shop.of_type(catalog_contracts.ReleaseStock)
        assert [(line.sku, line.quantity) for line in release.lines or []] == [("CAP", 1)], arrival
        assert len(shop.of_type(contracts.OrderShipped)) == 1, arrival
        assert shop.cancellations.by_order["o-1"].status == "partially_cancelled", arrival


async def test_a_cancellation_arriving_after_the_warehouse_packed_everything_it_was_asked_about_is_refused() -> (
    None
):
    """Only the T-shirts were with the warehouse (the cap shipped): fulfillment cannot stop them either, so nothing
    is cancelled, nothing refunded, and the order goes on as if never asked."""
    for arrival in itertools.permutations(range(2)):
        shop, groups = await paid_shop()
        seoul, busan = groups["seoul-1"], groups["busan-1"]
        await reported(shipped(busan, shipment("busan-1", "CAP", 1)))(shop)
        await cancel()(shop)
        steps = [reported(packed(seoul, "seoul-1")), not_stopped(seoul)]

        await replay(shop, [steps[i] for i in arrival] * 2)

        assert shop.cancellations.by_order["o-1"].status == "refused", arrival
        assert shop.of_type(payment_contracts.IssueRefund) == [], arrival
        assert shop.of_type(contracts.OrderCancelled) == [], arrival
        assert shop.of_type(catalog_contracts.ReleaseStock) == [], arrival
        assert shop.order().status is OrderStatus.PARTIALLY_SHIPPED, arrival
        assert shop.orders.events_of("o-1").count("cancel_refused") == 1, arrival
        with pytest.raises(NotCancellable):  # asked again now that it is packed: a return is the way
            await cancel()(shop)
