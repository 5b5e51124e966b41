"""Stock: counting units in and out of a location, holding them for an order (reserve), giving them back
(release) and taking them out when they ship (commit), recorded as facts so any arrival order ends the same."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from shop_catalog.domain.preorders import PreorderTerms, plan_order
from shop_catalog.domain.products import unsellable_shortages
from shop_catalog.domain.stock import (
    Place,
    PlannedLine,
    RequestedLine,
    Shortage,
    StockLevel,
    commit_reserved,
    located,
    location_holding_all,
    release_key,
    release_reserved,
    units_per_place,
)
from shop_catalog.handlers.announcements import tell_availability, tell_changed_ship_dates
from shop_catalog.handlers.answers import Answer, expired_hold, located_lines, reject
from shop_catalog.handlers.preorders import active_policy, allocate_to_waiting_preorders
from shop_catalog.handlers.products import require_sku
from shop_catalog.handlers.reserve_at_once import (
    accept_preorders_at_once,
    open_without_limit,
    reserve_from_stock_at_once,
)
from shop_catalog.handlers.waitlist import tell_waitlists
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import reserves as reserve_records
from shop_catalog.repository import stock as stock_records
from shop_catalog.tables import (
    inventory_adjustments,
    preorders,
    reservations,
)
from shop_contracts import catalog as contracts
from shop_contracts.values import PreorderLine
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork
from shop_runtime.preorder_pricing import window_state

log = logging.getLogger(__name__)


def hold_expiry_key(order_id: str) -> str:
    """The key of the job that gives back units held at checkout if the order's reserve never claims them."""
    return f"expire_stock_hold:{order_id}"


async def adjust_inventory(
    uow: UnitOfWork, *, sku: str, location: str, delta: int, reason: str
) -> StockLevel:
    """Count units in or out of a location (receiving, a stock take, damage), keeping a ledger entry.

    Units counted in go to the SKU's waiting pre-orders first, in queue order; what is left over may bring
    the SKU back in stock, and counting the last units out sells it out.
    """
    return await _count(uow, sku=sku, location=location, delta=delta, reason=reason)


async def restock_return(uow: UnitOfWork, *, return_id: str, lines: list[PlannedLine]) -> None:
    """Resellable units of a received return go back on the shelf at their location (damaged ones are
    disposed and never counted in), each with a ledger entry naming the return; once per return, whatever
    the message id it comes with."""
    if not await stock_records.record_restocked_return(uow.session, return_id):
        return
    for line in lines:
        await _count(
            uow, sku=line.sku, location=line.location, delta=line.quantity, reason=f"return:{return_id}"
        )


async def _count(uow: UnitOfWork, *, sku: str, location: str, delta: int, reason: str) -> StockLevel:
    await require_sku(uow, sku)
    await preorder_records.lock_preorder_policies(uow.session, [sku])
    level = await stock_records.lock_or_create_stock_level(uow.session, sku, location)
    available_before = await stock_records.available_units(uow.session, [sku])
    level.adjust(delta)
    if delta > 0:
        await allocate_to_waiting_preorders(uow, [level])
    await stock_records.save_stock_levels(uow.session, [level])
    crossed = await tell_waitlists(uow, available_before)
    await tell_availability(uow, [sku] if delta > 0 else crossed)
    await uow.session.execute(
        sa.insert(inventory_adjustments).values(sku=sku, location=location, delta=delta, reason=reason)
    )
    return level


