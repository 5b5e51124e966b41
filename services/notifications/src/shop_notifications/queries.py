"""Read-only views of the delivery log for operators and the storefront."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_notifications.tables import notifications


async def notifications_of_order(session: AsyncSession, order_id: str) -> list[dict[str, Any]]:
    """An order's (or a waitlist entry's, a draft's) notifications in the order recorded: sent, pending, failed,
    superseded by a later fact, or suppressed by the recipient's preferences (``suppressed_reason`` says why)."""
    rows = await session.execute(
        sa.select(
            notifications.c.id,
            notifications.c.template,
            notifications.c.channel,
            notifications.c.recipient,
            notifications.c.locale,
            notifications.c.subject,
            notifications.c.status,
            notifications.c.fact_key,
            notifications.c.superseded_by,
            notifications.c.suppressed_reason,
            notifications.c.attempts,
            notifications.c.last_error,
            notifications.c.created_at,
            notifications.c.sent_at,
        )
        .where(notifications.c.order_id == order_id)
        .order_by(notifications.c.sequence_number)
    )
    return [dict(row._mapping) for row in rows]
