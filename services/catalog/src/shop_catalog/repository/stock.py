"""Stock levels and reservations, locked and saved inside a unit of work, and the facts of an order's stock
messages (its lock, reserve requests, changes applied, restocked returns)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.low_stock import LowStockWatch
from shop_catalog.domain.stock import Place, Reservation, StockLevel
from shop_catalog.tables import (
    low_stock_watches,
    products,
    reservation_changes,
    reservations,
    reserve_requests,
    restocked_returns,
    scheduled_jobs,
    stock_levels,
    stock_orders,
    variants,
)
from shop_runtime.scheduling import Job


async def lock_stock_levels(session: AsyncSession, skus: list[str]) -> list[StockLevel]:
    """Lock the stock rows of ``skus`` (in a fixed order, so concurrent reservations cannot deadlock)."""
    rows = (
        await session.execute(
            sa.select(stock_levels)
            .where(stock_levels.c.sku.in_(skus))
            .order_by(stock_levels.c.sku, stock_levels.c.location)
            .with_for_update()
        )
    ).all()
    return [_level(row) for row in rows]


def skus_parameter() -> sa.BindParameter[Any]:
    """A list of SKUs bound as one array (``sku = ANY(:skus)``): one statement text whatever the list's length,
    where ``IN`` renders a text per length (compiled and prepared again for each)."""
    return sa.bindparam("skus", type_=postgresql.ARRAY(sa.Text))


# The statements of a reserve are built once: SQLAlchemy keeps a statement object's cache key, so running one
# again neither builds it nor walks it for its key (18% of a placed hold's CPU when each call built its own).
_STOCK_LEVELS_NOW = (
    sa.select(stock_levels)
    .where(stock_levels.c.sku == sa.any_(skus_parameter()))
    .order_by(stock_levels.c.sku, stock_levels.c.location)
)


async def stock_levels_now(session: AsyncSession, skus: list[str]) -> list[StockLevel]:
    """The stock rows of ``skus`` as one statement sees them, without locking them."""
    rows = await session.execute(_STOCK_LEVELS_NOW, {"skus": list(skus)})
    return [_level(row) for row in rows]


_AVAILABLE = stock_levels.c.on_hand - stock_levels.c.reserved - stock_levels.c.safety_stock
_QUANTITY = sa.bindparam("wanted", type_=sa.Integer)


def _added_to_reservation(statement: postgresql.Insert) -> postgresql.Insert:
    """``statement`` (rows of ``reservations``) adding to the order's row at a place when it has one."""
    return statement.on_conflict_do_update(
        index_elements=[reservations.c.order_id, reservations.c.sku, reservations.c.location],
        set_={
            "quantity": sa.case(
                (
                    reservations.c.status == "reserved",
                    reservations.c.quantity + statement.excluded.quantity,
                ),
                else_=statement.excluded.quantity,
            ),
            "status": "reserved",
            "updated_at": sa.func.now(),
        },
    )


