"""draft orders, and order lines a draft made without a SKU

Revision ID: 0007_draft_orders
Revises: 0006_tax_rate
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_draft_orders"
down_revision = "0008_exchanges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Earlier revisions never created this check (only the metadata had it): add it, with custom lines.
    op.execute("ALTER TABLE order_lines DROP CONSTRAINT IF EXISTS order_line_kind")
    op.create_check_constraint("order_line_kind", "order_lines", "kind IN ('in_stock', 'preorder', 'custom')")
    op.create_table(
        "draft_orders",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column(
            "lines",
            postgresql.JSONB(),
            nullable=False,
            comment="Catalog and custom lines as staff set them",
        ),
        sa.Column("order_discount", postgresql.JSONB(), comment="kind, value, reason; NULL: none"),
        sa.Column(
            "shipping_line", postgresql.JSONB(), comment="method, or a custom title and price; NULL: none"
        ),
        sa.Column("shipping_address", postgresql.JSONB()),
        sa.Column("payment_terms", sa.Text(), nullable=False),
        sa.Column("net_days", sa.Integer()),
        sa.Column("note", sa.Text()),
        sa.Column("reserve_until", sa.DateTime(timezone=True)),
        sa.Column(
            "reservation_id",
            sa.Text(),
            unique=True,
            comment="The id catalog holds the units under; the order takes it when the draft completes",
        ),
        sa.Column(
            "earlier_reservations",
            postgresql.ARRAY(sa.Text()),
            nullable=False,
            server_default="{}",
            comment="Reservation ids the draft gave up (an answer for one of them is released)",
        ),
        sa.Column("reservation_status", sa.Text(), nullable=False, server_default="none"),
        sa.Column("reserved_lines", postgresql.JSONB(), nullable=False, server_default="[]"),
        sa.Column("reservation_detail", sa.Text()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_sent_at", sa.DateTime(timezone=True)),
        sa.Column("order_id", sa.Text(), unique=True, comment="The order it became"),
        sa.Column("paid_by", sa.Text()),
        sa.Column(
            "payment_reference", sa.Text(), comment="The bank transfer's reference when marked as paid"
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("duplicated_from", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "status IN ('open', 'completed', 'deleted', 'expired')", name="draft_order_status"
        ),
        sa.CheckConstraint(
            "reservation_status IN ('none', 'requested', 'held', 'rejected', 'lapsed', 'released', "
            "'carried_over')",
            name="draft_order_reservation_status",
        ),
        sa.CheckConstraint(
            "payment_terms IN ('due_on_receipt', 'net', 'on_fulfillment')", name="draft_order_payment_terms"
        ),
    )
    op.create_index("ix_draft_orders_customer_id", "draft_orders", ["customer_id"])
    op.create_index("draft_orders_by_status", "draft_orders", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("draft_orders")
    op.execute("DELETE FROM order_lines WHERE kind = 'custom'")
    op.drop_constraint("order_line_kind", "order_lines", type_="check")
