"""Catalog's tables (SQLAlchemy Core), plus the shared outbox and inbox."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.scheduling import add_schedule_table

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
scheduled_jobs = add_schedule_table(metadata)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column(
        "archived_at",
        sa.DateTime(timezone=True),
        comment="Set while the product is archived: not sold, not listed; cleared when restored.",
    ),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

variants = sa.Table(
    "variants",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column(
        "product_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("products.id"), nullable=False, index=True
    ),
    sa.Column("sku", sa.Text, nullable=False, unique=True),
    sa.Column("options", postgresql.JSONB, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column(
        "availability_version",
        sa.BigInteger,
        nullable=False,
        server_default="0",
        comment="Version of the last availability message about this SKU; bumped under the row's lock, "
        "so versions follow the order in which the changes commit.",
    ),
    sa.Column(
        "retired_at",
        sa.DateTime(timezone=True),
        comment="Set once when the variant is retired: it is never sold again.",
    ),
)

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("variant_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("variants.id"), primary_key=True),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.CheckConstraint("amount >= 0", name="price_not_negative"),
)

stock_levels = sa.Table(
    "stock_levels",
    metadata,
    sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
    sa.Column("safety_stock", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
    sa.CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
)

inventory_adjustments = sa.Table(
    "inventory_adjustments",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("delta", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False, comment="Units held now (0 once none is reserved)."),
    sa.Column(
        "committed",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Units that left with shipments; only grows, so a commit never takes them again.",
    ),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("status IN ('reserved', 'released', 'committed')", name="reservation_status"),
    sa.CheckConstraint("committed >= 0", name="reservation_committed_not_negative"),
)

stock_orders = sa.Table(
    "stock_orders",
    metadata,
    sa.Column(
        "order_id", sa.Text, primary_key=True, comment="An order's id, or a draft order's reservation id."
    ),
    sa.Column(
        "released_at",
        sa.DateTime(timezone=True),
        comment="When the order gave everything back; set once. A reserve arriving later holds nothing.",
    ),
    sa.Column(
        "held_answer",
        postgresql.JSONB,
        comment="Units held at checkout and not yet claimed by the order's reserve: the StockReserved "
        "answer it will be sent. NULL once claimed, released or expired.",
    ),
    sa.Column(
        "hold_expired_at",
        sa.DateTime(timezone=True),
        comment="When a hold nobody claimed was given back; a reserve arriving later is refused.",
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    comment="Every order catalog was told about: the row each stock message of the order locks first.",
)

reserve_requests = sa.Table(
    "reserve_requests",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column(
        "request_key",
        sa.Text,
        primary_key=True,
        comment="Empty for the order's own lines, else the exchange's id: each is decided once.",
    ),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

reservation_changes = sa.Table(
    "reservation_changes",
    metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column(
        "change_id",
        sa.Text,
        primary_key=True,
        comment="A commit's shipment id, or a partial release's key (its reason and units).",
    ),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("location", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False, comment="Units the message asked for."),
    sa.Column(
        "applied",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Units taken from the reservation so far; the rest waits for a reserve that comes late.",
    ),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("kind IN ('commit', 'release')", name="reservation_change_kind"),
    sa.CheckConstraint("quantity > 0", name="reservation_change_quantity_positive"),
    sa.CheckConstraint("applied >= 0 AND applied <= quantity", name="reservation_change_applied_within"),
    comment="Each shipment's commit and each partial release of an order, recorded once per place.",
)

restocked_returns = sa.Table(
    "restocked_returns",
    metadata,
    sa.Column("return_id", sa.Text, primary_key=True),
    sa.Column("restocked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    comment="Returns whose resellable units were counted back in: each is counted once.",
)

preorder_policies = sa.Table(
    "preorder_policies",
    metadata,
    sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), primary_key=True),
    sa.Column("payment_mode", sa.Text, nullable=False),
    sa.Column("deposit_percent", sa.Integer),
    sa.Column("deposit_amounts", postgresql.JSONB, nullable=False),
    sa.Column("starts_at", sa.DateTime(timezone=True)),
    sa.Column("ends_at", sa.DateTime(timezone=True)),
    sa.Column("cap", sa.Integer),
    sa.Column("per_customer_limit", sa.Integer),
    sa.Column("expected_ship_date", sa.Date),
    sa.Column("expected_ship_latest", sa.Date),
    sa.Column("balance_due", sa.Text, nullable=False),
    sa.Column("balance_due_at", sa.DateTime(timezone=True)),
    sa.Column("balance_due_after_hours", sa.Integer),
    sa.Column("deposit_refundable", sa.Boolean, nullable=False),
    sa.Column("continue_selling_when_sold_out", sa.Boolean, nullable=False),
    sa.Column("early_bird_tiers", postgresql.JSONB, nullable=False),
    sa.Column("early_access_segment", sa.Text),
    sa.Column("early_access_starts_at", sa.DateTime(timezone=True)),
    sa.Column("version", sa.Integer, nullable=False),
    # The row outlives a deleted policy (``ended_at`` set): it keeps the version growing, the queue
    # numbering going, and is the lock that serialises everything touching the SKU's pre-order queue.
    sa.Column("last_queue_position", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "accepted_units",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Units of pre-orders waiting or allocated (not released): what counts against the cap. "
        "Kept in step with every accept and release, so a conditional UPDATE can enforce the cap.",
    ),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("payment_mode IN ('pay_now', 'deposit', 'pay_later')", name="preorder_payment_mode"),
    sa.CheckConstraint("balance_due IN ('on_ready', 'at', 'after')", name="preorder_balance_due"),
    sa.CheckConstraint("accepted_units >= 0", name="preorder_accepted_units_not_negative"),
)

preorders = sa.Table(
    "preorders",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("allocated", sa.Integer, nullable=False, server_default="0"),
    sa.Column("queue_position", sa.Integer, nullable=False),
    sa.Column("customer_email", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("expected_ship_date", sa.Date, comment="The date last told to orders; a change is published"),
    sa.Column(
        "eta_version",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="How many date changes were told; each message carries it, so a late one is known",
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("sku", "queue_position", name="preorder_queue_position_unique"),
    sa.CheckConstraint("quantity > 0", name="preorder_quantity_positive"),
    sa.CheckConstraint("allocated >= 0 AND allocated <= quantity", name="preorder_allocated_within_quantity"),
    sa.CheckConstraint("status IN ('waiting', 'allocated', 'released')", name="preorder_status"),
)
sa.Index("preorders_sku_status", preorders.c.sku, preorders.c.status, preorders.c.queue_position)

preorder_allocations = sa.Table(
    "preorder_allocations",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("preorder_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("preorders.id"), nullable=False),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("sku", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("quantity > 0", name="preorder_allocation_quantity_positive"),
)

inbounds = sa.Table(
    "inbounds",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), nullable=False, index=True),
    sa.Column("location", sa.Text, nullable=False),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_quantity", sa.Integer),
    sa.Column("received_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("quantity > 0", name="inbound_quantity_positive"),
    sa.CheckConstraint(
        "received_quantity IS NULL OR received_quantity >= 0", name="inbound_received_quantity"
    ),
)

waitlist_entries = sa.Table(
    "waitlist_entries",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), nullable=False),
    sa.Column("email", sa.Text, nullable=False, comment="Lower-cased, so one address subscribes once."),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # Set when the subscriber was told; cleared when telling them again makes sense (sold out again,
    # pre-order ended), so each kind is told once per occasion.
    sa.Column("back_in_stock_notified_at", sa.DateTime(timezone=True)),
    sa.Column("preorder_open_notified_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("sku", "email", name="waitlist_one_entry_per_sku_and_email"),
    sa.CheckConstraint("locale IN ('ko', 'en')", name="waitlist_locale"),
)

product_views = sa.Table(
    "product_views",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("product_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("products.id"), nullable=False),
    sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), nullable=False),
    sa.Column("viewed_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Index("product_views_sku_viewed_at", product_views.c.sku, product_views.c.viewed_at)

low_stock_watches = sa.Table(
    "low_stock_watches",
    metadata,
    sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), primary_key=True),
    sa.Column(
        "threshold",
        sa.Integer,
        comment="Staff's threshold for this SKU; NULL follows the shop default "
        "(SHOP_CATALOG_LOW_STOCK_DEFAULT_THRESHOLD).",
    ),
    # Set when an alert was published for the current crossing; cleared (re-armed) once available is back
    # above the threshold. Decided under this row's lock, after the stock change, in the same transaction.
    sa.Column("alerted_at", sa.DateTime(timezone=True)),
    sa.Column("alerted_available", sa.Integer),
    sa.Column("alerts", sa.Integer, nullable=False, server_default="0", comment="Alerts published so far."),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("threshold IS NULL OR threshold >= 0", name="low_stock_threshold_not_negative"),
)
