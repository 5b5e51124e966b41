"""A draft's stock hold: catalog's answer to the reservation, the hold lapsing, and the draft expiring."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from shop_contracts import catalog as catalog_contracts
from shop_contracts.values import LocatedLine, RequestedLine
from shop_orders.core.tables import draft_orders
from shop_orders.drafts.domain import (
    DraftNotOpen,
    UnknownDraft,
    catalog_lines,
)
from shop_orders.drafts.queries import account_of
from shop_runtime.database import UnitOfWork
from shop_runtime.scheduling import Job

RESERVATION_LAPSES = "draft_reservation_lapses"
DRAFT_EXPIRES = "draft_expires"


class LapseDraftReservation(Job):
    """A draft's stock hold ends: release the units (unless the draft moved on or holds them longer)."""

    KIND = RESERVATION_LAPSES
    draft_id: str
    reservation_id: str


class ExpireDraft(Job):
    """A draft nobody completed expires: close it and release what it holds."""

    KIND = DRAFT_EXPIRES
    draft_id: str


HOLDING = ("requested", "held")
"""Reservation states in which catalog holds (or is about to hold) the draft's units."""


async def record_reservation(
    uow: UnitOfWork, *, reservation_id: str, lines: list[LocatedLine], preorder_places: int
) -> None:
    """Catalog holds the units: the draft shows them held, unless it no longer wants them (changed, deleted,
    completed or lapsed meanwhile), in which case they go straight back."""
    draft = await _by_reservation(uow, reservation_id)
    current = draft.reservation_id == reservation_id
    if (
        current
        and draft.status == "open"
        and draft.reservation_status == "requested"
        and preorder_places == 0
    ):
        await _set_reservation(
            uow,
            draft.id,
            "held",
            reserved_lines=[line.model_dump() for line in lines],
            reservation_detail=None,
        )
    elif current and draft.status == "open" and draft.reservation_status == "requested":
        release_reservation(uow, reservation_id, reason="draft_preorder")
        await _set_reservation(
            uow, draft.id, "rejected", reservation_detail="a line is on pre-order: drafts hold stock only"
        )
    else:
        release_reservation(uow, reservation_id, reason="draft_reservation_not_wanted")


async def record_reservation_refused(uow: UnitOfWork, *, reservation_id: str, detail: str) -> None:
    draft = await _by_reservation(uow, reservation_id)
    if draft.reservation_id == reservation_id and draft.reservation_status == "requested":
        await _set_reservation(uow, draft.id, "rejected", reservation_detail=detail)


async def lapse_reservation(uow: UnitOfWork, *, draft_id: str, reservation_id: str, now: datetime) -> None:
    """``reserve_until`` passed: the draft's units go back to stock and the draft shows the hold lapsed."""
    draft = await lock_draft(uow, draft_id)
    if (
        draft.reservation_id == reservation_id
        and draft.status == "open"
        and draft.reservation_status in HOLDING
    ):
        release_reservation(uow, reservation_id, reason="draft_reservation_lapsed")
        await _set_reservation(
            uow, draft_id, "lapsed", reservation_detail=f"held until {draft.reserve_until}"
        )


async def expire_draft(uow: UnitOfWork, *, draft_id: str, now: datetime) -> None:
    """An open draft past its expiry is marked expired and its units are released."""
    draft = await lock_draft(uow, draft_id)
    if draft.status == "open":
        await close_draft(uow, draft, status="expired", reservation_status="released", now=now)


