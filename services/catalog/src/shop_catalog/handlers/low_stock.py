"""Low-stock alerts: after a stock change, under the SKU's locks and in its transaction, alert staff once when
its available units crossed its threshold going down, and re-arm it once they are back above."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shop_catalog.domain.low_stock import LowStockWatch, effective_threshold, low_stock_step
from shop_catalog.handlers.products import require_sku
from shop_catalog.repository import low_stock as low_stock_records
from shop_catalog.repository import products as product_records
from shop_catalog.repository import stock as stock_records
from shop_contracts import catalog as contracts
from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter

LOW_STOCK_ALERTS = business_counter("shop_catalog_low_stock_alerts", "Low-stock alerts published to staff")


@dataclass
class LowStockDefaults:
    """The shop default threshold for SKUs without their own (None: only SKUs with their own are watched).

    Set once at start-up from ``CatalogSettings.low_stock_default_threshold`` (``bootstrap``): every stock
    change reaches the watch through handlers that take no settings, so the one setting is held here.
    """

    threshold: int | None = None


SHOP_DEFAULTS = LowStockDefaults()


def configure_low_stock(default_threshold: int | None) -> None:
    SHOP_DEFAULTS.threshold = default_threshold


@dataclass(frozen=True)
class WatchState:
    sku: str
    threshold: int | None
    own_threshold: int | None
    available: int
    alerted: bool


async def watch_low_stock(
    uow: UnitOfWork, skus: Iterable[str], *, locked: dict[str, LowStockWatch] | None = None
) -> None:
    """Alert or re-arm each of ``skus`` as its available units now stand.

    Called after the stock change was saved, with the SKUs' stock rows locked or updated by this transaction.
    The watch row's lock serialises the decision per SKU: whoever takes it second reads the first's committed
    stock, so two changes never both alert for one crossing. ``locked``: the watches of ``skus`` that exist,
    already locked by this transaction's stock change (its statement took them after the stock rows), so they
    are not locked again; the stock is still read by a later statement, which sees what committed before.
    """
    wanted = sorted(set(skus))
    if not wanted:
        return
    shop_default = SHOP_DEFAULTS.threshold
    watches = (
        dict(locked) if locked is not None else await low_stock_records.lock_watches(uow.session, wanted)
    )
    missing = [sku for sku in wanted if sku not in watches]
    if missing and shop_default is not None:
        await low_stock_records.create_watches(uow.session, missing)
        watches.update(await low_stock_records.lock_watches(uow.session, missing))
    if not watches:
        return
    available = await stock_records.available_units(uow.session, list(watches))
    for sku, watch in sorted(watches.items()):
        if sku not in available:
            continue  # not sellable (retired, archived) or never stocked: nothing to judge
        threshold = effective_threshold(watch.threshold, shop_default)
        step = low_stock_step(available=available[sku], threshold=threshold, alerted=watch.alerted)
        if step == "alert" and threshold is not None:
            await _alert(uow, sku=sku, available=available[sku], threshold=threshold)
        elif step == "rearm":
            await low_stock_records.rearm(uow.session, sku)


async def _alert(uow: UnitOfWork, *, sku: str, available: int, threshold: int) -> None:
    levels = await stock_records.stock_levels_now(uow.session, [sku])
    listing = await product_records.variant_listing(uow.session, sku)
    number = await low_stock_records.mark_alerted(uow.session, sku, available)
    uow.publish(
        contracts.StockLow(
            sku=sku,
            title=listing.title,
            available=available,
            threshold=threshold,
            locations=[
                contracts.LowStockLocation(
                    location=level.location,
                    on_hand=level.on_hand,
                    reserved=level.reserved,
                    safety_stock=level.safety_stock,
                    available=level.available,
                )
                for level in levels
            ],
            alert_number=number,
        ),
        subject=sku,
    )
    uow.after_commit(LOW_STOCK_ALERTS.inc)


async def set_low_stock_threshold(uow: UnitOfWork, *, sku: str, threshold: int | None) -> WatchState:
    """Set a SKU's own threshold (None: follow the shop default) and judge it at once: a SKU already at or below
    a threshold it was not alerted for alerts now; one back above is re-armed."""
    await require_sku(uow, sku)
    await stock_records.lock_stock_levels(uow.session, [sku])  # the stock locks first, as every stock change
    await low_stock_records.set_threshold(uow.session, sku, threshold)
    await watch_low_stock(uow, [sku])
    return await watch_state(uow, sku)


async def watch_state(uow: UnitOfWork, sku: str) -> WatchState:
    watch = await low_stock_records.watch_of(uow.session, sku)
    own = None if watch is None else watch.threshold
    available = (await stock_records.available_units(uow.session, [sku])).get(sku, 0)
    return WatchState(
        sku=sku,
        threshold=effective_threshold(own, SHOP_DEFAULTS.threshold),
        own_threshold=own,
        available=available,
        alerted=watch is not None and watch.alerted,
    )
