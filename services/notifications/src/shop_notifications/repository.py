"""Loading and saving notifications inside a unit of work."""

from __future__ import annotations

import functools
import secrets
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_notifications.delivery import Outcome, OutgoingEmail, RenderedEmail
from shop_notifications.domain import EMAIL, Category
from shop_notifications.emails import EmailDraft
from shop_notifications.tables import link_signing_keys, message_preferences, notifications


async def lock_story(session: AsyncSession, order_id: str) -> str | None:
    """Hold the order's story until the transaction ends: which facts of one order are told, and in which order,
    is decided by one transaction at a time, so two workers never both miss the other's later fact.

    Returns the stored key that signs links (None until its first use, see ``link_signing_key``), read in the
    same round trip: most emails carry a signed link, and the key never changes once made."""
    # A transaction-scoped advisory lock: there is no row to lock before the order's first notification.
    row = (await session.execute(_lock_story_reading_key(), {"story": f"notifications:{order_id}"})).one()
    key: str | None = row.secret
    return key


@functools.cache
def _lock_story_reading_key() -> sa.Select[tuple[object, str | None]]:
    return sa.select(
        sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(sa.bindparam("story", type_=sa.Text), 0)),
        sa.select(link_signing_keys.c.secret)
        .where(link_signing_keys.c.id == 1)
        .scalar_subquery()
        .label("secret"),
    )


@dataclass(frozen=True)
class AddedEmail:
    """The id of the email just recorded (None when its fact already had one), and the facts of its order
    recorded before it, first recorded first."""

    id: uuid.UUID | None
    earlier_facts: list[str]


async def add_email(
    session: AsyncSession,
    *,
    source_message_id: uuid.UUID,
    fact_key: str,
    draft: EmailDraft,
    rendered: RenderedEmail,
    trace_context: dict[str, str] | None = None,
) -> AddedEmail:
    """Record the email that tells ``fact_key``, pending, unless the fact already has its email, whichever
    message brought it first; and read, in the same statement, the facts of its order recorded before it."""
    row = (
        await session.execute(
            _add_email(),
            {
                "new_id": uuid.uuid4(),
                "new_source_message_id": source_message_id,
                "new_fact_key": fact_key,
                "new_order_id": draft.order_id,
                "new_template": draft.template,
                "new_channel": EMAIL,
                "new_locale": draft.locale,
                "new_recipient": draft.recipient.email,
                "new_subject": rendered.subject,
                "new_body": rendered.text,
                "new_html_body": rendered.html,
                "new_trace_context": trace_context or None,
            },
        )
    ).one()
    return AddedEmail(id=row.id, earlier_facts=list(row.facts or []))


@functools.cache
def _add_email() -> sa.Select[tuple[uuid.UUID | None, list[str] | None]]:
    """Built once, with a parameter per column (``new_<column>``): an email's statement costs neither its
    construction nor its cache key."""
    columns = (
        "id",
        "source_message_id",
        "fact_key",
        "order_id",
        "template",
        "channel",
        "locale",
        "recipient",
        "subject",
        "body",
        "html_body",
        "trace_context",
    )
    values = {name: sa.bindparam(f"new_{name}", type_=notifications.c[name].type) for name in columns}
    added = (
        insert(notifications)
        .values(values)
        .on_conflict_do_nothing(index_elements=["fact_key", "channel"])
        .returning(notifications.c.id)
        .cte("added")
    )
    # One snapshot for the whole statement: the facts read are those recorded before this insert.
    earlier = sa.select(
        sa.func.array_agg(aggregate_order_by(notifications.c.fact_key, notifications.c.sequence_number))
    ).where(notifications.c.order_id == values["order_id"], notifications.c.fact_key.is_not(None))
    return sa.select(
        sa.select(added.c.id).scalar_subquery().label("id"), earlier.scalar_subquery().label("facts")
    )


async def mark_superseded(session: AsyncSession, notification_id: uuid.UUID, *, by: str) -> None:
    """A later fact of the order is already told: this email is kept in the log, never sent."""
    await session.execute(
        sa.update(notifications)
        .where(notifications.c.id == notification_id)
        .values(status="superseded", superseded_by=by)
    )


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


async def record_outcomes(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Record what became of each email of a batch, in one statement: a try is counted for every email but a
    suppressed one; a sent email is stamped, a retried one waits its delay, a failed one is failed for good."""
    if not outcomes:
        return
    await session.execute(
        _record_outcomes(),
        {
            "ids": [uuid.UUID(outcome.notification_id) for outcome in outcomes],
            "kinds": [outcome.kind for outcome in outcomes],
            "errors": [outcome.error for outcome in outcomes],
            "delays": [outcome.delay for outcome in outcomes],
            "reasons": [outcome.reason for outcome in outcomes],
        },
    )


@functools.cache
def _record_outcomes() -> sa.Update:
    """Built once: its parameters are arrays, one element per email, so every batch runs the same statement."""
    outcome = (
        sa.func.unnest(
            sa.bindparam("ids", type_=postgresql.ARRAY(postgresql.UUID(as_uuid=True))),
            sa.bindparam("kinds", type_=postgresql.ARRAY(sa.Text)),
            sa.bindparam("errors", type_=postgresql.ARRAY(sa.Text)),
            sa.bindparam("delays", type_=postgresql.ARRAY(sa.Interval)),
            sa.bindparam("reasons", type_=postgresql.ARRAY(sa.Text)),
        )
        .table_valued(
            sa.column("id", postgresql.UUID(as_uuid=True)),
            sa.column("kind", sa.Text),
            sa.column("error", sa.Text),
            sa.column("delay", sa.Interval),
            sa.column("reason", sa.Text),
        )
        .render_derived(name="outcome")
    )
    tried = outcome.c.kind != "suppressed"
    return (
        sa.update(notifications)
        .where(notifications.c.id == outcome.c.id)
        .values(
            status=sa.case(
                (outcome.c.kind == "retried", "pending"),
                else_=outcome.c.kind,
            ),
            attempts=notifications.c.attempts + sa.case((tried, 1), else_=0),
            last_error=sa.func.coalesce(outcome.c.error, notifications.c.last_error),
            next_attempt_at=sa.case(
                (outcome.c.kind == "retried", sa.func.now() + outcome.c.delay),
                else_=notifications.c.next_attempt_at,
            ),
            sent_at=sa.case((outcome.c.kind == "sent", sa.func.now()), else_=notifications.c.sent_at),
            suppressed_reason=sa.func.coalesce(outcome.c.reason, notifications.c.suppressed_reason),
        )
    )


async def mark_suppressed(session: AsyncSession, notification_id: str, *, reason: str) -> None:
    """The recipient's preferences keep this email from being sent: recorded with why, never sent."""
    await session.execute(
        sa.update(notifications)
        .where(notifications.c.id == uuid.UUID(notification_id))
        .values(status="suppressed", suppressed_reason=reason)
    )


async def preferences_of_addresses(
    session: AsyncSession, emails: Collection[str]
) -> dict[str, dict[Category, bool]]:
    """The choices recorded for each of several (normalised) addresses, by category; an address or category
    never chosen is missing."""
    rows = await session.execute(
        sa.select(
            message_preferences.c.email, message_preferences.c.category, message_preferences.c.subscribed
        ).where(message_preferences.c.email.in_(sorted(emails)))
    )
    choices: dict[str, dict[Category, bool]] = {}
    for row in rows:
        choices.setdefault(row.email, {})[row.category] = row.subscribed
    return choices


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
