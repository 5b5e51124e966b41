"""The fulfillment order's lifecycle, without I/O: one step at a time, repeats change nothing."""

from __future__ import annotations

import uuid

import pytest

from shop_fulfillment.domain import (
    AWAITING_WAREHOUSE,
    FulfillmentOrder,
    FulfillmentStatus,
    InvalidPick,
    Line,
    MissingShipmentDetails,
    NotCancellable,
    OutOfOrderReport,
    StatusReached,
    UnexpectedShipmentDetails,
)

PICKED, PACKED, SHIPPED, DELIVERED = (
    FulfillmentStatus.PICKED,
    FulfillmentStatus.PACKED,
    FulfillmentStatus.SHIPPED,
    FulfillmentStatus.DELIVERED,
)


def new_order() -> FulfillmentOrder:
    return FulfillmentOrder(
        id=uuid.uuid4(), order_id="order-1", location="seoul-1", lines=[Line("TEE-M", 2, "seoul-1")]
    )


def test_a_new_order_waits_for_the_warehouse_to_pick_it() -> None:
    order = new_order()
    assert order.status is FulfillmentStatus.PICK_REQUESTED
    assert order.status in AWAITING_WAREHOUSE
    assert order.events == []


def test_the_whole_way_from_shelf_to_door_records_one_event_per_step() -> None:
    order = new_order()
    order.report(PICKED)
    order.report(PACKED)
    order.report(SHIPPED, carrier="cj", tracking_number="CJ123")
    order.report(DELIVERED)
    assert order.status is DELIVERED
    assert order.status not in AWAITING_WAREHOUSE
    assert (order.carrier, order.tracking_number) == ("cj", "CJ123")
    assert order.events == [
        StatusReached(order.id, PICKED),
        StatusReached(order.id, PACKED),
        StatusReached(order.id, SHIPPED, carrier="cj", tracking_number="CJ123"),
        StatusReached(order.id, DELIVERED),
    ]


def test_repeating_the_current_status_changes_nothing() -> None:
    order = new_order()
    order.report(PICKED)
    order.report(PICKED)
    assert order.status is PICKED
    assert order.events == [StatusReached(order.id, PICKED)]


def test_repeating_shipped_with_the_same_tracking_changes_nothing() -> None:
    order = new_order()
    for status in (PICKED, PACKED):
        order.report(status)
    order.report(SHIPPED, carrier="cj", tracking_number="CJ123")
    order.report(SHIPPED, carrier="cj", tracking_number="CJ123")
    assert [event.status for event in order.events] == [PICKED, PACKED, SHIPPED]


def test_shipped_again_with_other_tracking_is_refused_and_keeps_the_first() -> None:
    order = new_order()
    for status in (PICKED, PACKED):
        order.report(status)
    order.report(SHIPPED, carrier="cj", tracking_number="CJ123")
    with pytest.raises(OutOfOrderReport, match="already shipped"):
        order.report(SHIPPED, carrier="cj", tracking_number="CJ999")
    assert order.tracking_number == "CJ123"


@pytest.mark.parametrize(
    ("done", "reported"),
    [
        ((), PACKED),
        ((), DELIVERED),
        ((PICKED,), SHIPPED),
        ((PICKED, PACKED), DELIVERED),
        ((PICKED, PACKED), PICKED),
    ],
)
def test_anything_but_the_next_step_is_refused_naming_the_current_status(
    done: tuple[FulfillmentStatus, ...], reported: FulfillmentStatus
) -> None:
    order = new_order()
    for status in done:
        order.report(status)
    before = order.status
    details = {"carrier": "cj", "tracking_number": "CJ1"} if reported is SHIPPED else {}
    with pytest.raises(OutOfOrderReport) as refused:
        order.report(reported, **details)
    assert refused.value.current is before
    assert f"is {before}" in str(refused.value)
    assert order.status is before
    assert len(order.events) == len(done)