def _reserve_at_fullest() -> sa.CompoundSelect[Any]:
    """The conditional UPDATE of ``reserve_at_one_location`` (its row, ``taken`` true), or when it updated nothing
    the stock rows of ``skus`` (``taken`` false), as the statement saw them before it changed anything."""
    reserved = (
        sa.update(stock_levels)
        .where(
            stock_levels.c.sku == sa.bindparam("wanted_sku", type_=sa.Text),
            stock_levels.c.location
            == (
                sa.select(stock_levels.c.location)
                .where(
                    stock_levels.c.sku == sa.bindparam("wanted_sku", type_=sa.Text), _QUANTITY <= _AVAILABLE
                )
                .order_by(_AVAILABLE.desc(), stock_levels.c.location)
                .limit(1)
                .scalar_subquery()
            ),
            _QUANTITY <= _AVAILABLE,
        )
        .values(reserved=stock_levels.c.reserved + _QUANTITY)
        .returning(*stock_levels.c)
        .cte("reserved")
    )
    added = _added_to_reservation(
        insert(reservations).from_select(
            ["order_id", "sku", "location", "quantity", "status"],
            sa.select(
                sa.bindparam("for_order", type_=sa.Text),
                reserved.c.sku,
                reserved.c.location,
                _QUANTITY,
                sa.literal("reserved", type_=sa.Text),
            ).where(sa.bindparam("for_order", type_=sa.Text).is_not(None)),
        )
    ).cte("added")
    # The low-stock watches of ``watch_skus``, locked in SKU order once the units are taken: read only by the taken
    # row's subquery, so they are locked after the stock row (the order every stock change takes) and only when
    # the reserve took units. The statement reading the stock they judge comes after, with a snapshot of its own.
    watched = (
        sa.select(low_stock_watches.c.sku, low_stock_watches.c.threshold, low_stock_watches.c.alerted_at)
        .where(
            low_stock_watches.c.sku == sa.any_(sa.bindparam("watch_skus", type_=postgresql.ARRAY(sa.Text)))
        )
        .order_by(low_stock_watches.c.sku)
        .with_for_update()
        .cte("watched")
    )
    watches = (
        sa.select(
            sa.func.jsonb_agg(
                sa.func.jsonb_build_array(
                    watched.c.sku, watched.c.threshold, watched.c.alerted_at.is_not(None)
                )
            )
        )
        .select_from(watched)
        .scalar_subquery()
    )
    columns = ("sku", "location", "on_hand", "reserved", "safety_stock")
    return sa.union_all(
        sa.select(
            sa.true().label("taken"), *(reserved.c[name] for name in columns), watches.label("watches")
        ),
        sa.select(
            sa.false().label("taken"),
            *(stock_levels.c[name] for name in columns),
            sa.null().cast(postgresql.JSONB).label("watches"),
        )
        .where(stock_levels.c.sku == sa.any_(skus_parameter()), ~sa.exists(sa.select(reserved.c.sku)))
        .order_by(stock_levels.c.sku, stock_levels.c.location),
    ).add_cte(added)


_RESERVE_AT_FULLEST = _reserve_at_fullest()


@dataclass(frozen=True)
class AtOneLocation:
    """What ``reserve_at_one_location`` did: the level it reserved at, or what it saw instead."""

    reserved: StockLevel | None
    """The stock row the units were reserved at (as updated); None when no location had them."""
    seen: list[StockLevel]
    """When nothing was reserved: the stock rows of the SKUs asked about, as the statement saw them (with no
    change of its own, and those of the transaction's earlier statements)."""
    watches: dict[str, LowStockWatch] | None = None
    """With ``lock_watches_of`` and units reserved: the low-stock watches of those SKUs that exist, locked by the
    statement after the stock row (None otherwise)."""


async def reserve_at_one_location(
    session: AsyncSession,
    sku: str,
    quantity: int,
    *,
    or_look_at: list[str],
    for_order: str | None = None,
    lock_watches_of: list[str] | None = None,
) -> AtOneLocation:
    """Reserve ``quantity`` units of ``sku`` at its fullest location in one statement; when none has them, that
    statement reads the stock rows of ``or_look_at`` instead (one round trip either way). With ``for_order``,
    units reserved are added to that order's reservation by the same statement (as ``add_to_reservation``).
    With ``lock_watches_of``, units reserved also lock the low-stock watches of those SKUs, in SKU order after
    the stock row, as ``low_stock.lock_watches`` would have next (``watches``); nothing is locked when no units
    were reserved.

    The availability check is in the UPDATE's WHERE clause: PostgreSQL re-checks it on the row's latest
    version after waiting for a concurrent reservation of the same row, so this never oversells and holds
    the row's lock only from the update to the commit. A location chosen just before another order emptied
    it reserves nothing too (the rows seen then may still show its units); the caller then looks again under
    locks.
    """
    rows = (
        await session.execute(
            _RESERVE_AT_FULLEST,
            {
                "wanted_sku": sku,
                "wanted": quantity,
                "skus": or_look_at,
                "for_order": for_order,
                "watch_skus": lock_watches_of or [],
            },
        )
    ).all()
    if rows and rows[0].taken:
        watches = None
        if lock_watches_of is not None:
            watches = {
                watched_sku: LowStockWatch(sku=watched_sku, threshold=threshold, alerted=alerted)
                for watched_sku, threshold, alerted in rows[0].watches or []
            }
        return AtOneLocation(reserved=_level(rows[0]), seen=[], watches=watches)
    return AtOneLocation(reserved=None, seen=[_level(row) for row in rows])


