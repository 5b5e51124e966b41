"""Orders' tables (SQLAlchemy Core), plus the shared outbox and inbox."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.scheduling import add_schedule_table

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
scheduled_jobs = add_schedule_table(metadata)

catalog_variants = sa.Table(
    "catalog_variants",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("product_id", sa.Text, nullable=False),
    sa.Column("variant_id", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("options", postgresql.JSONB, nullable=False),
    sa.Column("prices", postgresql.JSONB, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
)

catalog_preorder_policies = sa.Table(
    "catalog_preorder_policies",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column(
        "policy", postgresql.JSONB, comment="shop_contracts PreorderPolicy; NULL when not on pre-order"
    ),
    sa.Column("version", sa.Integer, nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("subtotal", sa.BigInteger, nullable=False),
    sa.Column("shipping", sa.BigInteger, nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("shipping_address", postgresql.JSONB, nullable=False),
    sa.Column("shipping_method", sa.Text, nullable=False),
    sa.Column("payment_token", sa.Text, comment="PSP token until the payment step ran; never card data"),
    sa.Column(
        "charged_now", sa.BigInteger, comment="What checkout charges: in-stock lines, pre-order upfront parts"
    ),
    sa.Column("shipping_deferred", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
    sa.Column("request_fingerprint", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

order_lines = sa.Table(
    "order_lines",
    metadata,
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("unit_price", sa.BigInteger, nullable=False),
    sa.Column("line_total", sa.BigInteger, nullable=False),
    sa.Column("percent_off", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "preorder_policy", postgresql.JSONB, comment="The policy as it was at checkout, when on pre-order"
    ),
    sa.Column("kind", sa.Text, nullable=False, server_default="in_stock"),
    sa.Column("queue_position", sa.Integer),
    sa.Column("expected_ship_date", sa.Date),
    sa.Column("paid_now", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("balance", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("balance_assigned", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("units_allocated", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "balance_reminded_at",
        sa.DateTime(timezone=True),
        comment="When the customer was last told the balance is about to be charged",
    ),
    sa.CheckConstraint("kind IN ('in_stock', 'preorder')", name="order_line_kind"),
)

shipment_groups = sa.Table(
    "shipment_groups",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("lines", postgresql.JSONB, nullable=False),
    sa.Column("balance_amount", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("expected_ship_date", sa.Date),
    sa.Column("fulfillment_id", sa.Text),
    sa.Column("balance_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("first_failed_at", sa.DateTime(timezone=True)),
    sa.Column(
        "balance_due_at",
        sa.DateTime(timezone=True),
        comment="When the balance is charged by the clock (policy 'at' or 'after', or after the notice)",
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("kind IN ('in_stock', 'preorder')", name="shipment_group_kind"),
)

order_timeline = sa.Table(
    "order_timeline",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("event", sa.Text, nullable=False),
    sa.Column("detail", postgresql.JSONB, nullable=False, server_default="{}"),
)
