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
        "source_message_id",
        postgresql.UUID(as_uuid=True),
        nullable=False,
        comment="The event this notification tells the customer about.",
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
    sa.UniqueConstraint("source_message_id", "channel", name="one_notification_per_message_and_channel"),
    sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="notification_status"),
    sa.CheckConstraint("channel IN ('email')", name="notification_channel"),
    sa.Index(
        "notifications_due",
        "next_attempt_at",
        postgresql_where=sa.text("status = 'pending'"),
    ),
)
