"""Catalog's use cases: each is one async function that runs in one unit of work and commits it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from shop_catalog import repository
from shop_catalog.domain import (
    DuplicateSku,
    PlannedLine,
    RequestedLine,
    StockLevel,
    UnknownSku,
    plan_reservation,
)
from shop_catalog.tables import inventory_adjustments, prices, products, reservations, variants
from shop_contracts import catalog as contracts
from shop_contracts.values import LocatedLine, Money
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class NewVariant:
    sku: str
    options: dict[str, str]
    prices: dict[str, int]
    """Amount in minor units by ISO 4217 currency code."""


@dataclass(frozen=True)
class CreatedProduct:
    product_id: uuid.UUID
    variant_ids: dict[str, uuid.UUID]


async def create_product(
    uow: UnitOfWork, *, title: str, description: str, new_variants: list[NewVariant]
) -> CreatedProduct:
    """Create a product with its variants and tell other services what each variant sells for."""
    skus = [variant.sku for variant in new_variants]
    taken = await repository.existing_skus(uow.session, skus)
    if taken:
        index = next(i for i, sku in enumerate(skus) if sku in taken)
        raise DuplicateSku(f"SKU {skus[index]!r} already exists", field=f"variants[{index}].sku")
    product_id = uuid.uuid4()
    await uow.session.execute(sa.insert(products).values(id=product_id, title=title, description=description))
    variant_ids: dict[str, uuid.UUID] = {}
    for position, variant in enumerate(new_variants):
        variant_id = uuid.uuid4()
        variant_ids[variant.sku] = variant_id
        await uow.session.execute(
            sa.insert(variants).values(
                id=variant_id,
                product_id=product_id,
                sku=variant.sku,
                options=variant.options,
                position=position,
            )
        )
        if variant.prices:
            await uow.session.execute(
                sa.insert(prices),
                [{"variant_id": variant_id, "currency": c, "amount": a} for c, a in variant.prices.items()],
            )
        uow.publish(
            contracts.VariantUpdated(
                product_id=str(product_id),
                variant_id=str(variant_id),
                sku=variant.sku,
                title=title,
                options=variant.options,
                prices=[Money(amount=a, currency=c) for c, a in variant.prices.items()],
                version=1,
            ),
            subject=variant.sku,
        )
    await uow.commit()
    return CreatedProduct(product_id=product_id, variant_ids=variant_ids)


async def adjust_inventory(
    uow: UnitOfWork, *, sku: str, location: str, delta: int, reason: str
) -> StockLevel:
    """Count units in or out of a location (receiving, a stock take, damage), keeping a ledger entry."""
    if not await repository.existing_skus(uow.session, [sku]):
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
    level = await repository.lock_or_create_stock_level(uow.session, sku, location)
    level.adjust(delta)
    await repository.save_stock_levels(uow.session, [level])
    await uow.session.execute(
        sa.insert(inventory_adjustments).values(sku=sku, location=location, delta=delta, reason=reason)
    )
    await uow.commit()
    return level


async def reserve_stock(uow: UnitOfWork, *, order_id: str, lines: list[RequestedLine]) -> None:
    """Reserve every line of an order, or none of them and say which SKUs are short."""
    levels = await repository.lock_stock_levels(uow.session, sorted({line.sku for line in lines}))
    plan, shortages = plan_reservation(lines, levels)
    if shortages:
        uow.publish(
            contracts.StockRejected(
                order_id=order_id,
                reason="out_of_stock",
                shortages=[
                    contracts.Shortage(sku=s.sku, requested=s.requested, available=s.available)
                    for s in shortages
                ],
            ),
            subject=order_id,
        )
        await uow.commit()
        return
    by_key = {(level.sku, level.location): level for level in levels}
    for planned in plan:
        by_key[planned.sku, planned.location].reserve(planned.quantity)
    await repository.save_stock_levels(uow.session, levels)
    await uow.session.execute(
        sa.insert(reservations),
        [
            {
                "order_id": order_id,
                "sku": p.sku,
                "location": p.location,
                "quantity": p.quantity,
                "status": "reserved",
            }
            for p in plan
        ],
    )
    uow.publish(contracts.StockReserved(order_id=order_id, lines=_located(plan)), subject=order_id)
    await uow.commit()


async def release_stock(uow: UnitOfWork, *, order_id: str) -> None:
    """Give an order's reserved units back; releasing twice changes nothing."""
    held = await _reservations(uow, order_id, status="reserved")
    if held:
        levels = await repository.lock_stock_levels(uow.session, sorted({line.sku for line in held}))
        by_key = {(level.sku, level.location): level for level in levels}
        for line in held:
            by_key[line.sku, line.location].release(line.quantity)
        await repository.save_stock_levels(uow.session, levels)
        await _set_status(uow, order_id, held, "released")
    uow.publish(contracts.StockReleased(order_id=order_id), subject=order_id)
    await uow.commit()


async def commit_stock(uow: UnitOfWork, *, order_id: str, lines: list[PlannedLine]) -> None:
    """Shipped units leave stock: take them off hand and out of the order's reservation."""
    held = {(line.sku, line.location): line for line in await _reservations(uow, order_id, status="reserved")}
    shipped = [line for line in lines if (line.sku, line.location) in held]
    if shipped:
        levels = await repository.lock_stock_levels(uow.session, sorted({line.sku for line in shipped}))
        by_key = {(level.sku, level.location): level for level in levels}
        for line in shipped:
            by_key[line.sku, line.location].commit(line.quantity)
        await repository.save_stock_levels(uow.session, levels)
        await _set_status(uow, order_id, shipped, "committed")
    uow.publish(contracts.StockCommitted(order_id=order_id, lines=_located(shipped)), subject=order_id)
    await uow.commit()


async def _reservations(uow: UnitOfWork, order_id: str, *, status: str) -> list[PlannedLine]:
    rows = await uow.session.execute(
        sa.select(reservations.c.sku, reservations.c.location, reservations.c.quantity).where(
            reservations.c.order_id == order_id, reservations.c.status == status
        )
    )
    return [PlannedLine(sku=row.sku, location=row.location, quantity=row.quantity) for row in rows]


async def _set_status(uow: UnitOfWork, order_id: str, lines: list[PlannedLine], status: str) -> None:
    for line in lines:
        await uow.session.execute(
            sa.update(reservations)
            .where(
                reservations.c.order_id == order_id,
                reservations.c.sku == line.sku,
                reservations.c.location == line.location,
            )
            .values(status=status, updated_at=sa.func.now())
        )


def _located(lines: list[PlannedLine]) -> list[LocatedLine]:
    return [LocatedLine(sku=line.sku, quantity=line.quantity, location=line.location) for line in lines]
