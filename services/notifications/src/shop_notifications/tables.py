"""Notifications' tables (SQLAlchemy Core): the delivery log of every message, customers' message preferences and
the key their links are signed with, plus the shared outbox and inbox."""

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
        "suppressed_reason",
        sa.Text,
        nullable=True,
        comment="Why the recipient's preferences kept this email from being sent (e.g. unsubscribed from waitlist)",
    ),
    sa.Column(
        "trace_context",
        postgresql.JSONB,
        nullable=True,
        comment="W3C trace context of the event that queued it: sending continues that trace",
    ),
    sa.UniqueConstraint("fact_key", "channel", name="one_notification_per_fact_and_channel"),
    sa.CheckConstraint(
        "status IN ('pending', 'sent', 'failed', 'superseded', 'suppressed')", name="notification_status"
    ),
    sa.CheckConstraint(
        "(status = 'superseded') = (superseded_by IS NOT NULL)", name="superseded_names_the_later_fact"
    ),
    sa.CheckConstraint(
        "(status = 'suppressed') = (suppressed_reason IS NOT NULL)", name="suppressed_says_why"
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

message_preferences = sa.Table(
    "message_preferences",
    metadata,
    sa.Column(
        "email",
        sa.Text,
        primary_key=True,
        comment="Normalised (trimmed, lower case): guests and accounts share it",
    ),
    sa.Column("category", sa.Text, primary_key=True),
    sa.Column("subscribed", sa.Boolean, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("changed_by", sa.Text, nullable=False, comment="one_click or preferences_page"),
    sa.CheckConstraint(
        "category IN ('preorder_updates', 'waitlist', 'marketing')", name="message_preference_category"
    ),
)
"""A customer's recorded choice per category; a category without a row has its default (domain)."""

link_signing_keys = sa.Table(
    "link_signing_keys",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("id = 1", name="one_link_signing_key"),
)
"""The key that signs preference links when no secret is configured: made once, shared by every process."""