async def reserve_stock(
    uow: UnitOfWork,
    *,
    order_id: str,
    lines: list[RequestedLine],
    clock: Clock,
    customer_email: str | None = None,
    customer_segments: frozenset[str] = frozenset(),
    only_at_one_of: list[str] | None = None,
    exchange_id: str | None = None,
    answer: Answer | None = None,
    claim_hold: bool = False,
) -> None:
    """Reserve in-stock lines and accept pre-order lines of an order, or none of them and say why.

    ``only_at_one_of`` (same-day delivery) reserves every line at the first of those locations that holds
    them all, under locks, and rejects the order (``not_at_same_day_location``) when none does.
    ``exchange_id`` marks units for an exchange of an order already paid: the answer carries it.
    ``answer`` receives the decision instead of orders (a hold at checkout keeps it); nothing is sent when the
    order was decided before. Units held for the order at checkout are its reservation: the reserve claims
    them and answers as the hold did; a reserve after its hold expired is refused (``hold_expired``).
    ``claim_hold``: orders took the hold's answer as the reservation when it placed the order, so a claimed hold
    is not answered (only a refusal is); without a hold to claim the reserve decides and answers as always.

    The common orders decide with one conditional UPDATE per SKU and lock nothing before: in-stock SKUs
    without a pre-order policy (``reserve_from_stock_at_once``) and pre-orders in an open window without a
    per-customer limit (``accept_preorders_at_once``). Every other order locks each SKU's policy row first (in
    SKU order), so orders racing for a capped pre-order are counted one after another; both ways keep the
    policy's ``accepted_units`` counter, which the conditional UPDATE checks against the cap.
    """

    def send(message: contracts.StockReserved | contracts.StockRejected) -> None:
        if answer is None:
            uow.publish(message, subject=order_id)
        else:
            answer(message)

    skus = sorted({line.sku for line in lines})
    # One round trip locks the order (recording a new order's reserve request) and reads its SKUs.
    start = await reserve_records.start_reserve(
        uow.session, order_id=order_id, request_key=exchange_id or "", skus=skus
    )
    order = start.order
    if order.held_answer is not None and exchange_id is None and answer is None:
        await stock_records.claim_hold(
            uow.session, order_id, expiry_key=hold_expiry_key(order_id), now=clock.now()
        )
        if not claim_hold:
            send(contracts.StockReserved.model_validate(order.held_answer))
        return
    if order.released:
        if order.hold_expired and exchange_id is None and answer is None:
            # Held at checkout, but its reserve came after the hold was given back: say so, once per copy.
            reject(send, order_id=order_id, shortages=expired_hold(lines))
        else:
            # Released before this arrived (late, or a copy): the order is over and holds nothing again.
            log.info("reserve of released order %s ignored", order_id)
        return
    if not start.request_recorded and not await stock_records.record_reserve_request(
        uow.session, order_id, exchange_id or ""
    ):
        return  # decided before, and the answer was sent then
    read = start.policies
    refused = unsellable_shortages(lines, start.sellability)
    if refused:  # a retired variant, or an archived product's: nothing of the order is held
        reject(send, order_id=order_id, shortages=refused, exchange_id=exchange_id)
        return
    # Commits and releases that overtook the order's reserve wait for its units. Once it is decided, what
    # a change could not take is not the order's to take: an exchange's units are not given to it.
    pending = (
        []
        if order.new or exchange_id is not None
        else await stock_records.pending_changes(uow.session, order_id)
    )
    now = clock.now()
    policies = active_policy(read)
    if only_at_one_of is not None or exchange_id is not None or pending:
        decided = False
    elif not policies:
        decided = await reserve_from_stock_at_once(uow, order_id=order_id, lines=lines, send=send)
    elif set(policies) == set(skus) and all(
        open_without_limit(policy, now, customer_segments) for policy in policies.values()
    ):
        decided = await accept_preorders_at_once(
            uow,
            order_id=order_id,
            lines=lines,
            read=read,
            clock=clock,
            customer_email=customer_email,
            send=send,
        )
    else:
        decided = False
    if decided:
        return
    locked = sorted(set(skus) | {sku for change in pending for sku, _ in change.units})
    records = {
        sku: record
        for sku, record in (await preorder_records.lock_preorder_policies(uow.session, locked)).items()
        if sku in skus
    }
    levels = await stock_records.lock_stock_levels(uow.session, locked)
    available_before = await stock_records.available_units(uow.session, locked)
    if only_at_one_of is not None:
        location = location_holding_all(lines, levels, only_at_one_of) if not active_policy(records) else None
        if location is None:
            reject(
                send,
                order_id=order_id,
                exchange_id=exchange_id,
                shortages=[
                    Shortage(
                        sku=line.sku,
                        requested=line.quantity,
                        available=max(
                            (
                                lvl.available
                                for lvl in levels
                                if lvl.sku == line.sku and lvl.location in only_at_one_of
                            ),
                            default=0,
                        ),
                        reason="not_at_same_day_location",
                    )
                    for line in lines
                ],
            )
            return
        levels = [level for level in levels if level.location == location or level.sku not in skus]
    policies = active_policy(records)
    if exchange_id is not None and policies:
        # An exchange replaces a unit that was delivered: it comes from stock, never from a pre-order queue.
        reject(
            send,
            order_id=order_id,
            exchange_id=exchange_id,
            shortages=[
                Shortage(sku=line.sku, requested=line.quantity, available=0, reason="preorder_only")
                for line in lines
            ],
        )
        return
    accepted = {sku: records[sku].accepted_units for sku in policies}
    accepted_by_customer = (
        await preorder_records.accepted_units(uow.session, policies, customer_email=customer_email)
        if customer_email
        else {}
    )
    terms = {
        sku: PreorderTerms(
            window=window_state(policy, now, segments=customer_segments),
            continue_selling_when_sold_out=policy.continue_selling_when_sold_out,
            cap=policy.cap,
            accepted=accepted.get(sku, 0),
            per_customer_limit=policy.per_customer_limit,
            accepted_for_customer=accepted_by_customer.get(sku, 0),
        )
        for sku, policy in policies.items()
    }
    plan = plan_order(lines, levels, terms)
    if plan.shortages:
        reject(send, order_id=order_id, shortages=plan.shortages, exchange_id=exchange_id)
        return
    by_key = {(level.sku, level.location): level for level in levels}
    for planned in plan.in_stock:
        by_key[planned.sku, planned.location].reserve(planned.quantity)
        await stock_records.add_to_reservation(
            uow.session,
            order_id=order_id,
            sku=planned.sku,
            location=planned.location,
            quantity=planned.quantity,
        )
    came_back = await _apply_pending(uow, order_id, pending, by_key) if pending else set()
    await stock_records.save_stock_levels(uow.session, levels)
    sold_out = await tell_waitlists(uow, available_before)
    accepted_preorders = []
    for line in plan.preorders:
        cap = policies[line.sku].cap
        if cap is not None and accepted.get(line.sku, 0) + line.quantity >= cap:
            sold_out.append(line.sku)
        accepted_preorders.append(
            await preorder_records.add_preorder(
                uow.session,
                order_id=order_id,
                sku=line.sku,
                quantity=line.quantity,
                queue_position=await preorder_records.accept_units(uow.session, line.sku, line.quantity),
                customer_email=customer_email,
                created_at=now,
            )
        )
    dates = (
        await preorder_records.ship_dates(uow.session, [line.sku for line in plan.preorders], policies)
        if plan.preorders
        else {}
    )
    await preorder_records.remember_ship_dates(
        uow.session, {preorder.id: dates.get(preorder.id) for preorder in accepted_preorders}
    )
    send(
        contracts.StockReserved(
            order_id=order_id,
            lines=located_lines(plan.in_stock),
            preorder_lines=[
                PreorderLine(
                    sku=preorder.sku,
                    quantity=preorder.quantity,
                    queue_position=preorder.queue_position,
                    expected_ship_date=dates.get(preorder.id),
                )
                for preorder in accepted_preorders
            ],
            exchange_id=exchange_id,
        )
    )
    await tell_availability(uow, [*sold_out, *came_back])


