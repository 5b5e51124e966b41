"""What catalog subscribes to: each consumer translates a contract into a handler call, nothing more.

Consumers take the worker's clock as a keyword; ``bootstrap`` binds it, so ``SUBSCRIPTIONS`` stays one
plain dict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from shop_catalog.domain.stock import PlannedLine, RequestedLine
from shop_catalog.handlers import holds, merchandising, preorders, stock
from shop_contracts import Message, fulfillment
from shop_contracts import catalog as contracts
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork
from shop_runtime.scheduling import Job

CatalogConsumer = Callable[..., Awaitable[None]]
"""``(message, uow, *, clock)``: translate one contract into a handler call."""


async def on_reserve_stock(message: contracts.ReserveStock, uow: UnitOfWork, *, clock: Clock) -> None:
    await stock.reserve_stock(
        uow,
        order_id=message.order_id,
        lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in message.lines],
        clock=clock,
        customer_email=message.customer_email,
        customer_segments=frozenset(message.customer_segments),
        only_at_one_of=message.only_at_one_of,
        exchange_id=message.exchange_id,
        claim_hold=message.claim_hold,
    )


async def on_release_stock(message: contracts.ReleaseStock, uow: UnitOfWork, *, clock: Clock) -> None:
    only = (
        None
        if message.lines is None
        else [
            PlannedLine(sku=line.sku, location=line.location, quantity=line.quantity)
            for line in message.lines
        ]
    )
    await stock.release_stock(
        uow, order_id=message.order_id, only=only, reason=message.reason, release_id=message.release_id
    )


async def on_commit_stock(message: contracts.CommitStock, uow: UnitOfWork, *, clock: Clock) -> None:
    await stock.commit_stock(
        uow,
        order_id=message.order_id,
        lines=[
            PlannedLine(sku=line.sku, location=line.location, quantity=line.quantity)
            for line in message.lines
        ],
        shipment_id=message.shipment_id,
    )


async def on_return_received(message: fulfillment.ReturnReceived, uow: UnitOfWork, *, clock: Clock) -> None:
    await stock.restock_return(
        uow,
        return_id=message.return_id,
        lines=[
            PlannedLine(sku=line.sku, location=line.location, quantity=line.quantity)
            for line in message.lines
            if line.condition == "resellable"
        ],
    )


SUBSCRIPTIONS: Mapping[type[Message], CatalogConsumer] = {
    contracts.ReserveStock: on_reserve_stock,
    contracts.ReleaseStock: on_release_stock,
    contracts.CommitStock: on_commit_stock,
    fulfillment.ReturnReceived: on_return_received,
}


async def run_announce_preorder_open(
    job: preorders.AnnouncePreorderOpen, uow: UnitOfWork, *, clock: Clock
) -> None:
    await preorders.announce_preorder_open(uow, sku=job.sku, version=job.version, clock=clock)


async def run_change_variant_prices(
    job: merchandising.ChangeVariantPrices, uow: UnitOfWork, *, clock: Clock
) -> None:
    await merchandising.apply_scheduled_price_change(uow, job=job)


async def run_expire_stock_hold(job: holds.ExpireStockHold, uow: UnitOfWork, *, clock: Clock) -> None:
    await holds.expire_stock_hold(uow, order_id=job.order_id)


JOBS: Mapping[type[Job], CatalogConsumer] = {
    holds.ExpireStockHold: run_expire_stock_hold,
    preorders.AnnouncePreorderOpen: run_announce_preorder_open,
    merchandising.ChangeVariantPrices: run_change_variant_prices,
}
"""Catalog's scheduled jobs by kind, ``(job, uow, *, clock)``; ``bootstrap`` binds the clock."""
