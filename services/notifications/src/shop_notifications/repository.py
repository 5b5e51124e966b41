"""Loading and saving notifications inside a unit of work."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_notifications.delivery import OutgoingEmail, RenderedEmail
from shop_notifications.domain import EMAIL, Category
from shop_notifications.emails import EmailDraft
from shop_notifications.tables import link_signing_keys, message_preferences, notifications


async def lock_story(session: AsyncSession, order_id: str) -> None:
    """Hold the order's story until the transaction ends: which facts of one order are told, and in which order,
    is decided by one transaction at a time, so two workers never both miss the other's later fact."""
    # A transaction-scoped advisory lock: there is no row to lock before the order's first notification.
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"notifications:{order_id}", 0)))
    )


async def recorded_facts(session: AsyncSession, order_id: str) -> list[str]:
    """The facts recorded for an order (or a waitlist entry, a draft), first recorded first."""
    keys = await session.scalars(
        sa.select(notifications.c.fact_key)
        .where(notifications.c.order_id == order_id, notifications.c.fact_key.is_not(None))
        .order_by(notifications.c.sequence_number)
    )
    return [key for key in keys if key is not None]


async def add_email(
    session: AsyncSession,
    *,
    source_message_id: uuid.UUID,
    fact_key: str,
    draft: EmailDraft,
    rendered: RenderedEmail,
    superseded_by: str | None = None,
    trace_context: dict[str, str] | None = None,
) -> uuid.UUID | None:
    """Record the email that tells ``fact_key``: pending, or superseded (never sent) when a later fact of the
    order is already told. None when the fact already has its email, whichever message brought it first."""
    result = await session.execute(
        insert(notifications)
        .values(
            id=uuid.uuid4(),
            source_message_id=source_message_id,
            fact_key=fact_key,
            order_id=draft.order_id,
            template=draft.template,
            channel=EMAIL,
            locale=draft.locale,
            recipient=draft.recipient.email,
            subject=rendered.subject,
            body=rendered.text,
            html_body=rendered.html,
            status="superseded" if superseded_by is not None else "pending",
            superseded_by=superseded_by,
            trace_context=trace_context or None,
        )
        .on_conflict_do_nothing(index_elements=["fact_key", "channel"])
        .returning(notifications.c.id)
    )
    created: uuid.UUID | None = result.scalar_one_or_none()
    return created


async def claim_due_emails(
    session: AsyncSession, *, limit: int
) -> list[tuple[OutgoingEmail, int, dict[str, str]]]:
    """Lock up to ``limit`` pending emails whose time has come, skipping those another sender holds.

    Only the first pending email of an order is due: a later one waits until the earlier is sent or failed for
    good, so an order's emails reach the customer in the order they were recorded, retries included.
    Returns each email with the number of tries it already had and the trace context it was queued in.
    """
    earlier = notifications.alias("earlier")
    rows = (
        await session.execute(
            sa.select(notifications)
            .where(
                notifications.c.status == "pending",
                notifications.c.channel == EMAIL,
                notifications.c.next_attempt_at <= sa.func.now(),
                ~sa.exists().where(
                    earlier.c.order_id == notifications.c.order_id,
                    earlier.c.channel == notifications.c.channel,
                    earlier.c.status == "pending",
                    earlier.c.sequence_number < notifications.c.sequence_number,
                ),
            )
            .order_by(notifications.c.next_attempt_at, notifications.c.sequence_number)
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


async def mark_suppressed(session: AsyncSession, notification_id: str, *, reason: str) -> None:
    """The recipient's preferences keep this email from being sent: recorded with why, never sent."""
    await session.execute(
        sa.update(notifications)
        .where(notifications.c.id == uuid.UUID(notification_id))
        .values(status="suppressed", suppressed_reason=reason)
    )


async def preferences_of(session: AsyncSession, email: str) -> dict[Category, bool]:
    """The choices recorded for a (normalised) address, by category; a category never chosen is missing."""
    rows = await session.execute(
        sa.select(message_preferences.c.category, message_preferences.c.subscribed).where(
            message_preferences.c.email == email
        )
    )
    return {row.category: row.subscribed for row in rows}


async def record_preferences(
    session: AsyncSession, email: str, choices: Mapping[Category, bool], *, at: datetime, by: str
) -> None:
    """Record each choice for a (normalised) address; a choice already as recorded keeps when it was made."""
    if not choices:
        return
    statement = insert(message_preferences).values(
        [
            {
                "email": email,
                "category": category,
                "subscribed": subscribed,
                "changed_at": at,
                "changed_by": by,
            }
            for category, subscribed in choices.items()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["email", "category"],
            set_={
                "subscribed": statement.excluded.subscribed,
                "changed_at": statement.excluded.changed_at,
                "changed_by": statement.excluded.changed_by,
            },
            where=message_preferences.c.subscribed.is_distinct_from(statement.excluded.subscribed),
        )
    )


async def record_choice_if_newer(
    session: AsyncSession, email: str, category: Category, subscribed: bool, *, at: datetime, by: str
) -> bool:
    """Record a (normalised) address's choice for one category made at ``at``, unless a choice made later is
    recorded already; True when recorded."""
    statement = insert(message_preferences).values(
        email=email, category=category, subscribed=subscribed, changed_at=at, changed_by=by
    )
    result = await session.execute(
        statement.on_conflict_do_update(
            index_elements=["email", "category"],
            set_={
                "subscribed": statement.excluded.subscribed,
                "changed_at": statement.excluded.changed_at,
                "changed_by": statement.excluded.changed_by,
            },
            where=message_preferences.c.changed_at < statement.excluded.changed_at,
        ).returning(message_preferences.c.email)
    )
    return result.first() is not None


async def link_signing_key(session: AsyncSession) -> str:
    """The stored key that signs preference links, made on first use (every process then reads the same one).

    Read first: it exists after the first use, so the insert (and its read after) runs only that once."""
    read = sa.select(link_signing_keys.c.secret).where(link_signing_keys.c.id == 1)
    key: str | None = (await session.execute(read)).scalar_one_or_none()
    if key is None:
        await session.execute(
            insert(link_signing_keys)
            .values(id=1, secret=secrets.token_urlsafe(32))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        key = (await session.execute(read)).scalar_one()
    return key
