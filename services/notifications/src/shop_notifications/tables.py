"""Notifications' tables (SQLAlchemy Core): the delivery log of every message, plus the shared outbox and inbox."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shop_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "sequence_number",
        sa.BigInteger,
        sa.Identity(),
        nullable=False,
        comment="The order notifications were recorded in: an order's emails are sent in this order",
    ),
    sa.Column(
        "source_message_id",
        postgresql.UUID(as_uuid=True),
        nullable=False,
        comment="The event this notification tells the customer about.",
    ),
    sa.Column(
        "fact_key",
        sa.Text,
        nullable=True,
        comment="The customer-facing fact told, from the event's content: told once per channel "
        "(empty only on rows logged before facts were keyed)",
    ),
    sa.Column(
        "superseded_by",
        sa.Text,
        nullable=True,
        comment="The later fact, already recorded, that made this one moot: it was not sent",
    ),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("template", sa.Text, nullable=False),
    sa.Column("channel", sa.Text, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("html_body", sa.Text, nullable=True),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column(
        "trace_context",
        postgresql.JSONB,
        nullable=True,
        comment="W3C trace context of the event that queued it: sending continues that trace",
    ),
    sa.UniqueConstraint("fact_key", "channel", name="one_notification_per_fact_and_channel"),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed', 'superseded')", name="notification_status"),
    sa.CheckConstraint(
        "(status = 'superseded') = (superseded_by IS NOT NULL)", name="superseded_names_the_later_fact"
    ),
    sa.CheckConstraint("channel IN ('email')", name="notification_channel"),
    sa.Index(
        "notifications_due",
        "next_attempt_at",
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index(
        "notifications_pending_per_order",
        "order_id",
        "sequence_number",
        postgresql_where=sa.text("status = 'pending'"),
    ),
)
