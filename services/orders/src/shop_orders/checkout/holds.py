"""Holding a checkout's units in catalog before the order is stored, so the buyer's answer is the stock's.

A 202 means the units (or pre-order places) are held for the order; a refusal answers 409 at once and stores
nothing. The hold is the order's reservation made early: its answer (units by location, pre-order places) is
recorded with the order as its reservation, the saga's reserve only claims it, and catalog gives back a hold
that no stored order claims. When catalog does not answer in time, checkout goes on without a hold and the
saga's reserve decides, as it always could: a drop stays safe (never oversold), only slower to say no.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import pydantic

from shop_api.catalog import CatalogClient, HoldLineIn, StockHoldIn
from shop_contracts.catalog import StockReserved
from shop_orders.core.errors import (
    NotSellable,
    OrderError,
    PreorderWindowClosed,
    PurchaseLimitReached,
    SameDayNotOffered,
    SoldOut,
)
from shop_orders.core.metrics import STOCK_HOLDS
from shop_orders.core.pricing import CheckoutLine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shortage:
    """A line catalog cannot hold, and why (catalog's reason: ``out_of_stock``, ``preorder_cap_reached``, ...)."""

    field: str
    sku: str
    reason: str
    requested: int
    available: int
    opens_at: datetime | None = None
    """A pre-order not open to this buyer yet: when its window opens for the public (catalog's ``starts_at``)."""


class StockHolds(Protocol):
    """Catalog's holds, as checkout uses them."""

    async def hold(
        self,
        *,
        order_id: str,
        lines: Sequence[CheckoutLine],
        customer_email: str,
        customer_segments: Sequence[str],
        only_at_one_of: list[str] | None,
    ) -> StockReserved | list[Shortage] | None:
        """Hold the lines for ``order_id``: catalog's answer when it held them (what the order's reserve would
        be told), the shortages when it refuses, None when it did not answer (or its answer does not read) and
        the saga's reserve will decide."""
        ...


def refusal(shortages: list[Shortage]) -> OrderError:
    """The checkout's answer to a refused hold, naming the first line catalog cannot cover."""
    first = shortages[0]
    reason = first.reason
    if reason in ("variant_retired", "product_archived"):
        return NotSellable(f"{first.sku} is no longer sold", field=first.field)
    if reason == "per_customer_limit":
        return PurchaseLimitReached(f"{first.sku}: this would pass the limit per customer", field=first.field)
    if reason == "not_at_same_day_location":
        return SameDayNotOffered(
            f"{first.sku} is not at a same-day location for this address", field="shipping_method"
        )
    if reason == "preorder_closed":
        return PreorderWindowClosed(f"{first.sku}: the pre-order has closed", field=first.field)
    if reason.startswith("preorder_") and reason != "preorder_cap_reached":
        if first.opens_at is None:
            return PreorderWindowClosed(f"{first.sku}: the pre-order has not opened yet", field=first.field)
        opens_at = first.opens_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return PreorderWindowClosed(
            f"{first.sku}: the pre-order has not opened yet; it opens to the public at {opens_at}",
            field=first.field,
            details={"opens_at": opens_at},
        )
    if reason == "preorder_cap_reached":
        return SoldOut(f"{first.sku} is sold out: its pre-order is full", field=first.field)
    if first.available > 0:
        return SoldOut(
            f"{first.sku}: only {first.available} left, {first.requested} asked for", field=first.field
        )
    return SoldOut(f"{first.sku} is sold out: no units are left", field=first.field)


class CatalogHolds:
    """Holds through catalog's internal API."""

    def __init__(self, catalog: CatalogClient) -> None:
        self._catalog = catalog

    async def hold(
        self,
        *,
        order_id: str,
        lines: Sequence[CheckoutLine],
        customer_email: str,
        customer_segments: Sequence[str],
        only_at_one_of: list[str] | None,
    ) -> StockReserved | list[Shortage] | None:
        body = StockHoldIn(
            order_id=order_id,
            lines=[HoldLineIn(sku=line.sku, quantity=line.quantity) for line in lines],
            customer_email=customer_email,
            customer_segments=list(customer_segments),
            only_at_one_of=only_at_one_of,
        )
        try:
            response = await self._catalog.hold_stock(body)
        except httpx.HTTPError as error:
            log.warning("catalog did not hold order %s (%r): the saga's reserve decides", order_id, error)
            STOCK_HOLDS.labels("unanswered").inc()
            return None
        if response.status_code == 201:
            STOCK_HOLDS.labels("held").inc()
            return _held(response, order_id)
        problem = response.json() if response.status_code == 409 else None
        if problem is not None and problem.get("code") == "stock_short":
            STOCK_HOLDS.labels("refused").inc()
            return [
                Shortage(
                    field=str(error["field"]),
                    sku=str(error["sku"]),
                    reason=str(error["reason"]),
                    requested=int(error["requested"]),
                    available=int(error["available"]),
                    opens_at=_time(error.get("opens_at")),
                )
                for error in problem["errors"]
            ]
        log.warning(
            "catalog answered %s to the hold of order %s: the saga's reserve decides", response, order_id
        )
        STOCK_HOLDS.labels("unanswered").inc()
        return None


def _held(response: httpx.Response, order_id: str) -> StockReserved | None:
    """The hold's answer, or None when it does not read as this order's (the units are held all the same: the
    saga's reserve claims them and is told the answer)."""
    try:
        answer = StockReserved.model_validate_json(response.content)
    except pydantic.ValidationError as error:
        log.warning(
            "catalog's hold of order %s does not read (%s): the saga's reserve is told", order_id, error
        )
        return None
    if answer.order_id != order_id or answer.exchange_id is not None:
        log.warning("catalog answered the hold of order %s for %s", order_id, answer.order_id)
        return None
    return answer


def _time(value: object) -> datetime | None:
    """A time catalog sent (ISO 8601), or None when it sent none or one that does not read as a time."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
