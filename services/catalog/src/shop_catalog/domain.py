"""Catalog's rules, free of I/O: stock levels per location, how an order's lines are reserved or
accepted as pre-orders, how received units go to the pre-order queue, and when a waiting pre-order ships.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal, NoReturn

from shop_contracts.values import PreorderPolicy


class CatalogError(Exception):
    """A request the catalog refuses; ``field`` names the input that is wrong."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownSku(CatalogError):
    pass


class UnknownProduct(CatalogError):
    pass


class DuplicateSku(CatalogError):
    pass


class StockWouldGoNegative(CatalogError):
    pass


class InvalidPreorderPolicy(CatalogError):
    pass


class NoPreorderPolicy(CatalogError):
    pass


class UnknownInbound(CatalogError):
    pass


class UnknownWaitlistEntry(CatalogError):
    pass


class InboundAlreadyReceived(CatalogError):
    pass


@dataclass
class StockLevel:
    """Units of one SKU at one location. ``available`` is what may still be promised to a buyer."""

    sku: str
    location: str
    on_hand: int
    reserved: int
    safety_stock: int = 0

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved - self.safety_stock, 0)

    def adjust(self, delta: int) -> None:
        if self.on_hand + delta < self.reserved:
            raise StockWouldGoNegative(
                f"{self.sku} at {self.location}: {self.on_hand} on hand, {self.reserved} reserved; "
                f"cannot apply {delta:+d}",
                field="delta",
            )
        self.on_hand += delta

    def reserve(self, quantity: int) -> None:
        assert 0 < quantity <= self.available, "reserve only what plan_reservation found available"
        self.reserved += quantity

    def release(self, quantity: int) -> None:
        self.reserved -= min(quantity, self.reserved)

    def commit(self, quantity: int) -> None:
        """Reserved units left the building: they are neither on hand nor reserved any more."""
        self.reserved -= quantity
        self.on_hand -= quantity


@dataclass(frozen=True)
class RequestedLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class PlannedLine:
    sku: str
    location: str
    quantity: int


Place = tuple[str, str]
"""A SKU at a stock location: ``(sku, location)``."""


def units_per_place(lines: Sequence[PlannedLine]) -> dict[Place, int]:
    """The units of ``lines`` summed per SKU and location (a message may name one place twice)."""
    units: dict[Place, int] = {}
    for line in lines:
        units[line.sku, line.location] = units.get((line.sku, line.location), 0) + line.quantity
    return units


def located(units: Mapping[Place, int]) -> list[PlannedLine]:
    return [
        PlannedLine(sku=sku, location=location, quantity=quantity)
        for (sku, location), quantity in sorted(units.items())
        if quantity > 0
    ]


ReservationStatus = Literal["reserved", "committed", "released"]


@dataclass
class Reservation:
    """An order's units of one SKU at one location: those it still holds, and those that left with shipments.

    Units leave a reservation only by being committed (shipped) or released, each at most once: nothing is
    ever taken from it that it does not hold, so a late or repeated commit or release cannot take the
    units of another shipment, and a release never gives back units that shipped.
    """

    order_id: str
    sku: str
    location: str
    held: int
    committed: int = 0

    @property
    def status(self) -> ReservationStatus:
        """``reserved`` while it holds units; then ``committed`` if any of them shipped, else ``released``."""
        if self.held > 0:
            return "reserved"
        return "committed" if self.committed > 0 else "released"

    def commit(self, quantity: int) -> int:
        """Up to ``quantity`` held units shipped; returns how many (no more than are held)."""
        taken = min(max(quantity, 0), self.held)
        self.held -= taken
        self.committed += taken
        return taken

    def release(self, quantity: int) -> int:
        """Give back up to ``quantity`` held units; returns how many (never committed ones)."""
        taken = min(max(quantity, 0), self.held)
        self.held -= taken
        return taken


def commit_reserved(
    reservations: Mapping[Place, Reservation], levels: Mapping[Place, StockLevel], wanted: Mapping[Place, int]
) -> dict[Place, int]:
    """Ship what ``wanted`` asks of the order's reservations, no more than each holds: the units leave their
    reservation and their stock level alike. Returns the units committed per place."""
    committed: dict[Place, int] = {}
    for place, quantity in sorted(wanted.items()):
        reservation, level = reservations.get(place), levels.get(place)
        if reservation is None or level is None:
            continue
        taken = reservation.commit(quantity)
        if taken > 0:
            level.commit(taken)
            committed[place] = taken
    return committed


