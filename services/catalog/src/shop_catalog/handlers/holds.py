"""Holding an order's units at checkout, so the buyer's answer is the stock's: a 202 holds the units (or the
pre-order places), a 409 held nothing.

A hold is the order's reservation made before the order exists: the same rules decide it, in one transaction,
and its answer is kept until the order's reserve arrives through the saga and claims it. A hold the reserve
never claims (orders did not store the order) is given back when it expires; a reserve arriving after that is
refused, so no unit stays held for an order that is not there and none is sold twice.
"""

from __future__ import annotations

from datetime import timedelta

from shop_catalog.domain.stock import RequestedLine
from shop_catalog.handlers.stock import hold_expiry_key, release_stock, reserve_stock
from shop_catalog.repository import stock as stock_records
from shop_contracts import catalog as contracts
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork
from shop_runtime.scheduling import Job


class StockHoldRefused(Exception):
    """The order cannot be held: its lines' shortages say why. The caller rolls the unit of work back, so a
    refused hold leaves nothing behind."""

    def __init__(self, rejected: contracts.StockRejected) -> None:
        super().__init__(rejected.reason)
        self.rejected = rejected


class OrderAlreadyKnown(Exception):
    """Catalog has seen this order id before: a hold is only for an order that does not exist yet."""


class ExpireStockHold(Job):
    """Units held at checkout that the order's reserve has not claimed: give them back."""

    KIND = "expire_stock_hold"
    order_id: str


async def hold_stock(
    uow: UnitOfWork,
    *,
    order_id: str,
    lines: list[RequestedLine],
    clock: Clock,
    hold_for: timedelta,
    customer_email: str | None = None,
    customer_segments: frozenset[str] = frozenset(),
    only_at_one_of: list[str] | None = None,
) -> contracts.StockReserved:
    """Hold an order's lines as its reserve would reserve them, until ``hold_for`` from now.

    Answers what the order's reserve will be told (units by location, pre-order places with their queue
    position and date); raises ``StockHoldRefused`` with the shortages, after which the caller must roll back.
    """
    decided: list[contracts.StockReserved | contracts.StockRejected] = []
    await reserve_stock(
        uow,
        order_id=order_id,
        lines=lines,
        clock=clock,
        customer_email=customer_email,
        customer_segments=customer_segments,
        only_at_one_of=only_at_one_of,
        answer=decided.append,
    )
    if not decided:
        raise OrderAlreadyKnown(order_id)
    answer = decided[0]
    if isinstance(answer, contracts.StockRejected):
        raise StockHoldRefused(answer)
    # The hold's last write: the outbox rows of what it published (a SKU sold out, a low-stock alert) ride in it.
    await uow.execute_last(
        *stock_records.record_hold(
            order_id,
            answer.model_dump(mode="json"),
            expiry=ExpireStockHold(order_id=order_id),
            expiry_key=hold_expiry_key(order_id),
            due_at=clock.now() + hold_for,
        )
    )
    return answer


async def expire_stock_hold(uow: UnitOfWork, *, order_id: str) -> None:
    """Give back what was held at checkout for an order whose reserve never claimed it; nothing when it did,
    or when the order was released since."""
    order = await stock_records.lock_stock_order(uow.session, order_id)
    if order.held_answer is None or order.released:
        return
    await stock_records.mark_hold_expired(uow.session, order_id)
    await release_stock(uow, order_id=order_id, reason="hold expired")
