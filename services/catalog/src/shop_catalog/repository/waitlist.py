"""Waitlist entries: adding and removing them, and locking those to notify when a variant comes back."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.waitlist import WaitlistEntry, WaitlistKind
from shop_catalog.tables import (
    waitlist_entries,
)

_NOTIFIED_AT: dict[WaitlistKind, sa.Column[Any]] = {
    "back_in_stock": waitlist_entries.c.back_in_stock_notified_at,
    "preorder_open": waitlist_entries.c.preorder_open_notified_at,
}


def waitlist_entry_from_row(row: sa.Row[Any]) -> WaitlistEntry:
    return WaitlistEntry(
        id=row.id,
        sku=row.sku,
        email=row.email,
        locale=row.locale,
        created_at=row.created_at,
        notified_at={kind: row._mapping[column.name] for kind, column in _NOTIFIED_AT.items()},
    )


async def add_waitlist_entry(
    session: AsyncSession, *, sku: str, email: str, locale: str
) -> tuple[WaitlistEntry, bool]:
    """Put ``email`` on the SKU's waitlist, or find it there (taking the newer ``locale``).

    Returns the entry and whether it is new.
    """
    inserted = (
        await session.execute(
            insert(waitlist_entries)
            .values(id=uuid.uuid4(), sku=sku, email=email, locale=locale)
            .on_conflict_do_nothing(index_elements=[waitlist_entries.c.sku, waitlist_entries.c.email])
            .returning(*waitlist_entries.c)
        )
    ).first()
    if inserted is not None:
        return waitlist_entry_from_row(inserted), True
    existing = (
        await session.execute(
            sa.update(waitlist_entries)
            .where(waitlist_entries.c.sku == sku, waitlist_entries.c.email == email)
            .values(locale=locale)
            .returning(*waitlist_entries.c)
        )
    ).one()
    return waitlist_entry_from_row(existing), False


async def delete_waitlist_entry(session: AsyncSession, entry_id: uuid.UUID) -> bool:
    result = await session.execute(
        sa.delete(waitlist_entries).where(waitlist_entries.c.id == entry_id).returning(waitlist_entries.c.id)
    )
    return result.first() is not None


async def lock_waitlist_to_notify(session: AsyncSession, sku: str, kind: WaitlistKind) -> list[WaitlistEntry]:
    """Lock the SKU's entries not yet told of ``kind``, oldest first."""
    rows = await session.execute(
        sa.select(waitlist_entries)
        .where(waitlist_entries.c.sku == sku, _NOTIFIED_AT[kind].is_(None))
        .order_by(waitlist_entries.c.created_at, waitlist_entries.c.id)
        .with_for_update()
    )
    return [waitlist_entry_from_row(row) for row in rows]


async def mark_waitlist_notified(
    session: AsyncSession, entry_ids: list[uuid.UUID], kind: WaitlistKind
) -> None:
    await session.execute(
        sa.update(waitlist_entries)
        .where(waitlist_entries.c.id.in_(entry_ids))
        .values({_NOTIFIED_AT[kind].name: sa.func.now()})
    )


async def reset_waitlist_notified(session: AsyncSession, skus: list[str], kind: WaitlistKind) -> None:
    """Let the SKUs' subscribers hear of ``kind`` again the next time it happens."""
    await session.execute(
        sa.update(waitlist_entries)
        .where(waitlist_entries.c.sku.in_(skus), _NOTIFIED_AT[kind].is_not(None))
        .values({_NOTIFIED_AT[kind].name: None})
    )
