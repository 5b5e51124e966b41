"""The warehouse's reports about a paid order, through orders' real handlers with a fake repository and unit of
work: what catalog, payments and the customer are told, and the order as stored. Reports arrive late, twice
and out of order: each test that says so replays them in every order and checks the end is the same.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.fulfillment import Shipment
from shop_contracts.money import Money
from shop_contracts.values import LocatedLine
from shop_orders.core.domain import GroupStatus, OrderStatus
from shop_orders.shipping import handlers as shipping
from tests.support.fakes import FakeUnitOfWork
from tests.unit.orders.fakes import NOW, FakeOrders, held, paid, placed

Report = Callable[[FakeOrders, FakeUnitOfWork], Awaitable[None]]


async def confirmed_order() -> tuple[FakeOrders, dict[str, str]]:
    """A paid order for two T-shirts at seoul-1 and a cap at busan-1; its group ids by location."""
    orders = FakeOrders(placed())
    await held(orders)
    await paid(orders)
    return orders, {group.location: group.id for group in orders.stored["o-1"].groups}


def shipment(location: str, sku: str, quantity: int, short: list[LocatedLine] | None = None) -> Shipment:
    return Shipment(
        location=location,
        lines=[LocatedLine(sku=sku, quantity=quantity, location=location)],
        carrier="cj",
        tracking_number=f"TRK-{location}",
        short_lines=short or [],
    )


def created(group_id: str, location: str) -> Report:
    async def report(orders: FakeOrders, uow: FakeUnitOfWork) -> None:
        await shipping.record_fulfillment_created(
            uow,
            order_id="o-1",
            fulfillment_id=f"f-{location}",
            location=location,
            group_id=group_id,
            orders=orders,
        )

    return report


def picked(group_id: str, location: str, short: list[LocatedLine] | None = None) -> Report:
    async def report(orders: FakeOrders, uow: FakeUnitOfWork) -> None:
        await shipping.record_pick(
            uow,
            order_id="o-1",
            fulfillment_id=f"f-{location}",
            group_id=group_id,
            short_lines=short or [],
            now=NOW,
            orders=orders,
        )

    return report


def packed(group_id: str, location: str) -> Report:
    async def report(orders: FakeOrders, uow: FakeUnitOfWork) -> None:
        await shipping.record_packed(
            uow, order_id="o-1", fulfillment_id=f"f-{location}", group_id=group_id, now=NOW, orders=orders
        )

    return report


def shipped(group_id: str, parcel: Shipment) -> Report:
    async def report(orders: FakeOrders, uow: FakeUnitOfWork) -> None:
        await shipping.record_shipment(
            uow,
            order_id="o-1",
            fulfillment_id=f"f-{parcel.location}",
            group_id=group_id,
            shipment=parcel,
            now=NOW + timedelta(hours=2),
            orders=orders,
        )

    return report


def delivered(group_id: str, parcel: Shipment | None) -> Report:
    async def report(orders: FakeOrders, uow: FakeUnitOfWork) -> None:
        location = parcel.location if parcel else "seoul-1"
        await shipping.record_delivery(
            uow,
            order_id="o-1",
            fulfillment_id=f"f-{location}",
            group_id=group_id,
            shipment=parcel,
            now=NOW + timedelta(days=1),
            orders=orders,
        )

    return report


async def replay(orders: FakeOrders, reports: list[Report]) -> FakeUnitOfWork:
    """Apply the reports one transaction each, as the dispatcher does; everything published, in order."""
    everything = FakeUnitOfWork()
    for report in reports:
        uow = FakeUnitOfWork()
        await report(orders, uow)
        everything.published += uow.published
    return everything


async def test_a_shipment_commits_its_stock_and_tells_the_customer_with_the_tracking_number() -> None:
    orders, groups = await confirmed_order()
    parcel = shipment("seoul-1", "TEE-M", 2)

    told = await replay(
        orders,
        [created(groups["seoul-1"], "seoul-1"), picked(groups["seoul-1"], "seoul-1"),
         packed(groups["seoul-1"], "seoul-1"), shipped(groups["seoul-1"], parcel)],
    )  # fmt: skip

    [commit] = told.of_type(catalog_contracts.CommitStock)
    assert (commit.shipment_id, [(line.sku, line.quantity) for line in commit.lines]) == (
        groups["seoul-1"],
        [("TEE-M", 2)],
    )
    [told_customer] = told.of_type(contracts.OrderShipped)
    assert (told_customer.tracking_number, told_customer.fulfillment_id) == ("TRK-seoul-1", "f-seoul-1")
    order = orders.stored["o-1"]
    group = order.group(groups["seoul-1"])
    assert group is not None
    assert (group.status, group.carrier, group.fulfillment_id) == (GroupStatus.SHIPPED, "cj", "f-seoul-1")
    assert order.status is OrderStatus.PARTIALLY_SHIPPED  # the cap has not left busan-1 yet
    assert orders.events_of("o-1")[-4:] == ["pick_requested", "picked", "packed", "shipped"]


async def test_both_parcels_delivered_deliver_the_order_whatever_order_the_reports_arrive_in() -> None:
    seoul, busan = shipment("seoul-1", "TEE-M", 2), shipment("busan-1", "CAP", 1)
    for arrival in itertools.permutations(range(4)):
        orders, groups = await confirmed_order()
        reports = [
            shipped(groups["seoul-1"], seoul),
            delivered(groups["seoul-1"], seoul),
            shipped(groups["busan-1"], busan),
            delivered(groups["busan-1"], busan),
        ]
        in_arrival_order = [reports[i] for i in arrival]

        told = await replay(orders, in_arrival_order * 2)  # and every report arrives a second time

        order = orders.stored["o-1"]
        assert order.status is OrderStatus.DELIVERED, arrival
        assert {group.status for group in order.groups} == {GroupStatus.DELIVERED}
        committed = {m.shipment_id for m in told.of_type(catalog_contracts.CommitStock)}
        assert committed == set(groups.values())
        assert len(told.of_type(catalog_contracts.CommitStock)) == 2
        assert len(told.of_type(contracts.OrderShipped)) == 2
        assert len(told.of_type(contracts.OrderDelivered)) == 2


async def test_a_delivery_reported_without_its_shipment_waits_for_it() -> None:
    orders, groups = await confirmed_order()
    parcel = shipment("seoul-1", "TEE-M", 2)

    early = await replay(orders, [delivered(groups["seoul-1"], None)])
    assert early.published == []
    later = await replay(orders, [shipped(groups["seoul-1"], parcel)])

    assert [type(m) for m in later.published] == [
        catalog_contracts.CommitStock,
        contracts.OrderShipped,
        contracts.OrderDelivered,
    ]
    group = orders.stored["o-1"].group(groups["seoul-1"])
    assert group is not None
    assert group.status is GroupStatus.DELIVERED


async def test_a_short_pick_refunds_the_missing_units_once_and_ships_the_rest() -> None:
    orders, groups = await confirmed_order()
    short = [LocatedLine(sku="TEE-M", quantity=1, location="seoul-1")]

    told = await replay(orders, [picked(groups["seoul-1"], "seoul-1", short)] * 2)

    [refund] = told.of_type(payment_contracts.IssueRefund)
    assert (refund.amount, refund.reason, refund.idempotency_key) == (
        Money(15000, "KRW"),
        "short_pick",
        "short:f-seoul-1",
    )
    assert told.of_type(catalog_contracts.CommitStock) == []  # the missing unit leaves stock with the parcel
    order = orders.stored["o-1"]
    group = order.group(groups["seoul-1"])
    assert group is not None
    assert group.lines == [{"sku": "TEE-M", "quantity": 1, "location": "seoul-1"}]
    assert (order.line("TEE-M").quantity_refunded, order.refund_requested) == (1, Money(15000, "KRW"))

    parcel = shipment("seoul-1", "TEE-M", 1)
    sent = await replay(orders, [shipped(groups["seoul-1"], parcel)])
    [commit] = sent.of_type(catalog_contracts.CommitStock)
    assert sorted((line.sku, line.quantity) for line in commit.lines) == [("TEE-M", 1), ("TEE-M", 1)]


async def test_nothing_left_to_pick_anywhere_cancels_the_order_and_refunds_shipping_too() -> None:
    orders, groups = await confirmed_order()

    told = await replay(
        orders,
        [
            picked(groups["seoul-1"], "seoul-1", [LocatedLine(sku="TEE-M", quantity=2, location="seoul-1")]),
            picked(groups["busan-1"], "busan-1", [LocatedLine(sku="CAP", quantity=1, location="busan-1")]),
        ],
    )

    assert [m.amount for m in told.of_type(payment_contracts.IssueRefund)] == [
        Money(30000, "KRW"),
        Money(8000 + 3000, "KRW"),
    ]
    [cancelled] = told.of_type(contracts.OrderCancelled)
    assert (cancelled.reason, cancelled.refund) == ("short_pick", Money(11000, "KRW"))
    order = orders.stored["o-1"]
    assert order.status is OrderStatus.CANCELLED
    assert {group.status for group in order.groups} == {GroupStatus.CANCELLED}
    assert order.refund_requested == order.captured == Money(41000, "KRW")


async def test_a_report_about_a_group_orders_has_not_heard_of_is_retried() -> None:
    orders, _ = await confirmed_order()

    with pytest.raises(LookupError):
        await replay(orders, [picked("g-unknown", "seoul-1")])
