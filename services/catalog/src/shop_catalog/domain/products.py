"""Products, variants and prices as staff run them: what may be sold (a retired variant or an archived
product may not), which prices a change leaves, and when a price change takes effect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shop_catalog.domain.errors import InvalidPriceChange
from shop_catalog.domain.stock import RequestedLine, Shortage

ProductStatus = Literal["active", "archived"]
VariantStatus = Literal["active", "retired"]

PRICE_CHANGE_KIND = "change_variant_prices"
"""The schedule's kind of job that changes a variant's prices at a set time."""

NOT_SELLABLE_REASONS = ("variant_retired", "product_archived")
"""Why catalog refuses a line of a variant it still knows (a shortage's reason)."""


@dataclass(frozen=True)
class Sellability:
    """Whether a variant may be sold now: it is not retired and its product is not archived."""

    retired_at: datetime | None
    archived_at: datetime | None

    @property
    def sellable(self) -> bool:
        return self.retired_at is None and self.archived_at is None

    @property
    def reason(self) -> str | None:
        """Why it may not be sold (retired first: it never comes back), or None when it may."""
        if self.retired_at is not None:
            return "variant_retired"
        if self.archived_at is not None:
            return "product_archived"
        return None


def unsellable_shortages(
    lines: Sequence[RequestedLine], sellability: Mapping[str, Sellability]
) -> list[Shortage]:
    """The lines catalog refuses because their variant may not be sold, one per SKU (none available)."""
    requested: dict[str, int] = {}
    for line in lines:
        requested[line.sku] = requested.get(line.sku, 0) + line.quantity
    shortages = []
    for sku, quantity in sorted(requested.items()):
        found = sellability.get(sku)
        reason = None if found is None else found.reason
        if reason is not None:
            shortages.append(Shortage(sku=sku, requested=quantity, available=0, reason=reason))
    return shortages


def changed_prices(current: Mapping[str, int], changes: Mapping[str, int]) -> dict[str, int]:
    """A variant's prices after a change: the currencies it names take their new amount, the others stay."""
    return dict(sorted({**current, **changes}.items()))


def price_change_due(effective_at: datetime | None, now: datetime) -> datetime | None:
    """When a price change is to be applied by the schedule, or None to apply it now.

    A change without a time, or one whose time has come, applies now; a time in the past is refused, so a
    merchant who meant a future moment and typed a past one is told rather than changing the price at once.
    """
    if effective_at is None:
        return None
    if effective_at <= now:
        raise InvalidPriceChange(
            "must be in the future; leave it out to change the price now", field="effective_at"
        )
    return effective_at


def check_price_currencies(currencies: Sequence[str]) -> None:
    """Each currency at most once in one change (the last would silently win)."""
    if len(set(currencies)) != len(currencies):
        raise InvalidPriceChange("each currency at most once", field="prices")
