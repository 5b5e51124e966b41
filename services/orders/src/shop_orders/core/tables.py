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
    sa.Column(
        "sellable",
        sa.Boolean,
        nullable=False,
        server_default=sa.true(),
        comment="False while catalog does not sell the variant: retired, or its product archived",
    ),
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

catalog_availability = sa.Table(
    "catalog_availability",
    metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("in_stock_units", sa.Integer, nullable=False),
    sa.Column("preorder_units_left", sa.Integer, comment="Under the pre-order cap; NULL without a cap"),
    sa.Column(
        "policy_version", sa.Integer, comment="The pre-order policy version the figures were counted under"
    ),
    sa.Column("version", sa.BigInteger, nullable=False),
    comment="Catalog's last word on what each SKU can still sell: checkout refuses what it rules out",
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
    sa.Column("discount", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column(
        "tax_rate",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Tax included in prices, basis points",
    ),
    sa.Column(
        "tax_added_on_top",
        sa.Boolean,
        nullable=False,
        server_default=sa.false(),
        comment="Prices were before tax: the total adds tax_added (US sales tax, CA GST/HST)",
    ),
    sa.Column(
        "tax_added",
        sa.BigInteger,
        nullable=False,
        server_default="0",
        comment="Tax added on top of the prices and charged, minor units (0 where prices include tax)",
    ),
    sa.Column("discount_code", sa.Text, comment="A win-back code redeemed at checkout"),
    sa.Column(
        "captured",
        sa.BigInteger,
        nullable=False,
        server_default="0",
        comment="Checkout and balances captured",
    ),
    sa.Column(
        "payment_held",
        sa.Boolean,
        nullable=False,
        server_default=sa.false(),
        comment="Checkout's payment was authorised only (a card hold captured at shipment), not captured",
    ),
    sa.Column("refund_requested", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
    sa.Column("request_fingerprint", sa.Text, nullable=False),
    sa.Column(
        "customer_id", sa.Text, sa.ForeignKey("customers.id"), index=True, comment="NULL: a guest order"
    ),
    sa.Column("payment_terms", sa.Text, comment="net or on_fulfillment: paid after"),
    sa.Column("net_days", sa.Integer),
    sa.Column("payment_due_amount", sa.BigInteger),
    sa.Column("payment_due_date", sa.Date),
    sa.Column("payment_status", sa.Text),
    sa.Column("paid_at", sa.DateTime(timezone=True)),
    sa.Column(
        "subscription_id", sa.Text, comment="The subscription whose cycle this order is, paid before placed"
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(
        "payment_status IN ('awaiting_payment', 'overdue', 'paid')", name="order_payment_status"
    ),
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
        "quantity_refunded",
        sa.Integer,
        nullable=False,
        server_default="0",
        comment="Units that will not ship (cancelled or short at the pick) and were refunded",
    ),
    sa.Column(
        "promised_ship_date", sa.Date, comment="Pre-order: the date the shop promised; consent moves it"
    ),
    sa.Column("consent_awaited", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("date_changed_at", sa.DateTime(timezone=True)),
    sa.Column(
        "eta_version",
        sa.Integer,
        comment="Pre-order: catalog's version of the last date change applied (a lower one arrived late)",
    ),
    sa.Column(
        "balance_reminded_at",
        sa.DateTime(timezone=True),
        comment="When the customer was last told the balance is about to be charged",
    ),
    # custom: a line a draft order made with no SKU (a service, a fee): paid, never reserved nor shipped.
    sa.CheckConstraint("kind IN ('in_stock', 'preorder', 'custom')", name="order_line_kind"),
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
    sa.Column("short_lines", postgresql.JSONB, nullable=False, server_default="[]"),
    # Facts the warehouse reported, each set once, whatever order the reports arrive in; status follows them.
    sa.Column(
        "picked_at", sa.DateTime(timezone=True), comment="When the warehouse reported the group picked"
    ),
    sa.Column(
        "packed_at", sa.DateTime(timezone=True), comment="When the warehouse reported the group packed"
    ),
    sa.Column(
        "short_picked_at",
        sa.DateTime(timezone=True),
        comment="When a short pick of the group was recorded (its refund asked)",
    ),
    sa.Column(
        "shipped_at",
        sa.DateTime(timezone=True),
        comment="When the shipment was recorded: its units committed, the customer told",
    ),
    sa.Column(
        "delivered_at", sa.DateTime(timezone=True), comment="When the carrier reported the shipment delivered"
    ),
    sa.Column(
        "stock_committed_at",
        sa.DateTime(timezone=True),
        comment="When the shipment's units were committed in catalog (sent once)",
    ),
    sa.Column("carrier", sa.Text),
    sa.Column("tracking_number", sa.Text),
    sa.Column(
        "shipped_lines",
        postgresql.JSONB,
        comment="The units that left in the parcel, as the warehouse reported them",
    ),
    sa.Column(
        "balance_due_at",
        sa.DateTime(timezone=True),
        comment="When the balance is charged by the clock (policy 'at' or 'after', or after the notice)",
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("kind IN ('in_stock', 'preorder', 'exchange')", name="shipment_group_kind"),
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

refund_outcomes = sa.Table(
    "refund_outcomes",
    metadata,
    sa.Column("idempotency_key", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("outcome IN ('refunded', 'refund_rejected')", name="refund_outcome"),
    comment="Payments' answer to each refund orders asked, once per key; an issued refund wins over a rejection",
)

late_payments = sa.Table(
    "late_payments",
    metadata,
    sa.Column("payment_id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("what", sa.Text, nullable=False, comment="checkout, or balance:<group id>"),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    comment="Payments that succeeded after their order or group was cancelled, counted and refunded once",
)

cancellations = sa.Table(
    "cancellations",
    metadata,
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("cancelled_by", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column(
        "asked",
        postgresql.JSONB,
        nullable=False,
        server_default="[]",
        comment="Groups fulfillment was asked to stop",
    ),
    sa.Column("awaiting", postgresql.JSONB, nullable=False, server_default="[]"),
    sa.Column("refused", postgresql.JSONB, nullable=False, server_default="[]"),
    sa.Column("refund", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column(
        "offer",
        postgresql.JSONB,
        comment="The win-back offer for the reason when it was asked (kind, percent_off, amount_off, link, "
        "valid_days); NULL: none",
    ),
    sa.Column(
        "late_payment_id", sa.Text, comment="A checkout payment that landed after the cancel, refunded"
    ),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(
        "status IN ('requested', 'cancelled', 'partially_cancelled', 'refused')", name="cancellation_status"
    ),
)
sa.Index("cancellations_by_completion", cancellations.c.completed_at)

discount_codes = sa.Table(
    "discount_codes",
    metadata,
    sa.Column("code", sa.Text, primary_key=True),
    sa.Column("email", sa.Text, nullable=False, comment="Who it was offered to"),
    sa.Column(
        "customer_id",
        sa.Text,
        comment="The account it was offered to; NULL: a guest, whose email must match at checkout",
    ),
    sa.Column("issued_for_order", sa.Text, sa.ForeignKey("orders.id"), nullable=False, unique=True),
    sa.Column("kind", sa.Text, nullable=False, server_default="percent"),
    sa.Column("percent_off", sa.Integer),
    sa.Column("amount_off", sa.BigInteger, comment="fixed_amount: minor units of currency"),
    sa.Column("currency", sa.String(3)),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("redeemed_by_order", sa.Text, unique=True),
    sa.Column("redeemed_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(
        "(kind = 'percent' AND percent_off > 0 AND percent_off <= 100)"
        " OR (kind = 'fixed_amount' AND amount_off > 0 AND currency IS NOT NULL)"
        " OR kind = 'free_shipping'",
        name="discount_code_terms",
    ),
)

cancellation_feedback = sa.Table(
    "cancellation_feedback",
    metadata,
    sa.Column("order_id", sa.Text, sa.ForeignKey("cancellations.order_id"), primary_key=True),
    sa.Column("score", sa.SmallInteger, nullable=False),
    sa.Column("comment", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("score BETWEEN 1 AND 5", name="cancellation_feedback_score"),
)
sa.Index("cancellation_feedback_by_time", cancellation_feedback.c.created_at)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("email", sa.Text, nullable=False, comment="As the customer typed it"),
    sa.Column("email_key", sa.Text, nullable=False, unique=True, comment="Trimmed and case-folded: unique"),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("locale", sa.Text, nullable=False),
    sa.Column("marketing_consent", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column(
        "marketing_consent_at", sa.DateTime(timezone=True), comment="When consent was given; NULL without"
    ),
    sa.Column("password_hash", sa.Text, comment="scrypt$n$r$p$salt$hash; NULL: made by staff, cannot log in"),
    sa.Column("created_by", sa.Text, nullable=False, server_default="customer"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("locale IN ('ko', 'en')", name="customer_locale"),
    sa.CheckConstraint("created_by IN ('customer', 'staff')", name="customer_created_by"),
)

customer_addresses = sa.Table(
    "customer_addresses",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("address", postgresql.JSONB, nullable=False, comment="name, line1, line2, city, region, ..."),
    sa.Column("default_shipping", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index(
        "customer_addresses_one_default",
        "customer_id",
        unique=True,
        postgresql_where=sa.text("default_shipping"),
    ),
)

customer_segments = sa.Table(
    "customer_segments",
    metadata,
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), primary_key=True),
    sa.Column("segment", sa.Text, primary_key=True, comment="A slug staff chose, e.g. vip: early access"),
    sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
)

returns = sa.Table(
    "returns",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), nullable=False, index=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column(
        "lines",
        postgresql.JSONB,
        nullable=False,
        comment="[{sku, title, quantity, location, unit_price}] asked back; received adds condition",
    ),
    sa.Column("label", postgresql.JSONB, comment="{carrier, label_id, tracking_number, label_url}"),
    sa.Column("rejection_reason", sa.Text),
    sa.Column("value", sa.BigInteger),
    sa.Column("return_shipping_fee", sa.BigInteger),
    sa.Column("restocking_fee", sa.BigInteger),
    sa.Column(
        "tax_refunded", sa.BigInteger, comment="Tax added on top at checkout that the refund gives back"
    ),
    sa.Column("refund", sa.BigInteger),
    sa.Column(
        "exchanges",
        postgresql.JSONB,
        comment="[{sku, quantity, replacement_sku, replacement_title, replacement_unit_price}] asked in exchange",
    ),
    sa.Column(
        "exchange",
        postgresql.JSONB,
        comment="How the exchange went: {status, units, price_difference, tax, group_id, ...}",
    ),
    sa.Column(
        "history", postgresql.JSONB, nullable=False, server_default="[]", comment="[{status, at}] each step"
    ),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "status IN ('requested', 'approved', 'rejected', 'label_sent', 'received', 'refunded')",
        name="return_status",
    ),
)

draft_orders = sa.Table(
    "draft_orders",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column(
        "lines", postgresql.JSONB, nullable=False, comment="Catalog and custom lines as staff set them"
    ),
    sa.Column("order_discount", postgresql.JSONB, comment="kind, value, reason; NULL: none"),
    sa.Column("shipping_line", postgresql.JSONB, comment="method, or a custom title and price; NULL: none"),
    sa.Column("shipping_address", postgresql.JSONB),
    sa.Column("payment_terms", sa.Text, nullable=False),
    sa.Column("net_days", sa.Integer),
    sa.Column("note", sa.Text),
    sa.Column("reserve_until", sa.DateTime(timezone=True)),
    sa.Column(
        "reservation_id",
        sa.Text,
        unique=True,
        comment="The id catalog holds the units under; the order takes it when the draft completes",
    ),
    sa.Column(
        "earlier_reservations",
        postgresql.ARRAY(sa.Text),
        nullable=False,
        server_default="{}",
        comment="Reservation ids the draft gave up (an answer for one of them is released)",
    ),
    sa.Column("reservation_status", sa.Text, nullable=False, server_default="none"),
    sa.Column("reserved_lines", postgresql.JSONB, nullable=False, server_default="[]"),
    sa.Column("reservation_detail", sa.Text),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("invoice_sent_at", sa.DateTime(timezone=True)),
    sa.Column("order_id", sa.Text, unique=True, comment="The order it became"),
    sa.Column("paid_by", sa.Text),
    sa.Column("payment_reference", sa.Text, comment="The bank transfer's reference when marked as paid"),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
    sa.Column("duplicated_from", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("status IN ('open', 'completed', 'deleted', 'expired')", name="draft_order_status"),
    sa.CheckConstraint(
        "reservation_status IN ('none', 'requested', 'held', 'rejected', 'lapsed', 'released', 'carried_over')",
        name="draft_order_reservation_status",
    ),
    sa.CheckConstraint(
        "payment_terms IN ('due_on_receipt', 'net', 'on_fulfillment')", name="draft_order_payment_terms"
    ),
)
sa.Index("draft_orders_by_status", draft_orders.c.status, draft_orders.c.created_at)
