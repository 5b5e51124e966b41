"""Payments' tables (SQLAlchemy Core), plus the shared outbox and inbox. No card number is ever stored.

Of a card only the PSP's token (to charge a saved method later), its brand and last four digits are kept.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.scheduling import add_schedule_table

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
scheduled_jobs = add_schedule_table(metadata)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False),
    sa.Column("step", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("psp_reference", sa.Text),
    sa.Column("decline_code", sa.Text),
    sa.Column("decline_message", sa.Text),
    sa.Column("requires_action", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("card_brand", sa.Text),
    sa.Column("card_last4", sa.String(4)),
    # Set on off-session balance charges only: the shipment group and which attempt at it (from 1).
    sa.Column("balance_group", sa.Text),
    sa.Column("balance_attempt", sa.Integer),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # charge (taken at once), authorization (a hold), capture (of a hold), replacement (of a hold, off session).
    sa.Column("kind", sa.Text, nullable=False, server_default="charge"),
    # The hold a capture or a replacement charge belongs to.
    sa.Column(
        "authorization_id",
        postgresql.UUID(as_uuid=True),
        sa.ForeignKey("payments.id", name="payments_authorization_id_fkey"),
    ),
    # When an authorisation's hold lapses at the PSP.
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    # One charge per step of an order, whatever reaches the service twice.
    sa.UniqueConstraint("order_id", "step", name="payments_one_per_order_step"),
    sa.UniqueConstraint(
        "order_id", "balance_group", "balance_attempt", name="payments_one_per_balance_attempt"
    ),
    sa.CheckConstraint("amount >= 0", name="payment_amount_not_negative"),
    sa.CheckConstraint("status IN ('succeeded', 'failed')", name="payment_status"),
    sa.CheckConstraint(
        "(status = 'failed') = (decline_code IS NOT NULL)", name="payment_failed_iff_declined"
    ),
    sa.CheckConstraint(
        "(balance_group IS NULL) = (balance_attempt IS NULL) AND (balance_attempt IS NULL OR balance_attempt >= 1)",
        name="payment_balance_attempt",
    ),
    sa.CheckConstraint("kind IN ('charge', 'authorization', 'capture', 'replacement')", name="payment_kind"),
    sa.CheckConstraint(
        "(authorization_id IS NOT NULL) = (kind IN ('capture', 'replacement'))",
        name="payment_of_a_hold",
    ),
)

sa.Index("payments_authorization_id", payments.c.authorization_id)

# However retries and races go, a group's balance is charged successfully at most once.
sa.Index(
    "payments_one_success_per_balance_group",
    payments.c.order_id,
    payments.c.balance_group,
    unique=True,
    postgresql_where=sa.and_(payments.c.balance_group.is_not(None), payments.c.status == "succeeded"),
)

# PSP webhook events name a charge by the PSP's reference.
sa.Index("payments_psp_reference", payments.c.psp_reference)

payment_methods = sa.Table(
    "payment_methods",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False, unique=True),
    # The PSP's token for the card (never card data); it is charged off-session and never shown.
    sa.Column("psp_token", sa.Text, nullable=False),
    sa.Column("card_brand", sa.Text),
    sa.Column("card_last4", sa.String(4)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    # The caller's key: the same key is the same refund, however often it is asked for.
    sa.Column("idempotency_key", sa.Text, nullable=False, unique=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("amount > 0", name="refund_amount_positive"),
)

refund_rejections = sa.Table(
    "refund_rejections",
    metadata,
    # One row per refused request (its key, order and amount): asked again, it is refused without a word.
    sa.Column("idempotency_key", sa.Text, primary_key=True),
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("amount", sa.BigInteger, primary_key=True),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    # A capture's own payment; for a refund, the captured payment it gives money back from.
    sa.Column("payment_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("payments.id"), nullable=False),
    sa.Column(
        "refund_id",
        postgresql.UUID(as_uuid=True),
        sa.ForeignKey("refunds.id", name="ledger_entries_refund_id_fkey"),
    ),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # The PSP's reference of the charge (capture) or of the refund.
    sa.Column("psp_reference", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(
        "kind IN ('capture', 'refund', 'authorization', 'void', 'expiry')", name="ledger_entry_kind"
    ),
    sa.CheckConstraint("amount > 0", name="ledger_entry_amount_positive"),
    # A refund always belongs to one; a void may (money asked back, released from a hold) or may not.
    sa.CheckConstraint(
        "(kind <> 'refund' OR refund_id IS NOT NULL) AND (kind IN ('refund', 'void') OR refund_id IS NULL)",
        name="ledger_refund_has_refund",
    ),
)

hold_orders = sa.Table(
    "hold_orders",
    metadata,
    # What payments keeps of an order's confirmation to share its hold over its shipments (held orders only).
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("subtotal", sa.BigInteger, nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    # [{"sku", "quantity", "unit_price"}]
    sa.Column("lines", postgresql.JSONB, nullable=False),
    sa.Column("has_preorder_lines", sa.Boolean, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # Who hears of a lapsed hold that could not be charged (confirmations recorded before dunning: none).
    sa.Column("customer_email", sa.Text, nullable=True),
    sa.Column("customer_locale", sa.Text, nullable=True),
)

hold_dunning = sa.Table(
    "hold_dunning",
    metadata,
    # An order whose lapsed hold could not be charged off session: begun once, the charge tried again until
    # give_up_at; ended when a charge succeeded (paid) or the period ran out (unpaid).
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("authorization_id", postgresql.UUID(as_uuid=True), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("began_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.CheckConstraint("outcome IN ('paid', 'unpaid')", name="hold_dunning_outcome"),
    sa.CheckConstraint("(ended_at IS NULL) = (outcome IS NULL)", name="hold_dunning_ended_with_outcome"),
)

hold_shipments = sa.Table(
    "hold_shipments",
    metadata,
    # A shipment of a held order as fulfillment reported it, recorded once: its capture is derived from it.
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("shipment_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False),
    # {"sku": units}
    sa.Column("shipped", postgresql.JSONB, nullable=False),
    sa.Column("short", postgresql.JSONB, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

psp_events = sa.Table(
    "psp_events",
    metadata,
    # The PSP's event id: recorded in the transaction of the event's effect, so a replay changes nothing.
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("charge_reference", sa.Text),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
