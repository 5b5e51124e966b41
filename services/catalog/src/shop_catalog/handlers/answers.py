"""How an order's reserve answers: reserved (units by location, pre-order places) or rejected with the
shortages; sent to orders, or kept by a hold at checkout."""

from __future__ import annotations

from collections.abc import Callable

from shop_catalog.domain.stock import PlannedLine, RequestedLine, Shortage
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
