"""Loading and saving notifications inside a unit of work."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_notifications.domain import EMAIL, EmailDraft, OutgoingEmail, RenderedEmail
from shop_notifications.tables import notifications


async def add_email(
    session: AsyncSession,
    *,
    source_message_id: uuid.UUID,
    draft: EmailDraft,
    rendered: RenderedEmail,
    trace_context: dict[str, str] | None = None,
) -> uuid.UUID | None:
    """Store a pending email; None when this message already has one (a redelivered event)."""
    result = await session.execute(
        insert(notifications)
        .values(
            id=uuid.uuid4(),
            source_message_id=source_message_id,
            order_id=draft.order_id,
            template=draft.template,
            channel=EMAIL,
            locale=draft.locale,
            recipient=draft.recipient.email,
            subject=rendered.subject,
            body=rendered.text,
            html_body=rendered.html,
            status="pending",
            trace_context=trace_context or None,
        )
        .on_conflict_do_nothing(index_elements=["source_message_id", "channel"])
        .returning(notifications.c.id)
    )
    created: uuid.UUID | None = result.scalar_one_or_none()
    return created


async def claim_due_emails(
    session: AsyncSession, *, limit: int
) -> list[tuple[OutgoingEmail, int, dict[str, str]]]:
    """Lock up to ``limit`` pending emails whose time has come, skipping those another sender holds.

    Returns each email with the number of tries it already had and the trace context it was queued in.
    """
    rows = (
        await session.execute(
            sa.select(notifications)
            .where(
                notifications.c.status == "pending",
                notifications.c.channel == EMAIL,
                notifications.c.next_attempt_at <= sa.func.now(),
            )
            .order_by(notifications.c.next_attempt_at, notifications.c.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    return [
        (
            OutgoingEmail(
                notification_id=str(row.id),
                order_id=row.order_id,
                template=row.template,
                recipient=row.recipient,
                locale=row.locale,
                subject=row.subject,
                text=row.body,
                html=row.html_body,
            ),
            row.attempts,
            dict(row.trace_context or {}),
        )
        for row in rows
    ]


async def mark_sent(session: AsyncSession, notification_id: str) -> None:
    await session.execute(
        sa.update(notifications)
        .where(notifications.c.id == uuid.UUID(notification_id))
        .values(status="sent", attempts=notifications.c.attempts + 1, sent_at=sa.func.now())
    )


async def mark_retry(session: AsyncSession, notification_id: str, *, error: str, delay: timedelta) -> None:
    await session.execute(
        sa.update(notifications)
        .where(notifications.c.id == uuid.UUID(notification_id))
        .values(
            attempts=notifications.c.attempts + 1,
            last_error=error,
            next_attempt_at=sa.func.now() + delay,
        )
    )


async def mark_failed(session: AsyncSession, notification_id: str, *, error: str) -> None:
    await session.execute(
        sa.update(notifications)
        .where(notifications.c.id == uuid.UUID(notification_id))
        .values(status="failed", attempts=notifications.c.attempts + 1, last_error=error)
    )