async def _apply_pending(
    uow: UnitOfWork,
    order_id: str,
    pending: list[stock_records.PendingChange],
    levels: dict[Place, StockLevel],
) -> set[str]:
    """Take from the order's reservation what commits and releases recorded before its reserve asked for
    (``levels`` are locked, and saved by the caller); returns the SKUs whose units came back."""
    reservations_now = await stock_records.lock_reservations(
        uow.session, order_id, {sku for sku, _ in levels}
    )
    came_back: dict[Place, int] = {}
    changed: set[Place] = set()
    for change in pending:
        if change.kind == "commit":
            moved = commit_reserved(reservations_now, levels, change.units)
            if moved:
                uow.publish(
                    contracts.StockCommitted(order_id=order_id, lines=located_lines(located(moved))),
                    subject=order_id,
                )
        else:
            moved = release_reserved(reservations_now, levels, change.units)
            for place, quantity in moved.items():
                came_back[place] = came_back.get(place, 0) + quantity
        changed.update(moved)
        await stock_records.add_applied(
            uow.session, order_id=order_id, kind=change.kind, change_id=change.change_id, units=moved
        )
    await stock_records.save_reservations(uow.session, [reservations_now[place] for place in sorted(changed)])
    if came_back:
        await allocate_to_waiting_preorders(uow, [levels[place] for place in sorted(came_back)])
    return {sku for sku, _ in came_back}


