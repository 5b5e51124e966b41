"""Safety stock: units a location keeps back from sale (display pieces, a buffer against miscounts). Available is
on hand less reserved less safety stock, never below zero; changing it never moves a unit on hand or reserved,
so it can never oversell what is reserved already."""

from __future__ import annotations

from shop_catalog.domain.stock import StockLevel
from shop_catalog.handlers.announcements import tell_availability
from shop_catalog.handlers.preorders import allocate_to_waiting_preorders
from shop_catalog.handlers.products import require_sku
from shop_catalog.handlers.waitlist import tell_waitlists
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import stock as stock_records
from shop_runtime.database import UnitOfWork


async def set_safety_stock(uow: UnitOfWork, *, sku: str, location: str, units: int) -> StockLevel:
    """Keep ``units`` of a SKU back from sale at a location (0 sells everything on hand).

    Units freed by a lower figure go to the SKU's waiting pre-orders first, like any units that come back; the
    waitlist hears when the SKU comes back in stock, and orders learns the new availability either way.
    """
    await require_sku(uow, sku)
    await preorder_records.lock_preorder_policies(uow.session, [sku])
    level = await stock_records.lock_or_create_stock_level(uow.session, sku, location)
    available_before = await stock_records.available_units(uow.session, [sku])
    lowered = units < level.safety_stock
    level.safety_stock = units
    await stock_records.save_safety_stock(uow.session, level)
    if lowered:
        await allocate_to_waiting_preorders(uow, [level])
        await stock_records.save_stock_levels(uow.session, [level])
    await tell_waitlists(uow, available_before)
    await tell_availability(uow, [sku])
    return level
