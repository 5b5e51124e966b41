"""facts told once and in order: each email keyed by the fact it tells, superseded when a later fact came first,
and numbered so an order's emails are sent in the order they were recorded

Revision ID: 0003_facts_told_once_in_order
Revises: 0002_email_trace_context
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_facts_told_once_in_order"
down_revision = "0002_email_trace_context"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows are numbered in the order they were created (PostgreSQL numbers them in storage order).
    op.add_column(
        "notifications",
        sa.Column(
            "sequence_number",
            sa.BigInteger(),
            sa.Identity(always=False),
            nullable=False,
            comment="The order notifications were recorded in: an order's emails are sent in this order",
        ),
    )
    op.execute(
        """
        UPDATE notifications AS n SET sequence_number = numbered.position
        FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS position FROM notifications) AS numbered
        WHERE numbered.id = n.id
        """
    )
    op.execute(
        "SELECT setval(pg_get_serial_sequence('notifications', 'sequence_number'), "
        "coalesce((SELECT max(sequence_number) FROM notifications), 0) + 1, false)"
    )
    op.add_column(
        "notifications",
        sa.Column(
            "fact_key",
            sa.Text(),
            nullable=True,
            comment="The customer-facing fact told, from the event's content: told once per channel "
            "(empty only on rows logged before facts were keyed)",
        ),
    )
    op.add_column(
        "notifications",
        sa.Column(
            "superseded_by",
            sa.Text(),
            nullable=True,
            comment="The later fact, already recorded, that made this one moot: it was not sent",
        ),
    )
    # The facts the old rows can still name: an order's confirmation and rejection (the first email of each, if
    # a duplicate went out). Shipments, balances and returns were logged without the id that tells them apart.
    op.execute(
        """
        UPDATE notifications AS n SET fact_key = first.fact_key
        FROM (
            SELECT DISTINCT ON (order_id, template, channel) id,
                'order:' || order_id || ':' || CASE template
                    WHEN 'order_confirmed' THEN 'confirmed' ELSE 'rejected' END AS fact_key
            FROM notifications
            WHERE template IN ('order_confirmed', 'order_rejected')
            ORDER BY order_id, template, channel, sequence_number
        ) AS first
        WHERE first.id = n.id
        """
    )
    op.drop_constraint("one_notification_per_message_and_channel", "notifications", type_="unique")
    op.create_unique_constraint(
        "one_notification_per_fact_and_channel", "notifications", ["fact_key", "channel"]
    )
    op.drop_constraint("notification_status", "notifications", type_="check")
    op.create_check_constraint(
        "notification_status", "notifications", "status IN ('pending', 'sent', 'failed', 'superseded')"
    )
    op.create_check_constraint(
        "superseded_names_the_later_fact",
        "notifications",
        "(status = 'superseded') = (superseded_by IS NOT NULL)",
    )
    op.create_index(
        "notifications_pending_per_order",
        "notifications",
        ["order_id", "sequence_number"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "notifications_pending_per_order",
        table_name="notifications",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.execute("DELETE FROM notifications WHERE status = 'superseded'")
    op.drop_constraint("superseded_names_the_later_fact", "notifications", type_="check")
    op.drop_constraint("notification_status", "notifications", type_="check")
    op.create_check_constraint(
        "notification_status", "notifications", "status IN ('pending', 'sent', 'failed')"
    )
    op.drop_constraint("one_notification_per_fact_and_channel", "notifications", type_="unique")
    op.create_unique_constraint(
        "one_notification_per_message_and_channel", "notifications", ["source_message_id", "channel"]
    )
    op.drop_column("notifications", "superseded_by")
    op.drop_column("notifications", "fact_key")
    op.drop_column("notifications", "sequence_number")