def release_reserved(
    reservations: Mapping[Place, Reservation], levels: Mapping[Place, StockLevel], wanted: Mapping[Place, int]
) -> dict[Place, int]:
    """Give back what ``wanted`` asks of the order's reservations, no more than each still holds. Returns
    the units released per place."""
    released: dict[Place, int] = {}
    for place, quantity in sorted(wanted.items()):
        reservation, level = reservations.get(place), levels.get(place)
        if reservation is None or level is None:
            continue
        taken = reservation.release(quantity)
        if taken > 0:
            level.release(taken)
            released[place] = taken
    return released


def release_key(reason: str, lines: Sequence[PlannedLine]) -> str:
    """What names a partial release, whose message carries no id of its own: its reason and its units per
    place. A copy of the message (a new message id) has the same key, so it releases nothing more."""
    content = json.dumps(
        [
            reason,
            sorted([sku, location, quantity] for (sku, location), quantity in units_per_place(lines).items()),
        ]
    )
    return "release:" + hashlib.sha256(content.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int
    reason: str = "out_of_stock"


def location_holding_all(
    lines: list[RequestedLine], levels: list[StockLevel], locations: list[str]
) -> str | None:
    """The first of ``locations`` whose available units cover every line (same-day delivery leaves from one
    location), or None."""
    requested: dict[str, int] = {}
    for line in lines:
        requested[line.sku] = requested.get(line.sku, 0) + line.quantity
    available = {(level.sku, level.location): level.available for level in levels}
    for location in locations:
        if all(available.get((sku, location), 0) >= quantity for sku, quantity in requested.items()):
            return location
    return None


def plan_reservation(
    lines: list[RequestedLine], levels: list[StockLevel]
) -> tuple[list[PlannedLine], list[Shortage]]:
    """Decide where each line's units come from; all-or-nothing, so any shortage means no plan.

    A line is taken from one location when one has enough (the fullest first, so orders ship whole),
    otherwise split over locations from the fullest down.
    """
    requested: dict[str, int] = {}
    for line in lines:
        requested[line.sku] = requested.get(line.sku, 0) + line.quantity
    plan: list[PlannedLine] = []
    shortages: list[Shortage] = []
    for sku, quantity in requested.items():
        candidates = sorted(
            (level for level in levels if level.sku == sku),
            key=lambda level: (-level.available, level.location),
        )
        total = sum(level.available for level in candidates)
        if total < quantity:
            shortages.append(Shortage(sku=sku, requested=quantity, available=total))
            continue
        remaining = quantity
        for level in candidates:
            if remaining == 0:
                break
            take = min(level.available, remaining)
            if take > 0:
                plan.append(PlannedLine(sku=sku, location=level.location, quantity=take))
                remaining -= take
    return ([] if shortages else plan), shortages


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


def opening_announcement_due(policy: PreorderPolicy, now: datetime) -> datetime | None:
    """When the waitlist should hear that the policy's window opens: its start, when that is still ahead.

    The waitlist holds no customer segments, so an early-access start is not announced to it; the public
    start is. None when the window is open or closed already (an open window is announced when saved).
    """
    if policy.starts_at is None or policy.starts_at <= now:
        return None
    if policy.ends_at is not None and policy.ends_at <= policy.starts_at:
        return None
    return policy.starts_at


WaitlistKind = Literal["back_in_stock", "preorder_open"]
WAITLIST_KINDS: tuple[WaitlistKind, ...] = ("back_in_stock", "preorder_open")


@dataclass(frozen=True)
class WaitlistEntry:
    """Someone waiting to hear that a SKU is back in stock or open for pre-order, and when they last did."""

    id: uuid.UUID
    sku: str
    email: str
    locale: Literal["ko", "en"]
    created_at: datetime
    notified_at: Mapping[WaitlistKind, datetime | None]


@dataclass(frozen=True)
class AvailabilityChanges:
    """SKUs whose available units (over all locations) crossed zero in one unit of work."""

    back_in_stock: list[str]
    """From 0 to more: the waitlist hears of it."""
    sold_out: list[str]
    """From more to 0: the waitlist may hear of the next restock again."""


def availability_changes(before: Mapping[str, int], after: Mapping[str, int]) -> AvailabilityChanges:
    """Compare available units per SKU before and after a change (a SKU missing from a side has none).

    Only a crossing counts: 0 → 3 is back in stock, 2 → 5 is not, 1 → 0 is sold out.
    """
    skus = sorted(set(before) | set(after))
    return AvailabilityChanges(
        back_in_stock=[sku for sku in skus if before.get(sku, 0) <= 0 < after.get(sku, 0)],
        sold_out=[sku for sku in skus if before.get(sku, 0) > 0 >= after.get(sku, 0)],
    )


def preorder_opens(previous_window: str | None, window: str) -> bool:
    """Whether setting a policy opens a pre-order: its window is open now and was not before.

    ``previous_window`` is the state of the policy being replaced at the same moment (None: there was none
    or it was ended). A window that starts later opens later, unseen by this rule.
    """
    return window == "open" and previous_window != "open"


def normalized_email(email: str) -> str:
    """One subscription per address, whatever its letter case."""
    return email.strip().lower()


_CURRENCY = re.compile(r"^[A-Z]{3}$")


def check_preorder_policy(policy: PreorderPolicy) -> None:
    """Refuse a policy whose fields contradict each other, naming the field to fix."""

    has_percent = policy.deposit_percent is not None
    has_amounts = bool(policy.deposit_amounts)
    if policy.payment_mode == "deposit":
        if has_percent == has_amounts:
            _refuse(
                "deposit_percent", "deposit mode needs exactly one of deposit_percent and deposit_amounts"
            )
    elif has_percent:
        _refuse("deposit_percent", "only a deposit payment_mode takes a deposit")
    elif has_amounts:
        _refuse("deposit_amounts", "only a deposit payment_mode takes a deposit")
    for currency, amount in policy.deposit_amounts.items():
        if not _CURRENCY.match(currency):
            _refuse(f"deposit_amounts.{currency}", "must be an ISO 4217 currency code")
        if amount < 1:
            _refuse(f"deposit_amounts.{currency}", "must be at least 1 minor unit")
    if policy.starts_at is not None and policy.ends_at is not None and policy.ends_at <= policy.starts_at:
        _refuse("ends_at", "must be after starts_at")
    if (
        policy.expected_ship_date is not None
        and policy.expected_ship_latest is not None
        and policy.expected_ship_latest < policy.expected_ship_date
    ):
        _refuse("expected_ship_latest", "must not be before expected_ship_date")
    if policy.expected_ship_latest is not None and policy.expected_ship_date is None:
        _refuse("expected_ship_date", "needed when expected_ship_latest is given")
    if policy.balance_due == "at" and policy.balance_due_at is None:
        _refuse("balance_due_at", "needed when balance_due is 'at'")
    if policy.balance_due != "at" and policy.balance_due_at is not None:
        _refuse("balance_due_at", "only when balance_due is 'at'")
    if policy.balance_due == "after" and policy.balance_due_after_hours is None:
        _refuse("balance_due_after_hours", "needed when balance_due is 'after'")
    if policy.balance_due != "after" and policy.balance_due_after_hours is not None:
        _refuse("balance_due_after_hours", "only when balance_due is 'after'")
    _check_early_bird_tiers(policy)
    if (policy.early_access_segment is None) != (policy.early_access_starts_at is None):
        _refuse("early_access_starts_at", "early access needs both early_access_segment and its start")
    if (
        policy.early_access_starts_at is not None
        and policy.starts_at is not None
        and policy.early_access_starts_at >= policy.starts_at
    ):
        _refuse("early_access_starts_at", "must be before starts_at")


def _check_early_bird_tiers(policy: PreorderPolicy) -> None:
    tiers = policy.early_bird_tiers
    if tiers and policy.starts_at is None:
        _refuse("early_bird_tiers", "early-bird tiers count days from starts_at, which is missing")
    previous = 0
    for index, tier in enumerate(tiers):
        if tier.until_day is None:
            if index != len(tiers) - 1:
                _refuse(f"early_bird_tiers[{index}].until_day", "only the last tier may be open-ended")
            continue
        if tier.until_day <= previous:
            _refuse(f"early_bird_tiers[{index}].until_day", "tiers must be in increasing until_day")
        previous = tier.until_day


def _refuse(field_name: str, message: str) -> NoReturn:
    raise InvalidPreorderPolicy(message, field=field_name)
