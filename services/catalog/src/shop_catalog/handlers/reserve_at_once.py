"""The common reserves decided with one conditional UPDATE per SKU and no lock first: in-stock SKUs without a
pre-order policy, and pre-orders in an open window without a per-customer limit. Each says when only the
locking path in ``stock`` can decide."""

from __future__ import annotations

from datetime import datetime

from shop_catalog.domain.low_stock import LowStockWatch
from shop_catalog.domain.preorders import PreorderTerms, preorder_shortage
from shop_catalog.domain.stock import PlannedLine, RequestedLine, StockLevel, plan_reservation
from shop_catalog.domain.waitlist import availability_changes
from shop_catalog.handlers.announcements import tell_availability
from shop_catalog.handlers.answers import Answer, located_lines, reject
from shop_catalog.handlers.low_stock import watch_low_stock
from shop_catalog.handlers.preorders import active_policy
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import stock as stock_records
from shop_catalog.repository import waitlist as waitlist_records
from shop_catalog.repository.preorders import PolicyRecord
from shop_contracts import catalog as contracts
from shop_contracts.values import PreorderLine, PreorderPolicy
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork
from shop_runtime.preorder_pricing import window_state


async def reserve_from_stock_at_once(
    uow: UnitOfWork, *, order_id: str, lines: list[RequestedLine], send: Answer
) -> bool:
    """Reserve an order of SKUs without a pre-order policy: one conditional update per SKU, no lock first.

    True when it is decided: reserved at one location per SKU, or rejected because the stock (as one
    statement saw it) cannot cover a line. False when only the locking path can tell, because a line must
    be split over locations or another order just took the units of the chosen location; nothing this
    function reserved is left reserved then. SKUs are updated in SKU order, as the locking path locks them.
    """
    requested: dict[str, int] = {}
    for line in lines:
        requested[line.sku] = requested.get(line.sku, 0) + line.quantity
    taken: dict[str, StockLevel] = {}
    seen: list[StockLevel] = []
    watches: dict[str, LowStockWatch] | None = None
    last = max(requested)
    for sku in sorted(requested):
        # The last SKU's units, once taken, decide the order: its update adds them to the order's reservation
        # and locks the order's low-stock watches, after every stock row, as ``watch_low_stock`` would next.
        reserving = await stock_records.reserve_at_one_location(
            uow.session,
            sku,
            requested[sku],
            or_look_at=sorted(requested),
            for_order=order_id if sku == last else None,
            lock_watches_of=sorted(requested) if sku == last else None,
        )
        if reserving.reserved is None:
            seen = reserving.seen
            break
        taken[sku] = reserving.reserved
        watches = reserving.watches
    else:
        # before the availability version's lock, as every other path
        await watch_low_stock(uow, requested, locked=watches)
        emptied = sorted(sku for sku, level in taken.items() if level.available == 0)
        if emptied:
            left = await stock_records.available_units(uow.session, emptied)
            before = {sku: left.get(sku, 0) + requested[sku] for sku in emptied}
            sold_out = availability_changes(before, left).sold_out
            if sold_out:
                await waitlist_records.reset_waitlist_notified(uow.session, sold_out, "back_in_stock")
                await tell_availability(uow, sold_out)
        planned = [
            PlannedLine(sku=sku, location=taken[sku].location, quantity=quantity)
            for sku, quantity in requested.items()
        ]
        for planned_line in (line for line in planned if line.sku != last):
            await stock_records.add_to_reservation(
                uow.session,
                order_id=order_id,
                sku=planned_line.sku,
                location=planned_line.location,
                quantity=planned_line.quantity,
            )
        send(contracts.StockReserved(order_id=order_id, lines=located_lines(planned), preorder_lines=[]))
        return True
    for sku, level in taken.items():
        await stock_records.unreserve(uow.session, level, requested[sku])
    # The rows the failed update saw are the stock as it stood, unless this reserve took units before it.
    levels_now = await stock_records.stock_levels_now(uow.session, sorted(requested)) if taken else seen
    _, shortages = plan_reservation(
        [RequestedLine(sku=sku, quantity=quantity) for sku, quantity in requested.items()], levels_now
    )
    if not shortages:
        return False
    reject(send, order_id=order_id, shortages=shortages)
    return True


def open_without_limit(policy: PreorderPolicy, now: datetime, segments: frozenset[str]) -> bool:
    """Whether a line of this policy is a pre-order decided by the cap alone (no stock, no customer count)."""
    return (
        window_state(policy, now, segments=segments) == "open"
        and not policy.continue_selling_when_sold_out
        and policy.per_customer_limit is None
    )


async def accept_preorders_at_once(
    uow: UnitOfWork,
    *,
    order_id: str,
    lines: list[RequestedLine],
    read: dict[str, PolicyRecord],
    clock: Clock,
    customer_email: str | None,
    send: Answer,
) -> bool:
    """Accept an order of pre-orders in an open window without a per-customer limit: one conditional UPDATE
    of each SKU's policy row counts the units against the cap and takes a queue place, no lock first.

    ``read`` is the policy rows as read before. True when it is decided: accepted, or rejected because a
    cap is reached. False when only the locking path can tell (a policy was changed or ended since it was
    read); nothing is left accepted then.
    """
    requested: dict[str, int] = {}
    for line in lines:
        requested[line.sku] = requested.get(line.sku, 0) + line.quantity
    positions: dict[str, int] = {}
    full: list[str] = []
    for sku in sorted(requested):
        accepted_now = await preorder_records.accept_units_within_cap(uow.session, read[sku], requested[sku])
        if accepted_now is None:
            break
        positions[sku], units = accepted_now
        policy = read[sku].policy
        if policy is not None and policy.cap is not None and units >= policy.cap:
            full.append(sku)
    else:
        now = clock.now()
        accepted = [
            await preorder_records.add_preorder(
                uow.session,
                order_id=order_id,
                sku=sku,
                quantity=quantity,
                queue_position=positions[sku],
                customer_email=customer_email,
                created_at=now,
            )
            for sku, quantity in requested.items()
        ]
        policies = active_policy(read)
        dates = await preorder_records.ship_dates(uow.session, list(requested), policies)
        await preorder_records.remember_ship_dates(
            uow.session, {preorder.id: dates.get(preorder.id) for preorder in accepted}
        )
        send(
            contracts.StockReserved(
                order_id=order_id,
                lines=[],
                preorder_lines=[
                    PreorderLine(
                        sku=preorder.sku,
                        quantity=preorder.quantity,
                        queue_position=preorder.queue_position,
                        expected_ship_date=dates.get(preorder.id),
                    )
                    for preorder in accepted
                ],
            )
        )
        await tell_availability(uow, full)
        return True
    for sku in positions:
        await preorder_records.unaccept_units(uow.session, sku, requested[sku])
    now_read = await preorder_records.preorder_policies_now(uow.session, requested)
    shortages = []
    for sku, quantity in requested.items():
        record = now_read.get(sku)
        if record is None or record.version != read[sku].version or record.policy is None:
            return False
        terms = PreorderTerms(
            window="open",
            continue_selling_when_sold_out=False,
            cap=record.policy.cap,
            accepted=record.accepted_units,
            per_customer_limit=None,
            accepted_for_customer=0,
        )
        shortage = preorder_shortage(sku, quantity, terms)
        if shortage is not None:
            shortages.append(shortage)
    if not shortages:
        return False
    reject(send, order_id=order_id, shortages=shortages)
    return True
