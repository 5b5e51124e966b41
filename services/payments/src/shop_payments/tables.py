"""Payments' tables (SQLAlchemy Core), plus the shared outbox and inbox. No card number or token is stored."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shop_runtime.messaging_tables import add_messaging_tables

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)

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
    sa.Column("card_brand", sa.Text),
    sa.Column("card_last4", sa.String(4)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # One charge per step of an order, whatever reaches the service twice.
    sa.UniqueConstraint("order_id", "step", name="payments_one_per_order_step"),
    sa.CheckConstraint("amount > 0", name="payment_amount_positive"),
    sa.CheckConstraint("status IN ('succeeded', 'failed')", name="payment_status"),
    sa.CheckConstraint(
        "(status = 'failed') = (decline_code IS NOT NULL)", name="payment_failed_iff_declined"
    ),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("order_id", sa.Text, nullable=False, index=True),
    sa.Column("payment_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("payments.id"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("kind IN ('capture', 'refund')", name="ledger_entry_kind"),
    sa.CheckConstraint("amount > 0", name="ledger_entry_amount_positive"),
)
