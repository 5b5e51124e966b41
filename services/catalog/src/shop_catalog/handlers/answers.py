"""How an order's reserve answers: reserved (units by location, pre-order places) or rejected with the
shortages; sent to orders, or kept by a hold at checkout. A refused hold also says when a pre-order not open
yet opens to the public."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.stock import PlannedLine, RequestedLine, Shortage
from shop_catalog.repository import preorders as preorder_records
from shop_contracts import catalog as contracts
from shop_contracts.values import LocatedLine

Answer = Callable[[contracts.StockReserved | contracts.StockRejected], None]
"""Where an order's reserve sends its decision: published to orders, or kept by a hold at checkout."""


def expired_hold(lines: list[RequestedLine]) -> list[Shortage]:
    return [
        Shortage(sku=line.sku, requested=line.quantity, available=0, reason="hold_expired") for line in lines
    ]


def reject(send: Answer, *, order_id: str, shortages: list[Shortage], exchange_id: str | None = None) -> None:
    send(
        contracts.StockRejected(
            order_id=order_id,
            exchange_id=exchange_id,
            reason=shortages[0].reason,
            shortages=[
                contracts.Shortage(sku=s.sku, requested=s.requested, available=s.available, reason=s.reason)
                for s in shortages
            ],
        )
    )


def located_lines(lines: list[PlannedLine]) -> list[LocatedLine]:
    return [LocatedLine(sku=line.sku, quantity=line.quantity, location=line.location) for line in lines]


async def public_openings(
    session: AsyncSession, shortages: Iterable[contracts.Shortage]
) -> dict[str, datetime]:
    """When each SKU refused as ``preorder_not_open`` opens to the public: its policy's ``starts_at`` (a buyer in
    the early-access segment may order before). SKUs without a public start are left out."""
    skus = {shortage.sku for shortage in shortages if shortage.reason == "preorder_not_open"}
    if not skus:
        return {}
    records = await preorder_records.preorder_policies_now(session, skus)
    return {
        sku: record.policy.starts_at
        for sku, record in records.items()
        if record.policy is not None and record.policy.starts_at is not None
    }