async def unreserve(session: AsyncSession, level: StockLevel, quantity: int) -> None:
    """Give back units this transaction reserved at ``level`` (its row is still locked by this transaction)."""
    await session.execute(
        sa.update(stock_levels)
        .where(stock_levels.c.sku == level.sku, stock_levels.c.location == level.location)
        .values(reserved=stock_levels.c.reserved - quantity)
    )


def _level(row: sa.Row[Any]) -> StockLevel:
    return StockLevel(
        sku=row.sku,
        location=row.location,
        on_hand=row.on_hand,
        reserved=row.reserved,
        safety_stock=row.safety_stock,
    )


async def lock_or_create_stock_level(session: AsyncSession, sku: str, location: str) -> StockLevel:
    await session.execute(
        insert(stock_levels)
        .values(sku=sku, location=location, on_hand=0, reserved=0)
        .on_conflict_do_nothing()
    )
    [level] = await lock_stock_levels_at(session, sku, location)
    return level


async def lock_stock_levels_at(session: AsyncSession, sku: str, location: str) -> list[StockLevel]:
    levels = await lock_stock_levels(session, [sku])
    return [level for level in levels if level.location == location]


async def save_stock_levels(session: AsyncSession, levels: list[StockLevel]) -> None:
    for level in levels:
        await session.execute(
            sa.update(stock_levels)
            .where(stock_levels.c.sku == level.sku, stock_levels.c.location == level.location)
            .values(on_hand=level.on_hand, reserved=level.reserved)
        )


async def save_safety_stock(session: AsyncSession, level: StockLevel) -> None:
    """Save the units the location keeps back from sale (the caller holds the level's lock)."""
    await session.execute(
        sa.update(stock_levels)
        .where(stock_levels.c.sku == level.sku, stock_levels.c.location == level.location)
        .values(safety_stock=level.safety_stock)
    )


async def next_availability_version(session: AsyncSession, sku: str) -> int:
    """Bump the SKU's availability version and lock its variant row until commit, so the availability
    messages of one SKU are numbered in the order their transactions commit."""
    version = (
        await session.execute(
            sa.update(variants)
            .where(variants.c.sku == sku)
            .values(availability_version=variants.c.availability_version + 1)
            .returning(variants.c.availability_version)
        )
    ).scalar_one()
    return int(version)


async def add_to_reservation(
    session: AsyncSession, *, order_id: str, sku: str, location: str, quantity: int
) -> None:
    """Reserve units for an order at a location, adding to the order's row there if it has one.

    A row no longer reserved (its units shipped or were released) holds these units again; what it
    committed before stays counted.
    """
    await session.execute(
        _ADD_TO_RESERVATION,
        {
            "reserve_order": order_id,
            "reserve_sku": sku,
            "reserve_location": location,
            "reserve_quantity": quantity,
        },
    )


_ADD_TO_RESERVATION = _added_to_reservation(
    insert(reservations).values(
        order_id=sa.bindparam("reserve_order", type_=sa.Text),
        sku=sa.bindparam("reserve_sku", type_=sa.Text),
        location=sa.bindparam("reserve_location", type_=sa.Text),
        quantity=sa.bindparam("reserve_quantity", type_=sa.Integer),
        status="reserved",
    )
)


