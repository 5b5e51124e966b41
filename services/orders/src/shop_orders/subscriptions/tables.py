"""Subscriptions' tables, on orders' one metadata: plans, subscriptions and each cycle's charge."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shop_orders.core.tables import metadata

subscription_plans = sa.Table(
    "subscription_plans",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("interval_unit", sa.Text, nullable=False, comment="day, week or month"),
    sa.Column("interval_count", sa.Integer, nullable=False),
    sa.Column("prices", postgresql.JSONB, nullable=False, comment="Price per cycle by currency, minor units"),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("segment", sa.Text, nullable=False),
    sa.Column("trial_days", sa.Integer, nullable=False),
    sa.Column("first_cycle_percent_off", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("plan_code", sa.Text, sa.ForeignKey("subscription_plans.code"), nullable=False),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column(
        "payment_token", sa.Text, nullable=False, comment="The PSP's token of the card, never card data"
    ),
    sa.Column("shipping_address", postgresql.JSONB, nullable=False),
    sa.Column("shipping_method", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_charge_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cycle", sa.Integer, nullable=False, comment="The next cycle to charge (1 is the first)"),
    sa.Column("next_charge_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cancel_at_period_end", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("paused_at", sa.DateTime(timezone=True)),
    sa.Column("cancelled_at", sa.DateTime(timezone=True)),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("subscriptions_by_customer", "customer_id"),
    sa.Index("subscriptions_by_status", "status", "plan_code"),
)

subscription_cycles = sa.Table(
    "subscription_cycles",
    metadata,
    sa.Column("subscription_id", sa.Text, sa.ForeignKey("subscriptions.id"), primary_key=True),
    sa.Column("cycle", sa.Integer, primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False, unique=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, comment="Charges asked of payments so far"),
    sa.Column(
        "charged_at", sa.DateTime(timezone=True), comment="Set once, when payments said it was charged"
    ),
    sa.Column("payment_id", sa.Text),
    sa.Column("first_failed_at", sa.DateTime(timezone=True), comment="Set once: the dunning period starts"),
    sa.Column("decline_code", sa.Text),
    sa.Column("skipped_at", sa.DateTime(timezone=True)),
)