async def release_stock(
    uow: UnitOfWork,
    *,
    order_id: str,
    only: list[PlannedLine] | None = None,
    reason: str = "",
    release_id: str | None = None,
) -> None:
    """Give an order's reserved units and pre-order places back, once: a repeated release changes nothing
    and says nothing, whatever its message id.

    Units that had been allocated to the order's pre-orders go on to the next pre-orders waiting for them.
    With ``only`` (part of an order cancelled while the rest is with the warehouse), just those units, as
    far as they are still reserved, and the order's still-waiting pre-order places are given back; units
    asked for before the order's reserve arrived are given back when it does. A release never gives back
    units that shipped.
    """
    await stock_records.hold_stock_order(uow.session, order_id)
    wanted = None if only is None else units_per_place(only)
    # A partial release is recorded under the id its sender gave it, else under its reason and units.
    change_id = None if only is None else release_id or release_key(reason, only)
    if change_id is None or wanted is None:
        first = await stock_records.mark_released(uow.session, order_id)
    elif not wanted:
        # Only waiting pre-order places go back: nothing located to record, and a copy finds them gone.
        first = True
    else:
        first = await stock_records.record_change(
            uow.session, order_id=order_id, kind="release", change_id=change_id, units=wanted
        )
    if not first:
        # Given back then: a full release leaves nothing held (a reserve arriving since holds nothing), and
        # a partial one took its units then or waits for them.
        return
    touched = await uow.session.execute(
        sa.select(reservations.c.sku)
        .where(reservations.c.order_id == order_id)
        .union(sa.select(preorders.c.sku).where(preorders.c.order_id == order_id))
    )
    touched_skus = list(touched.scalars())
    await preorder_records.lock_preorder_policies(uow.session, touched_skus)
    given_back = await preorder_records.release_preorders(
        uow.session, order_id, statuses=preorder_records.ACCEPTED if only is None else ("waiting",)
    )
    queues_moved = sorted(given_back)
    held = await stock_records.lock_reservations(uow.session, order_id)
    if wanted is None:
        wanted = {place: reservation.held for place, reservation in held.items() if reservation.held > 0}
    to_release = {place: quantity for place, quantity in wanted.items() if place in held}
    levels = {
        (level.sku, level.location): level
        for level in await stock_records.lock_stock_levels(
            uow.session, sorted({sku for sku, _ in to_release})
        )
    }
    available_before = await stock_records.available_units(uow.session, sorted({sku for sku, _ in levels}))
    released = release_reserved(held, levels, to_release)
    if released:
        await stock_records.save_reservations(uow.session, [held[place] for place in released])
        await allocate_to_waiting_preorders(uow, [levels[place] for place in sorted(released)])
        await stock_records.save_stock_levels(uow.session, list(levels.values()))
        await tell_waitlists(uow, available_before)
    if change_id is not None:
        await stock_records.add_applied(
            uow.session, order_id=order_id, kind="release", change_id=change_id, units=released
        )
    await tell_availability(uow, set(given_back) | {sku for sku, _ in released})
    for sku in queues_moved:  # those behind the places given back may ship sooner
        await tell_changed_ship_dates(uow, sku, reason="queue_moved")
    if wanted or given_back or change_id is None:
        uow.publish(contracts.StockReleased(order_id=order_id), subject=order_id)


async def commit_stock(
    uow: UnitOfWork, *, order_id: str, lines: list[PlannedLine], shipment_id: str | None = None
) -> None:
    """Shipped units leave stock: take them off hand and out of the order's reservation.

    Each shipment is committed once (``shipment_id``), whatever the message id it comes with, and takes no
    more than the order still holds at each place, so shipments that share a reservation row each take
    their own part. Units asked for before the order's reserve arrived are taken when it does. A commit
    without a shipment id (an older producer) takes what is still reserved, up to what it names.
    """
    await stock_records.hold_stock_order(uow.session, order_id)
    wanted = units_per_place(lines)
    if shipment_id is not None and not await stock_records.record_change(
        uow.session, order_id=order_id, kind="commit", change_id=shipment_id, units=wanted
    ):
        return  # this shipment was committed before, and said so then
    skus = sorted({sku for sku, _ in wanted})
    # The pre-order policies first, as allocations lock them before they add to a reservation.
    await preorder_records.lock_preorder_policies(uow.session, skus)
    held = await stock_records.lock_reservations(uow.session, order_id, skus)
    levels = {
        (level.sku, level.location): level
        for level in await stock_records.lock_stock_levels(uow.session, skus)
    }
    committed = commit_reserved(held, levels, wanted)
    await stock_records.save_commit(
        uow.session,
        order_id=order_id,
        reservations=[held[place] for place in committed],
        levels=[levels[place] for place in sorted(committed)],
        shipment_id=shipment_id,
        units=committed,
    )
    uow.publish(
        contracts.StockCommitted(order_id=order_id, lines=located_lines(located(committed))), subject=order_id
    )
