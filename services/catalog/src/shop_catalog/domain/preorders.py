"""Pre-orders: how an order's lines are split between stock and pre-order places (cap, window, per-customer
limit), how received units go to the queue in order, when a waiting pre-order should ship, and when a capped
campaign sold out."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from shop_catalog.domain.stock import PlannedLine, RequestedLine, Shortage, StockLevel, plan_reservation


@dataclass(frozen=True)
class PreorderTerms:
    """What a SKU's pre-order policy allows one order, as found under the SKU's lock."""

    window: str
    """``open``, ``not_open`` or ``closed`` for this customer at the time of the order."""
    continue_selling_when_sold_out: bool
    cap: int | None
    accepted: int
    """Units of the SKU accepted as pre-orders and not released (waiting or allocated)."""
    per_customer_limit: int | None
    accepted_for_customer: int


@dataclass(frozen=True)
class OrderPlan:
    """Where an order's units come from: in-stock units at locations, and pre-order units that wait."""

    in_stock: list[PlannedLine]
    preorders: list[RequestedLine]
    shortages: list[Shortage]


def plan_order(
    lines: list[RequestedLine], levels: list[StockLevel], terms: dict[str, PreorderTerms]
) -> OrderPlan:
    """Decide for each SKU of an order whether it is reserved from stock or accepted as a pre-order.

    All or nothing: any shortage (out of stock, the pre-order window, cap or per-customer limit) means no
    plan. A SKU with a policy is a pre-order while its window is open; a policy that continues selling when
    sold out turns the line into a pre-order only when stock does not cover it (and sells from stock when
    it does, whatever the window says).
    """
    requested: dict[str, int] = {}
    for line in lines:
        requested[line.sku] = requested.get(line.sku, 0) + line.quantity
    from_stock: list[RequestedLine] = []
    preorders: list[RequestedLine] = []
    shortages: list[Shortage] = []
    for sku, quantity in requested.items():
        sku_terms = terms.get(sku)
        available = sum(level.available for level in levels if level.sku == sku)
        if sku_terms is None:
            from_stock.append(RequestedLine(sku=sku, quantity=quantity))
            continue
        if sku_terms.continue_selling_when_sold_out:
            is_preorder = available < quantity
        elif sku_terms.window == "open":
            is_preorder = True
        else:
            shortages.append(
                Shortage(sku=sku, requested=quantity, available=0, reason=f"preorder_{sku_terms.window}")
            )
            continue
        if not is_preorder:
            from_stock.append(RequestedLine(sku=sku, quantity=quantity))
            continue
        shortage = preorder_shortage(sku, quantity, sku_terms)
        if shortage is not None:
            shortages.append(shortage)
        else:
            preorders.append(RequestedLine(sku=sku, quantity=quantity))
    in_stock, stock_shortages = plan_reservation(from_stock, levels)
    shortages.extend(stock_shortages)
    if shortages:
        return OrderPlan(in_stock=[], preorders=[], shortages=shortages)
    return OrderPlan(in_stock=in_stock, preorders=preorders, shortages=[])


def preorder_shortage(sku: str, quantity: int, terms: PreorderTerms) -> Shortage | None:
    """Why ``quantity`` more pre-order units of ``sku`` may not be accepted, or None when they may."""
    if terms.cap is not None and terms.accepted + quantity > terms.cap:
        return Shortage(
            sku=sku,
            requested=quantity,
            available=max(terms.cap - terms.accepted, 0),
            reason="preorder_cap_reached",
        )
    limit = terms.per_customer_limit
    if limit is not None and terms.accepted_for_customer + quantity > limit:
        return Shortage(
            sku=sku,
            requested=quantity,
            available=max(limit - terms.accepted_for_customer, 0),
            reason="per_customer_limit",
        )
    return None


@dataclass
class QueuedPreorder:
    """One order's pre-order of one SKU, in that SKU's queue."""

    id: uuid.UUID
    order_id: str
    sku: str
    quantity: int
    allocated: int
    queue_position: int
    told_ship_date: date | None = None
    """The expected ship date orders was last told (at acceptance or in a change)."""

    @property
    def waiting(self) -> int:
        """Units not yet allocated."""
        return self.quantity - self.allocated


