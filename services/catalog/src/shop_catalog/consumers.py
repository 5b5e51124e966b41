"""What catalog subscribes to: each consumer translates a contract into a handler call, nothing more."""

from __future__ import annotations

from shop_catalog import handlers
from shop_catalog.domain import PlannedLine, RequestedLine
from shop_contracts import catalog as contracts
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import UnitOfWork


async def on_reserve_stock(message: contracts.ReserveStock, uow: UnitOfWork) -> None:
    await handlers.reserve_stock(
        uow,
        order_id=message.order_id,
        lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in message.lines],
    )


async def on_release_stock(message: contracts.ReleaseStock, uow: UnitOfWork) -> None:
    await handlers.release_stock(uow, order_id=message.order_id)


async def on_commit_stock(message: contracts.CommitStock, uow: UnitOfWork) -> None:
    await handlers.commit_stock(
        uow,
        order_id=message.order_id,
        lines=[
            PlannedLine(sku=line.sku, location=line.location, quantity=line.quantity)
            for line in message.lines
        ],
    )


SUBSCRIPTIONS: Subscriptions = {
    contracts.ReserveStock: on_reserve_stock,
    contracts.ReleaseStock: on_release_stock,
    contracts.CommitStock: on_commit_stock,
}
