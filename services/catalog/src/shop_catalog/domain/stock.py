"""Stock levels per location and the reservations orders hold on them: what is available, how an order's
in-stock lines are planned over locations, and how reserved units are committed or released, each at most once."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from shop_catalog.domain.errors import StockWouldGoNegative


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
