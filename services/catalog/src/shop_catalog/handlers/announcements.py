"""What catalog tells the other services about a SKU: its availability (units in stock, pre-order places
left) and a changed expected ship date for the pre-orders waiting on it."""

from __future__ import annotations

from collections.abc import Iterable

from shop_catalog.domain.preorders import ship_date_changes
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import products as product_records
from shop_catalog.repository import stock as stock_records
from shop_contracts import catalog as contracts
from shop_runtime.database import UnitOfWork


async def tell_changed_ship_dates(uow: UnitOfWork, sku: str, *, reason: str) -> int:
    """Reckon the expected ship date of every waiting pre-order of ``sku`` again and tell each order whose
    date moved; returns how many moved. The caller holds the SKU's policy lock and has saved its changes."""
    await preorder_records.lock_preorder_policies(uow.session, [sku])
    queue = await preorder_records.waiting_preorders(uow.session, [sku])
    dates = await preorder_records.ship_dates(
        uow.session, [sku], await preorder_records.last_policies(uow.session, [sku])
    )
    changes = ship_date_changes(queue, dates)
    versions = await preorder_records.remember_ship_dates(
        uow.session, {change.preorder.id: change.current for change in changes}
    )
    for change in changes:
        order_id = change.preorder.order_id
        uow.publish(
            contracts.PreorderEtaChanged(
                order_id=order_id,
                sku=sku,
                previous_date=change.previous,
                expected_ship_date=change.current,
                reason=reason,
                version=versions[change.preorder.id],
            ),
            subject=order_id,
            correlation_id=order_id,
        )
    return len(changes)


async def tell_availability(uow: UnitOfWork, skus: Iterable[str]) -> None:
    """Publish what each SKU can still sell (``StockAvailabilityChanged``), in the unit of work that changed it.

    A SKU that may not be sold (retired, or its product archived) has nothing in stock and no pre-order
    places left. Called where a SKU sold out (its last units reserved, its pre-order cap reached) and wherever units may
    have come back (a release, a receipt, a count in, a policy saved or ended). Between those calls a SKU's
    figures only go down, so the last message is never below what is left. The figures are read after the
    SKU's availability version is taken, whose row lock is held to the commit: a later version is counted
    after every earlier one committed, so the highest version is the latest state.
    """
    wanted = sorted(set(skus))
    if not wanted:
        return
    versions = {sku: await stock_records.next_availability_version(uow.session, sku) for sku in wanted}
    available = await stock_records.available_units(uow.session, wanted)
    records = await preorder_records.preorder_policies_now(uow.session, wanted)
    sellability = await product_records.sellability(uow.session, wanted)
    for sku in wanted:
        record = records.get(sku)
        policy = record.policy if record is not None else None
        cap = policy.cap if policy is not None else None
        if policy is not None and not sellability[sku].sellable:
            units_left: int | None = 0  # retired or archived: the policy takes no more pre-orders
        else:
            units_left = None if cap is None or record is None else max(cap - record.accepted_units, 0)
        uow.publish(
            contracts.StockAvailabilityChanged(
                sku=sku,
                in_stock_units=available.get(sku, 0),
                preorder_units_left=units_left,
                policy_version=None if record is None else record.version,
                version=versions[sku],
            ),
            subject=sku,
        )