def test_nothing_follows_delivered() -> None:
    order = new_order()
    order.report(PICKED)
    order.report(PACKED)
    order.report(SHIPPED, carrier="cj", tracking_number="CJ1")
    order.report(DELIVERED)
    with pytest.raises(OutOfOrderReport, match="nothing follows"):
        order.report(PICKED)


@pytest.mark.parametrize(
    ("carrier", "tracking_number", "missing"),
    [
        (None, None, ("carrier", "tracking_number")),
        ("cj", None, ("tracking_number",)),
        (None, "CJ1", ("carrier",)),
        ("cj", "", ("tracking_number",)),
    ],
)
def test_shipped_needs_carrier_and_tracking_number(
    carrier: str | None, tracking_number: str | None, missing: tuple[str, ...]
) -> None:
    order = new_order()
    order.report(PICKED)
    order.report(PACKED)
    with pytest.raises(MissingShipmentDetails) as refused:
        order.report(SHIPPED, carrier=carrier, tracking_number=tracking_number)
    assert refused.value.fields == missing
    assert order.status is PACKED


def test_tracking_details_belong_to_shipped_only() -> None:
    order = new_order()
    with pytest.raises(UnexpectedShipmentDetails) as refused:
        order.report(PICKED, tracking_number="CJ1")
    assert refused.value.fields == ("tracking_number",)
    assert order.status is FulfillmentStatus.PICK_REQUESTED


@pytest.mark.parametrize("reached", [[], [PICKED]])
def test_unpacked_pick_work_can_be_cancelled_once(reached: list[FulfillmentStatus]) -> None:
    order = new_order()
    for status in reached:
        order.report(status)
    assert order.cancel() is True
    assert order.status is FulfillmentStatus.CANCELLED
    assert order.events[-1].status is FulfillmentStatus.CANCELLED
    assert order.cancel() is False
    with pytest.raises(OutOfOrderReport, match="was cancelled"):
        order.report(PACKED)


@pytest.mark.parametrize(
    "reached", [[PICKED, PACKED], [PICKED, PACKED, SHIPPED], [PICKED, PACKED, SHIPPED, DELIVERED]]
)
def test_packed_or_shipped_goods_cannot_be_cancelled_only_returned(reached: list[FulfillmentStatus]) -> None:
    order = new_order()
    for status in reached:
        if status is SHIPPED:
            order.report(status, carrier="CJ", tracking_number="1")
        else:
            order.report(status)
    with pytest.raises(NotCancellable, match="return") as refused:
        order.cancel()
    assert refused.value.current is reached[-1]


def test_a_short_pick_ships_what_was_picked_and_records_the_rest() -> None:
    order = FulfillmentOrder(
        id=uuid.uuid4(),
        order_id="order-1",
        location="seoul-1",
        lines=[Line("TEE-M", 3, "seoul-1"), Line("CAP", 1, "seoul-1")],
    )
    order.report_pick({"TEE-M": 2})
    assert order.status is PICKED
    assert order.lines == [Line("TEE-M", 2, "seoul-1"), Line("CAP", 1, "seoul-1")]
    assert order.short_lines == [Line("TEE-M", 1, "seoul-1")]
    assert order.events[-1].short_lines == (Line("TEE-M", 1, "seoul-1"),)


def test_a_pick_of_nothing_cancels_the_fulfillment_order() -> None:
    order = new_order()
    order.report_pick({"TEE-M": 0})
    assert order.status is FulfillmentStatus.CANCELLED
    assert order.lines == []
    assert order.short_lines == [Line("TEE-M", 2, "seoul-1")]


@pytest.mark.parametrize("picked", [{"HAT": 1}, {"TEE-M": 3}, {"TEE-M": -1}])
def test_a_pick_naming_other_skus_or_more_units_than_asked_is_refused(picked: dict[str, int]) -> None:
    order = new_order()
    with pytest.raises(InvalidPick):
        order.report_pick(picked)
    assert order.status is FulfillmentStatus.PICK_REQUESTED


def test_a_whole_pick_is_an_ordinary_picked() -> None:
    order = new_order()
    order.report_pick(None)
    assert order.status is PICKED
    assert order.short_lines == []
