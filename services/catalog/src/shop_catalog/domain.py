"""Catalog's rules, free of I/O: stock levels per location and how an order's lines are reserved."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class Shortage:
    sku: str
    requested: int
    available: int


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