async def reserve_again(uow: UnitOfWork, draft: Row[Any], *, now: datetime) -> None:
    """Give back whatever the draft holds and, when it should hold its catalog lines now, ask catalog for them
    under a new reservation id, released by the schedule at ``reserve_until``."""
    if draft.reservation_status in HOLDING:
        release_reservation(uow, draft.reservation_id, reason="draft_changed")
        await cancel_lapse(uow, draft.reservation_id, now)
    wanted = catalog_lines(draft.lines)
    if not wanted or not holds_until(draft, now):
        status = "released" if draft.reservation_status in HOLDING else draft.reservation_status
        await _set_reservation(uow, draft.id, status, reserved_lines=[])
        return
    reservation_id = str(uuid.uuid4())
    account = await account_of(uow, draft.customer_id)
    earlier = list(draft.earlier_reservations)
    if draft.reservation_id is not None:
        earlier.append(draft.reservation_id)
    await _set_reservation(
        uow,
        draft.id,
        "requested",
        reservation_id=reservation_id,
        earlier_reservations=earlier,
        reserved_lines=[],
        reservation_detail=None,
    )
    uow.publish(
        catalog_contracts.ReserveStock(
            order_id=reservation_id,
            lines=[RequestedLine(sku=sku, quantity=quantity) for sku, quantity in wanted],
            customer_email=account.email,
        ),
        subject=reservation_id,
        correlation_id=draft.id,
    )
    await uow.jobs.schedule(
        LapseDraftReservation(draft_id=draft.id, reservation_id=reservation_id),
        key=f"{RESERVATION_LAPSES}:{reservation_id}",
        due_at=draft.reserve_until,
    )


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def holds_until(draft: Row[Any], now: datetime) -> bool:
    return draft.reserve_until is not None and draft.reserve_until > now


async def close_draft(
    uow: UnitOfWork, draft: Row[Any], *, status: str, reservation_status: str, now: datetime
) -> None:
    if draft.reservation_status in HOLDING:
        release_reservation(uow, draft.reservation_id, reason=f"draft_{status}")
        await cancel_lapse(uow, draft.reservation_id, now)
    await uow.jobs.cancel(key=f"{DRAFT_EXPIRES}:{draft.id}", now=now)
    await uow.session.execute(
        sa.update(draft_orders)
        .where(draft_orders.c.id == draft.id)
        .values(
            status=status,
            updated_at=now,
            reservation_status=reservation_status
            if draft.reservation_status in HOLDING
            else draft.reservation_status,
        )
    )


def after_close(reservation_status: str) -> str:
    return "released" if reservation_status in HOLDING else reservation_status


def release_reservation(uow: UnitOfWork, reservation_id: str, *, reason: str) -> None:
    uow.publish(
        catalog_contracts.ReleaseStock(order_id=reservation_id, reason=reason),
        subject=reservation_id,
    )


async def cancel_lapse(uow: UnitOfWork, reservation_id: str, now: datetime) -> None:
    await uow.jobs.cancel(key=f"{RESERVATION_LAPSES}:{reservation_id}", now=now)


async def _set_reservation(uow: UnitOfWork, draft_id: str, status: str, **values: Any) -> None:
    await uow.session.execute(
        sa.update(draft_orders)
        .where(draft_orders.c.id == draft_id)
        .values(reservation_status=status, updated_at=sa.func.now(), **values)
    )


async def lock_draft(uow: UnitOfWork, draft_id: str) -> Row[Any]:
    row = (
        await uow.session.execute(
            sa.select(draft_orders).where(draft_orders.c.id == draft_id).with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownDraft(f"no draft order {draft_id}", field="draft_id")
    return row


async def open_draft(uow: UnitOfWork, draft_id: str) -> Row[Any]:
    draft = await lock_draft(uow, draft_id)
    if draft.status != "open":
        raise DraftNotOpen(f"draft {draft_id} is {draft.status}; it can no longer change", field="draft_id")
    return draft


async def _by_reservation(uow: UnitOfWork, reservation_id: str) -> Row[Any]:
    row = (
        await uow.session.execute(
            sa.select(draft_orders)
            .where(
                sa.or_(
                    draft_orders.c.reservation_id == reservation_id,
                    sa.literal(reservation_id) == sa.any_(draft_orders.c.earlier_reservations),
                )
            )
            .with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownDraft(f"no draft holds reservation {reservation_id}")
    return row