@dataclass(frozen=True)
class StockOrder:
    """What catalog knows of an order as a whole, read under the order's lock."""

    order_id: str
    new: bool
    """No message of this order came before (so nothing of it waits to be applied)."""
    released: bool
    """Everything it held was given back: nothing is reserved for it again."""
    held_answer: dict[str, Any] | None = None
    """Units held at checkout that the order's reserve has not claimed yet: the answer it will be sent."""
    hold_expired: bool = False
    """It was held at checkout and given back unclaimed: a reserve arriving now is refused."""


NEW_STOCK_ORDER = (
    # the order's row made on its first message, its id returned; nothing returned when it existed
    insert(stock_orders)
    .values(order_id=sa.bindparam("the_order", type_=sa.Text))
    .on_conflict_do_nothing(index_elements=[stock_orders.c.order_id])
    .returning(stock_orders.c.order_id)
)
_LOCKED_ORDER = (
    sa.select(stock_orders.c.released_at, stock_orders.c.held_answer, stock_orders.c.hold_expired_at)
    .where(stock_orders.c.order_id == sa.bindparam("the_order", type_=sa.Text))
    .with_for_update()
)


async def lock_stock_order(session: AsyncSession, order_id: str) -> StockOrder:
    """Lock the order's row, making it on its first message: every stock message of one order takes this
    lock first, so two replicas never handle the same order's messages at once."""
    inserted = (await session.execute(NEW_STOCK_ORDER, {"the_order": order_id})).first()
    if inserted is not None:
        return StockOrder(order_id=order_id, new=True, released=False)
    return await locked_stock_order(session, order_id)


_HELD_ORDER = (
    # made, or locked when it exists (the update changes nothing but takes the row's lock)
    insert(stock_orders)
    .values(order_id=sa.bindparam("the_order", type_=sa.Text))
    .on_conflict_do_update(
        index_elements=[stock_orders.c.order_id], set_={"order_id": sa.literal_column("excluded.order_id")}
    )
)


async def hold_stock_order(session: AsyncSession, order_id: str) -> None:
    """Take the order's lock as ``lock_stock_order`` does, in one statement, for a step that does not read the
    order's row."""
    await session.execute(_HELD_ORDER, {"the_order": order_id})


async def locked_stock_order(session: AsyncSession, order_id: str) -> StockOrder:
    """Lock the row of an order whose row exists (``lock_stock_order`` makes it when it does not)."""
    row = (await session.execute(_LOCKED_ORDER, {"the_order": order_id})).one()
    return StockOrder(
        order_id=order_id,
        new=False,
        released=row.released_at is not None,
        held_answer=row.held_answer,
        hold_expired=row.hold_expired_at is not None,
    )


async def mark_released(session: AsyncSession, order_id: str) -> bool:
    """Record that the order gave everything back (the caller holds its lock); False when it had already.
    A hold not yet claimed goes with it."""
    marked = await session.execute(
        sa.update(stock_orders)
        .where(stock_orders.c.order_id == order_id, stock_orders.c.released_at.is_(None))
        .values(released_at=sa.func.now(), held_answer=None)
        .returning(stock_orders.c.order_id)
    )
    return marked.first() is not None


def record_hold(
    order_id: str,
    answer: dict[str, Any],
    *,
    expiry: Job,
    expiry_key: str,
    due_at: datetime,
) -> tuple[sa.Executable, dict[str, Any]]:
    """The statement (and its parameters) that keeps the answer of units held at checkout until the order's
    reserve claims it, and schedules ``expiry`` (the job that gives the hold back unclaimed) under ``expiry_key``
    at ``due_at`` (the caller holds the order's lock). The job is added as ``scheduling.schedule`` adds one: a job
    with that key stays as it is. It is the hold's last write: the caller runs it with ``UnitOfWork.execute_last``,
    so the outbox rows of the hold (an availability change, a low-stock alert) travel in it."""
    return (
        _RECORD_HOLD,
        {
            "the_order": order_id,
            "answer": answer,
            "job_kind": expiry.KIND,
            "job_key": expiry_key,
            "job_due_at": due_at,
            "job_payload": expiry.model_dump(mode="json"),
        },
    )


