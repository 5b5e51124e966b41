"""Whole customer journeys for the soak: orders kept, cancelled by the customer or staff in several states,
shipped and delivered, or delivered and returned (request, approval, warehouse receipt, refund).

Each journey places its order, waits for the state it acts in (polling the gateway with a deadline), acts the
way a storefront, a member of staff or a warehouse would (retrying through a process that restarts), then
says whether it ended as a customer would expect: its final status, what was refunded, its return refunded.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx

from shop_storefront import UnexpectedAnswer, Warehouse, checkout, steps_to_delivered
from tests.chaos.conftest import WAREHOUSE_KEY
from tests.chaos.shop import PRICE, THROUGH_RESTARTS, Placed, place, retrying_staff, retrying_storefront

RETURN_SHIPPING_FEE = 3000  # SHOP_ORDERS_RETURN_SHIPPING_FEE for KRW, the customer's reason
RESTOCKING_PERCENT = 10  # SHOP_ORDERS_RESTOCKING_FEE_PERCENT, for changed_mind


class Kind(StrEnum):
    KEPT = "in-stock kept"
    PREORDER = "pre-order kept"
    DELIVERED = "delivered"
    CUSTOMER_CANCELS_AT_ONCE = "customer cancels at once"
    CUSTOMER_CANCELS_PREORDER = "customer cancels confirmed pre-order"
    CUSTOMER_CANCELS_PICK_REQUESTED = "customer cancels, pick requested"
    STAFF_CANCELS_PICKED = "staff cancels, picked"
    STAFF_CANCELS_PREORDER = "staff cancels confirmed pre-order"
    RETURN_CHANGED_MIND = "returned resellable (changed mind)"
    RETURN_DAMAGED = "returned damaged"


CANCELLED = {
    Kind.CUSTOMER_CANCELS_AT_ONCE,
    Kind.CUSTOMER_CANCELS_PREORDER,
    Kind.CUSTOMER_CANCELS_PICK_REQUESTED,
    Kind.STAFF_CANCELS_PICKED,
    Kind.STAFF_CANCELS_PREORDER,
}
RETURNED = {Kind.RETURN_CHANGED_MIND, Kind.RETURN_DAMAGED}
PREORDER_KINDS = {Kind.PREORDER, Kind.CUSTOMER_CANCELS_PREORDER, Kind.STAFF_CANCELS_PREORDER}

# Twenty journeys in a round: half kept as placed, a quarter cancelled, the rest shipped (a fifth returned).
ROUND: tuple[Kind, ...] = (
    *[Kind.KEPT] * 5,
    *[Kind.PREORDER] * 4,
    Kind.DELIVERED,
    Kind.DELIVERED,
    Kind.CUSTOMER_CANCELS_AT_ONCE,
    Kind.CUSTOMER_CANCELS_PREORDER,
    Kind.CUSTOMER_CANCELS_PICK_REQUESTED,
    Kind.STAFF_CANCELS_PICKED,
    Kind.STAFF_CANCELS_PREORDER,
    Kind.RETURN_CHANGED_MIND,
    Kind.RETURN_CHANGED_MIND,
    Kind.RETURN_DAMAGED,
    Kind.RETURN_DAMAGED,
)


def mix(count: int) -> list[Kind]:
    return [ROUND[i % len(ROUND)] for i in range(count)]


@dataclass
class Journey:
    kind: Kind
    body: dict[str, Any]
    placed: Placed | None = None
    acted_in: str = ""  # the state the order was seen in just before the customer, staff or warehouse acted
    return_id: str = ""
    return_view: dict[str, Any] = field(default_factory=dict)
    failure: str = ""

    @property
    def view(self) -> dict[str, Any]:
        return {} if self.placed is None else self.placed.view

    @property
    def expected_status(self) -> str:
        if self.kind in CANCELLED:
            return "cancelled"
        if self.kind in RETURNED or self.kind is Kind.DELIVERED:
            return "delivered"
        return "confirmed"

    @property
    def expected_refund(self) -> int | None:
        """What the customer gets back; None when it is all that was captured (a whole cancellation)."""
        if self.kind in CANCELLED:
            return None
        if self.kind is Kind.RETURN_CHANGED_MIND:
            return PRICE - RETURN_SHIPPING_FEE - PRICE * RESTOCKING_PERCENT // 100
        if self.kind is Kind.RETURN_DAMAGED:
            return PRICE
        return 0

    def payments(self) -> tuple[int, int]:
        shown = self.placed.payments if self.placed is not None else {}
        return int(shown.get("captured", 0)), int(shown.get("refunded", 0))

    def done(self) -> bool:
        """Ended as its customer expects: final status, refund and (for a return) the return refunded."""
        if self.placed is None or self.failure or self.view.get("status") != self.expected_status:
            return False
        if not self.placed.payments:
            return False  # payments could not be shown in this view
        captured, refunded = self.payments()
        expected = captured if self.expected_refund is None else self.expected_refund
        if refunded != expected:
            return False
        return self.kind not in RETURNED or self.return_view.get("status") == "refunded"

    def refunded_too_much(self) -> bool:
        captured, refunded = self.payments()
        expected = captured if self.expected_refund is None else self.expected_refund
        return refunded > expected


async def _until(
    read: Callable[[], Awaitable[dict[str, Any]]],
    reached: Callable[[dict[str, Any]], bool],
    *,
    timeout: float,
    what: str,
    poll_seconds: float = 0.5,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        seen = await read()
        if reached(seen):
            return seen
        assert time.monotonic() < deadline, f"{what} not reached within {timeout}s: {str(seen)[:600]}"
        await asyncio.sleep(poll_seconds)


def _fulfillment_ids(view: dict[str, Any]) -> list[str]:
    return [g["fulfillment_id"] for g in view.get("shipment_groups", []) if g.get("fulfillment_id")]


def _state(view: dict[str, Any]) -> str:
    groups = ",".join(sorted({str(g.get("status")) for g in view.get("shipment_groups", [])}))
    return f"{view.get('status')}" + (f" (groups {groups})" if groups else "")


class Driver:
    """Drives journeys through one gateway, ``limit`` at a time once placed.

    ``poll_seconds`` is how often a journey looks at its order while it waits for the state it acts in: a
    customer who acts the moment a state shows meets whatever that state does not hold yet."""

    def __init__(
        self, gateway: httpx.AsyncClient, *, timeout: float = 240, poll_seconds: float = 0.5
    ) -> None:
        self.gateway = gateway
        self.storefront = retrying_storefront(gateway)
        self.staff = retrying_staff(gateway)
        self.warehouse = Warehouse(gateway, WAREHOUSE_KEY, retry=THROUGH_RESTARTS)
        self.timeout = timeout
        self.poll_seconds = poll_seconds

    async def refresh(self, journey: Journey) -> dict[str, Any]:
        assert journey.placed is not None
        journey.placed.view = await self.storefront.order(journey.placed.access)
        return journey.placed.view

    async def order_in(self, journey: Journey, reached: Callable[[dict[str, Any]], bool], what: str) -> None:
        await _until(
            lambda: self.refresh(journey),
            reached,
            timeout=self.timeout,
            what=f"{what} ({journey.kind})",
            poll_seconds=self.poll_seconds,
        )

    async def cancel(self, journey: Journey, *, staff: bool, reason: str) -> None:
        assert journey.placed is not None
        placed = journey.placed
        journey.acted_in = _state(placed.view) if placed.view else "just placed"
        if staff:
            answer = await self.staff.cancel(placed.id, reason)
        else:
            answer = await self.storefront.cancel(placed.access, reason)
        assert answer.status_code in (200, 202), f"cancel {placed.id}: {answer.status_code} {answer.text}"

    async def report(self, fulfillment_id: str, event: dict[str, Any]) -> None:
        """Report a step; a repeat (after an answer lost to a restart) changes nothing."""
        answer = await self.warehouse.report(fulfillment_id, event)
        assert answer.status_code == 200, f"warehouse {event['type']}: {answer.status_code} {answer.text}"

    async def deliver(self, journey: Journey) -> None:
        await self.order_in(journey, lambda v: bool(_fulfillment_ids(v)), "pick requested")
        (fulfillment_id,) = _fulfillment_ids(journey.view)
        for event in steps_to_delivered(f"CJ{fulfillment_id[:12]}"):
            await self.report(fulfillment_id, event)
        await self.order_in(journey, lambda v: v.get("status") == "delivered", "delivered")

    async def returns(self, journey: Journey) -> dict[str, Any]:
        assert journey.placed is not None
        placed = journey.placed
        listed = await self.storefront.returns(placed.access)
        assert listed.status_code == 200, listed.text
        found = [item for item in listed.json()["items"] if item["id"] == journey.return_id]
        journey.return_view = found[0] if found else {}
        return journey.return_view

    async def give_back(self, journey: Journey) -> None:
        """Request, approve (staff), wait for the label, report the parcel received (warehouse)."""
        assert journey.placed is not None
        placed = journey.placed
        damaged = journey.kind is Kind.RETURN_DAMAGED
        sku = placed.body["lines"][0]["sku"]
        journey.acted_in = _state(placed.view)
        reason = "damaged" if damaged else "changed_mind"
        # One return per order: a retry after a lost answer would be refused for too many units, so look first.
        asked = await self.storefront.request_return(placed.access, [{"sku": sku, "quantity": 1}], reason)
        if asked.status_code == 201:
            journey.return_id = asked.json()["id"]
        else:
            listed = await self.storefront.returns(placed.access)
            items = listed.json().get("items", []) if listed.status_code == 200 else []
            assert items, f"return of {placed.id}: {asked.status_code} {asked.text}"
            journey.return_id = items[0]["id"]
        approved = await self.staff.approve_return(journey.return_id)
        assert approved.status_code in (200, 409), f"approve: {approved.status_code} {approved.text}"
        await _until(
            lambda: self.returns(journey),
            lambda r: r.get("status") in ("label_sent", "received", "refunded"),
            timeout=self.timeout,
            what="return label sent",
            poll_seconds=self.poll_seconds,
        )
        receipt = [{"sku": sku, "quantity": 1, "condition": "damaged" if damaged else "resellable"}]
        received = await self.warehouse.receive_return(journey.return_id, receipt)
        assert received.status_code in (200, 409), f"receipt: {received.status_code} {received.text}"

    async def act(self, journey: Journey) -> None:
        """What the journey's customer, staff and warehouse do once the order is placed."""
        kind = journey.kind
        if kind is Kind.CUSTOMER_CANCELS_AT_ONCE:
            await self.refresh(journey)
            await self.cancel(journey, staff=False, reason="changed_mind")
        elif kind in (Kind.CUSTOMER_CANCELS_PREORDER, Kind.STAFF_CANCELS_PREORDER):
            await self.order_in(journey, lambda v: v.get("status") == "confirmed", "confirmed")
            staff = kind is Kind.STAFF_CANCELS_PREORDER
            await self.cancel(journey, staff=staff, reason="other" if staff else "delivery_time")
        elif kind is Kind.CUSTOMER_CANCELS_PICK_REQUESTED:
            await self.order_in(journey, lambda v: bool(_fulfillment_ids(v)), "pick requested")
            await self.cancel(journey, staff=False, reason="found_cheaper")
        elif kind is Kind.STAFF_CANCELS_PICKED:
            await self.order_in(journey, lambda v: bool(_fulfillment_ids(v)), "pick requested")
            await self.report(_fulfillment_ids(journey.view)[0], {"type": "picked"})
            # Cancel once orders heard of the pick, so this is a cancellation of picked goods.
            picked = lambda v: any(g.get("status") == "picked" for g in v.get("shipment_groups", []))  # noqa: E731
            await self.order_in(journey, picked, "picked")
            await self.cancel(journey, staff=True, reason="payment_method")
        elif kind is Kind.DELIVERED or kind in RETURNED:
            await self.deliver(journey)
            if kind in RETURNED:
                await self.give_back(journey)

    async def run(
        self, journey: Journey, place_limit: asyncio.Semaphore, act_limit: asyncio.Semaphore
    ) -> None:
        try:
            async with place_limit:
                journey.placed = await place(self.gateway, journey.body, timeout=self.timeout)
            async with act_limit:
                await self.act(journey)
        except (AssertionError, UnexpectedAnswer, httpx.HTTPError, KeyError, ValueError) as failed:
            # Counted as a journey that did not end as expected (lost), with what went wrong.
            journey.failure = f"{type(failed).__name__}: {str(failed)[:500]}"

    async def settle(self, journeys: Sequence[Journey], *, timeout: float) -> list[Journey]:
        """Poll every journey until it ended as expected, or the deadline; answer the ones that did not."""
        deadline = time.monotonic() + timeout
        limit = asyncio.Semaphore(16)

        async def look(journey: Journey) -> None:
            async with limit:
                await self.refresh(journey)
                if journey.kind in RETURNED and journey.return_id:
                    await self.returns(journey)

        waiting = [j for j in journeys if j.placed is not None]
        while True:
            await asyncio.gather(*(look(journey) for journey in waiting))
            waiting = [journey for journey in waiting if not journey.done()]
            if not waiting or time.monotonic() > deadline:
                return [j for j in journeys if j.placed is None] + waiting
            await asyncio.sleep(1)


def bodies_for(kinds: Sequence[Kind], *, in_stock: str, preorder: str) -> list[Journey]:
    return [Journey(kind, checkout(preorder if kind in PREORDER_KINDS else in_stock)) for kind in kinds]


def acted_in_states(journeys: Sequence[Journey]) -> dict[str, Counter[str]]:
    """For every kind of cancellation: the states the orders (and their shipment groups) were in when cancelled."""
    states: dict[str, Counter[str]] = {}
    for journey in journeys:
        if journey.kind in CANCELLED:
            states.setdefault(journey.kind.value, Counter())[journey.acted_in] += 1
    return states


def assert_all_ended(journeys: Sequence[Journey]) -> None:
    """Fail with the first few journeys that did not end as their customer expects, and what each showed."""
    failures = [
        (
            j.kind.value,
            j.placed.id if j.placed else None,
            j.failure,
            j.view.get("status"),
            j.view.get("payments"),
            j.return_view.get("status"),
        )
        for j in journeys
    ]
    assert not failures, f"{len(failures)} journey(s) did not end as expected: {failures[:5]}"
