"""subscriptions: plans, subscriptions and their cycles; an order made from a cycle names its subscription

Revision ID: 0017_subscriptions
Revises: 0016_customer_segments
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017_subscriptions"
down_revision = "0016_customer_segments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column(
            "subscription_id",
            sa.Text(),
            comment="The subscription whose cycle this order is, paid before placed",
        ),
    )
    op.create_table(
        "subscription_plans",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("interval_unit", sa.Text(), nullable=False, comment="day, week or month"),
        sa.Column("interval_count", sa.Integer(), nullable=False),
        sa.Column(
            "prices", postgresql.JSONB(), nullable=False, comment="Price per cycle by currency, minor units"
        ),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False),
        sa.Column("trial_days", sa.Integer(), nullable=False),
        sa.Column("first_cycle_percent_off", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("plan_code", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "payment_token", sa.Text(), nullable=False, comment="The PSP's token of the card, never card data"
        ),
        sa.Column("shipping_address", postgresql.JSONB(), nullable=False),
        sa.Column("shipping_method", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_charge_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False, comment="The next cycle to charge (1 is the first)"),
        sa.Column("next_charge_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("paused_at", sa.DateTime(timezone=True)),
        sa.Column("cancelled_at", sa.DateTime(timezone=True)),
        sa.Column("cancel_reason", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_code"], ["subscription_plans.code"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    op.create_index("subscriptions_by_customer", "subscriptions", ["customer_id"])
    op.create_index("subscriptions_by_status", "subscriptions", ["status", "plan_code"])
    op.create_table(
        "subscription_cycles",
        sa.Column("subscription_id", sa.Text(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, comment="Charges asked of payments so far"),
        sa.Column(
            "charged_at",
            sa.DateTime(timezone=True),
            comment="Set once, when payments said it was charged",
        ),
        sa.Column("payment_id", sa.Text()),
        sa.Column(
            "first_failed_at", sa.DateTime(timezone=True), comment="Set once: the dunning period starts"
        ),
        sa.Column("decline_code", sa.Text()),
        sa.Column("skipped_at", sa.DateTime(timezone=True)),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
        sa.PrimaryKeyConstraint("subscription_id", "cycle"),
        sa.UniqueConstraint("order_id"),
    )


def downgrade() -> None:
    op.drop_table("subscription_cycles")
    op.drop_index("subscriptions_by_status", table_name="subscriptions")
    op.drop_index("subscriptions_by_customer", table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("subscription_plans")
    op.drop_column("orders", "subscription_id")