# A data-modifying CTE runs to completion whether or not the statement reads it: the answer is kept and the
# expiry scheduled in one round trip, where the answer's UPDATE and the job's INSERT took one each.
_RECORD_HOLD = (
    insert(scheduled_jobs)
    .values(
        kind=sa.bindparam("job_kind", type_=sa.Text),
        key=sa.bindparam("job_key", type_=sa.Text),
        due_at=sa.bindparam("job_due_at", type_=scheduled_jobs.c.due_at.type),
        payload=sa.bindparam("job_payload", type_=postgresql.JSONB),
    )
    .on_conflict_do_nothing()
    .add_cte(
        sa.update(stock_orders)
        .where(stock_orders.c.order_id == sa.bindparam("the_order", type_=sa.Text))
        .values(held_answer=sa.bindparam("answer", type_=postgresql.JSONB))
        .cte("held")
    )
)


async def claim_hold(session: AsyncSession, order_id: str, *, expiry_key: str, now: datetime) -> None:
    """The order's reserve took what was held for it at checkout, and the job that would give it back unclaimed
    (``expiry_key``) is cancelled as ``scheduling.cancel`` cancels one, in one statement (the caller holds the
    order's lock)."""
    await session.execute(_CLAIM_HOLD, {"the_order": order_id, "job_key": expiry_key, "job_now": now})


# As in _RECORD_HOLD: the claim's UPDATE runs as a CTE of the job's, one round trip where there were two.
_CLAIM_HOLD = (
    sa.update(scheduled_jobs)
    .where(
        scheduled_jobs.c.key == sa.bindparam("job_key", type_=sa.Text),
        scheduled_jobs.c.done_at.is_(None),
    )
    .values(done_at=sa.bindparam("job_now", type_=scheduled_jobs.c.done_at.type), cancelled=True)
    .add_cte(
        sa.update(stock_orders)
        .where(stock_orders.c.order_id == sa.bindparam("the_order", type_=sa.Text))
        .values(held_answer=None)
        .cte("claimed")
    )
)


async def mark_hold_expired(session: AsyncSession, order_id: str) -> None:
    """Record that a hold nobody claimed is given back (the caller holds the order's lock and releases it)."""
    await session.execute(
        sa.update(stock_orders)
        .where(stock_orders.c.order_id == order_id)
        .values(held_answer=None, hold_expired_at=sa.func.now())
    )


async def record_reserve_request(session: AsyncSession, order_id: str, request_key: str) -> bool:
    """Record a reserve of the order (its own lines, or an exchange's); False when it was decided before."""
    inserted = await session.execute(
        insert(reserve_requests)
        .values(order_id=order_id, request_key=request_key)
        .on_conflict_do_nothing(index_elements=[reserve_requests.c.order_id, reserve_requests.c.request_key])
        .returning(reserve_requests.c.order_id)
    )
    return inserted.first() is not None


ChangeKind = Literal["commit", "release"]


async def record_change(
    session: AsyncSession, *, order_id: str, kind: ChangeKind, change_id: str, units: dict[Place, int]
) -> bool:
    """Record a shipment's commit or a partial release, per place, once (the caller holds the order's lock);
    False when the same change was recorded before, whatever the units it named then. One statement: the
    lock held, nobody else records this order's changes meanwhile."""
    recorded = await session.scalar(
        _RECORDING_CHANGE,
        {
            "order_id": order_id,
            "kind": kind,
            "change_id": change_id,
            "units": [
                {"sku": sku, "location": location, "quantity": quantity}
                for (sku, location), quantity in sorted(units.items())
            ],
        },
    )
    return bool(recorded)


