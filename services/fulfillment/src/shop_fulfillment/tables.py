"""Fulfillment's tables (SQLAlchemy Core), plus the shared outbox and inbox."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shop_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)

STATUSES = "('pick_requested', 'picked', 'packed', 'shipped', 'delivered', 'cancelled')"

fulfillment_orders = sa.Table(
    "fulfillment_orders",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column(
        "group_key",
        sa.Text,
        nullable=False,
        comment="The order's shipment group id, or the location for orders that group by location",
    ),
    sa.Column("lines", postgresql.JSONB, nullable=False),
    sa.Column(
        "short_lines",
        postgresql.JSONB,
        nullable=False,
        server_default="[]",
        comment="Units the warehouse could not pick (a short pick); they do not ship",
    ),
    sa.Column("shipping_address", postgresql.JSONB, nullable=False),
    sa.Column("shipping_method", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("carrier", sa.Text),
    sa.Column("tracking_number", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # One fulfillment order per order and shipment group: a repeated command finds the row and creates nothing.
    sa.UniqueConstraint("order_id", "group_key", name="one_fulfillment_order_per_shipment_group"),
    sa.CheckConstraint(f"status IN {STATUSES}", name="fulfillment_order_status"),
    sa.CheckConstraint(
        "status NOT IN ('shipped', 'delivered') OR (carrier IS NOT NULL AND tracking_number IS NOT NULL)",
        name="shipped_has_tracking",
    ),
    # The warehouse's pick list: open work at one location, oldest first.
    sa.Index(
        "fulfillment_orders_awaiting_warehouse",
        "location",
        "created_at",
        postgresql_where=sa.text("status IN ('pick_requested', 'picked', 'packed')"),
    ),
)

fulfillment_events = sa.Table(
    "fulfillment_events",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "fulfillment_id",
        postgresql.UUID(as_uuid=True),
        sa.ForeignKey("fulfillment_orders.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("carrier", sa.Text),
    sa.Column("tracking_number", sa.Text),
    sa.CheckConstraint(f"type IN {STATUSES}", name="fulfillment_event_type"),
)

returns = sa.Table(
    "returns",
    metadata,
    sa.Column("id", sa.Text, primary_key=True, comment="The return's id in orders"),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("lines", postgresql.JSONB, nullable=False, comment="[{sku, quantity, location}] expected back"),
    sa.Column("customer", postgresql.JSONB, nullable=False),
    sa.Column("carrier", sa.Text, nullable=False),
    sa.Column("label_id", sa.Text, nullable=False),
    sa.Column("tracking_number", sa.Text, nullable=False),
    sa.Column("label_url", sa.Text, nullable=False),
    sa.Column("received", postgresql.JSONB, comment="[{sku, quantity, location, condition}] as inspected"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("received_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("status IN ('label_sent', 'received')", name="return_status"),
)
