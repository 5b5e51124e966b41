"""message preferences: a customer's choice per category, the key their links are signed with, and emails
suppressed by those choices

Revision ID: 0004_message_preferences
Revises: 0003_facts_told_once_in_order
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_message_preferences"
down_revision = "0003_facts_told_once_in_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_preferences",
        sa.Column(
            "email",
            sa.Text(),
            nullable=False,
            comment="Normalised (trimmed, lower case): guests and accounts share it",
        ),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False, comment="one_click or preferences_page"),
        sa.CheckConstraint(
            "category IN ('preorder_updates', 'waitlist', 'marketing')", name="message_preference_category"
        ),
        sa.PrimaryKeyConstraint("email", "category"),
    )
    op.create_table(
        "link_signing_keys",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("id = 1", name="one_link_signing_key"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.add_column(
        "notifications",
        sa.Column(
            "suppressed_reason",
            sa.Text(),
            nullable=True,
            comment="Why the recipient's preferences kept this email from being sent (e.g. unsubscribed from "
            "waitlist)",
        ),
    )
    op.drop_constraint("notification_status", "notifications", type_="check")
    op.create_check_constraint(
        "notification_status",
        "notifications",
        "status IN ('pending', 'sent', 'failed', 'superseded', 'suppressed')",
    )
    op.create_check_constraint(
        "suppressed_says_why", "notifications", "(status = 'suppressed') = (suppressed_reason IS NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DELETE FROM notifications WHERE status = 'suppressed'")
    op.drop_constraint("suppressed_says_why", "notifications", type_="check")
    op.drop_constraint("notification_status", "notifications", type_="check")
    op.create_check_constraint(
        "notification_status", "notifications", "status IN ('pending', 'sent', 'failed', 'superseded')"
    )
    op.drop_column("notifications", "suppressed_reason")
    op.drop_table("link_signing_keys")
    op.drop_table("message_preferences")