_RECORDING_CHANGE = sa.text(
    "WITH known AS (SELECT 1 FROM reservation_changes"
    " WHERE order_id = :order_id AND kind = :kind AND change_id = :change_id LIMIT 1),"
    " added AS (INSERT INTO reservation_changes (order_id, kind, change_id, sku, location, quantity)"
    " SELECT :order_id, :kind, :change_id, u.sku, u.location, u.quantity"
    " FROM jsonb_to_recordset(:units) AS u(sku text, location text, quantity integer)"
    " WHERE NOT EXISTS (SELECT 1 FROM known))"
    " SELECT NOT EXISTS (SELECT 1 FROM known)"
).bindparams(
    sa.bindparam("order_id", type_=sa.Text),
    sa.bindparam("kind", type_=sa.Text),
    sa.bindparam("change_id", type_=sa.Text),
    sa.bindparam("units", type_=postgresql.JSONB),
)


async def add_applied(
    session: AsyncSession, *, order_id: str, kind: ChangeKind, change_id: str, units: dict[Place, int]
) -> None:
    """Count units of a recorded change as taken from the order's reservation."""
    for (sku, location), quantity in sorted(units.items()):
        await session.execute(
            sa.update(reservation_changes)
            .where(
                reservation_changes.c.order_id == order_id,
                reservation_changes.c.kind == kind,
                reservation_changes.c.change_id == change_id,
                reservation_changes.c.sku == sku,
                reservation_changes.c.location == location,
            )
            .values(applied=reservation_changes.c.applied + quantity)
        )


@dataclass(frozen=True)
class PendingChange:
    """Units of a recorded change not yet taken: they came before the units were reserved."""

    kind: ChangeKind
    change_id: str
    units: dict[Place, int]


async def pending_changes(session: AsyncSession, order_id: str) -> list[PendingChange]:
    """The order's changes with units still to take: commits first (those units left the building), each
    kind in the order it was recorded."""
    rows = await session.execute(
        sa.select(reservation_changes)
        .where(
            reservation_changes.c.order_id == order_id,
            reservation_changes.c.applied < reservation_changes.c.quantity,
        )
        .order_by(
            reservation_changes.c.kind,
            reservation_changes.c.recorded_at,
            reservation_changes.c.change_id,
            reservation_changes.c.sku,
            reservation_changes.c.location,
        )
    )
    changes: dict[tuple[str, str], PendingChange] = {}
    for row in rows:
        change = changes.setdefault(
            (row.kind, row.change_id), PendingChange(kind=row.kind, change_id=row.change_id, units={})
        )
        change.units[row.sku, row.location] = row.quantity - row.applied
    return list(changes.values())


async def lock_reservations(
    session: AsyncSession, order_id: str, skus: Iterable[str] | None = None
) -> dict[Place, Reservation]:
    """Lock the order's reservation rows (of ``skus`` only, when given), by place."""
    query = (
        sa.select(reservations)
        .where(reservations.c.order_id == order_id)
        .order_by(reservations.c.sku, reservations.c.location)
        .with_for_update()
    )
    if skus is not None:
        query = query.where(reservations.c.sku.in_(sorted(set(skus))))
    return {
        (row.sku, row.location): Reservation(
            order_id=row.order_id,
            sku=row.sku,
            location=row.location,
            # Rows written before ``committed`` existed kept their quantity when they stopped holding it.
            held=row.quantity if row.status == "reserved" else 0,
            committed=row.committed,
        )
        for row in (await session.execute(query)).all()
    }


async def save_reservations(session: AsyncSession, changed: Iterable[Reservation]) -> None:
    for reservation in changed:
        await session.execute(
            sa.update(reservations)
            .where(
                reservations.c.order_id == reservation.order_id,
                reservations.c.sku == reservation.sku,
                reservations.c.location == reservation.location,
            )
            .values(
                quantity=reservation.held,
                committed=reservation.committed,
                status=reservation.status,
                updated_at=sa.func.now(),
            )
        )