@dataclass(frozen=True)
class Allocation:
    """Units of a location's stock given to a waiting pre-order (reserved there for its order)."""

    id: uuid.UUID
    preorder_id: uuid.UUID
    order_id: str
    sku: str
    location: str
    quantity: int
    still_waiting: int


def allocate_in_queue_order(
    queue: Sequence[QueuedPreorder], levels: Sequence[StockLevel]
) -> list[Allocation]:
    """Give what ``levels`` have available to the waiting pre-orders, first in the queue first.

    The last pre-order served may get only part of its units and keep waiting for the rest. The units are
    reserved on the levels and counted as allocated on the pre-orders.
    """
    allocations: list[Allocation] = []
    for preorder in sorted(queue, key=lambda queued: queued.queue_position):
        sources = sorted(
            (level for level in levels if level.sku == preorder.sku and level.available > 0),
            key=lambda level: (-level.available, level.location),
        )
        for level in sources:
            if preorder.waiting == 0:
                break
            take = min(level.available, preorder.waiting)
            level.reserve(take)
            preorder.allocated += take
            allocations.append(
                Allocation(
                    id=uuid.uuid4(),
                    preorder_id=preorder.id,
                    order_id=preorder.order_id,
                    sku=preorder.sku,
                    location=level.location,
                    quantity=take,
                    still_waiting=preorder.waiting,
                )
            )
    return allocations


@dataclass(frozen=True)
class ExpectedInbound:
    """Units of a SKU on their way, not yet received."""

    quantity: int
    expected_at: datetime


def expected_ship_dates(
    queue: Sequence[QueuedPreorder], inbounds: Sequence[ExpectedInbound], fallback: date | None
) -> dict[uuid.UUID, date | None]:
    """When each waiting pre-order should ship: the date of the inbound that covers its place in the queue.

    Walking the inbounds by expected time, a pre-order is covered once the units expected so far reach the
    units waiting ahead of it plus its own; one that no inbound covers gets ``fallback`` (the policy's date).
    """
    supply = sorted(inbounds, key=lambda inbound: inbound.expected_at)
    dates: dict[uuid.UUID, date | None] = {}
    demand = covered = taken = 0
    for preorder in sorted(queue, key=lambda queued: queued.queue_position):
        if preorder.waiting <= 0:
            continue
        demand += preorder.waiting
        while taken < len(supply) and covered < demand:
            covered += supply[taken].quantity
            taken += 1
        dates[preorder.id] = (
            supply[taken - 1].expected_at.astimezone(UTC).date() if covered >= demand else fallback
        )
    return dates


@dataclass(frozen=True)
class ShipDateChange:
    preorder: QueuedPreorder
    previous: date | None
    current: date | None


def ship_date_changes(
    queue: Sequence[QueuedPreorder], dates: Mapping[uuid.UUID, date | None]
) -> list[ShipDateChange]:
    """The waiting pre-orders whose expected ship date differs from the one their order was last told."""
    return [
        ShipDateChange(preorder=preorder, previous=preorder.told_ship_date, current=dates.get(preorder.id))
        for preorder in sorted(queue, key=lambda queued: (queued.sku, queued.queue_position))
        if preorder.waiting > 0 and dates.get(preorder.id) != preorder.told_ship_date
    ]


@dataclass(frozen=True)
class Acceptance:
    """Units accepted as pre-orders at a moment (one pre-order of one order), and when they were given back."""

    at: datetime
    quantity: int
    released_at: datetime | None = None


def sold_out_at(cap: int | None, acceptances: Sequence[Acceptance]) -> datetime | None:
    """When a capped campaign's units held under the cap first reached it (None: uncapped or not yet).

    Units given back (a cancelled order) stop counting from the moment they were released.
    """
    if cap is None:
        return None
    changes = [(accepted.at, accepted.quantity) for accepted in acceptances]
    changes += [(item.released_at, -item.quantity) for item in acceptances if item.released_at is not None]
    held = 0
    # At the same moment a release counts before an acceptance, so a place given back and taken is no peak.
    for moment, delta in sorted(changes, key=lambda change: (change[0], change[1])):
        held += delta
        if held >= cap:
            return moment
    return None