_SAVING_COMMIT = sa.text(
    "WITH saved_reservations AS (UPDATE reservations AS t"
    " SET quantity = r.held, committed = r.committed, status = r.status, updated_at = now()"
    " FROM jsonb_to_recordset(:reservations) AS r(sku text, location text, held integer, committed integer,"
    " status text)"
    " WHERE t.order_id = :order_id AND t.sku = r.sku AND t.location = r.location),"
    " saved_levels AS (UPDATE stock_levels AS t SET on_hand = l.on_hand, reserved = l.reserved"
    " FROM jsonb_to_recordset(:levels) AS l(sku text, location text, on_hand integer, reserved integer)"
    " WHERE t.sku = l.sku AND t.location = l.location)"
    " UPDATE reservation_changes AS t SET applied = t.applied + a.quantity"
    " FROM jsonb_to_recordset(:applied) AS a(sku text, location text, quantity integer)"
    " WHERE t.order_id = :order_id AND t.kind = 'commit' AND t.change_id = :change_id"
    " AND t.sku = a.sku AND t.location = a.location"
).bindparams(
    sa.bindparam("order_id", type_=sa.Text),
    sa.bindparam("change_id", type_=sa.Text),
    sa.bindparam("reservations", type_=postgresql.JSONB),
    sa.bindparam("levels", type_=postgresql.JSONB),
    sa.bindparam("applied", type_=postgresql.JSONB),
)


async def save_commit(
    session: AsyncSession,
    *,
    order_id: str,
    reservations: list[Reservation],
    levels: list[StockLevel],
    shipment_id: str | None,
    units: dict[Place, int],
) -> None:
    """What a commit changed, in one statement: the order's reservations and the stock levels (rows the
    caller holds locked), and, under ``shipment_id``, the ``units`` counted as taken from its recorded change
    (as ``save_reservations``, ``save_stock_levels`` and ``add_applied`` would, one statement each)."""
    await session.execute(
        _SAVING_COMMIT,
        {
            "order_id": order_id,
            "change_id": shipment_id,
            "reservations": [
                {
                    "sku": reservation.sku,
                    "location": reservation.location,
                    "held": reservation.held,
                    "committed": reservation.committed,
                    "status": reservation.status,
                }
                for reservation in reservations
            ],
            "levels": [
                {
                    "sku": level.sku,
                    "location": level.location,
                    "on_hand": level.on_hand,
                    "reserved": level.reserved,
                }
                for level in levels
            ],
            "applied": []
            if shipment_id is None
            else [
                {"sku": sku, "location": location, "quantity": quantity}
                for (sku, location), quantity in sorted(units.items())
            ],
        },
    )


async def record_restocked_return(session: AsyncSession, return_id: str) -> bool:
    """Record that a return's units are counted back in; False when they were before."""
    inserted = await session.execute(
        insert(restocked_returns)
        .values(return_id=return_id)
        .on_conflict_do_nothing(index_elements=[restocked_returns.c.return_id])
        .returning(restocked_returns.c.return_id)
    )
    return inserted.first() is not None


async def available_units(session: AsyncSession, skus: Iterable[str]) -> dict[str, int]:
    """Units of each SKU that may still be promised, over all its locations (as this transaction sees them); a
    SKU that may not be sold has none."""
    rows = await session.execute(
        sa.select(
            stock_levels.c.sku,
            sa.func.sum(
                sa.func.greatest(
                    stock_levels.c.on_hand - stock_levels.c.reserved - stock_levels.c.safety_stock, 0
                )
            ),
        )
        .join(variants, variants.c.sku == stock_levels.c.sku)
        .join(products, products.c.id == variants.c.product_id)
        # A retired variant or an archived product's has nothing to sell, whatever is on the shelf.
        .where(
            stock_levels.c.sku.in_(sorted(set(skus))),
            variants.c.retired_at.is_(None),
            products.c.archived_at.is_(None),
        )
        .group_by(stock_levels.c.sku)
    )
    return {sku: int(total) for sku, total in rows.all()}
