"""card holds

Authorise at checkout, capture at shipment: a payment's kind (charge, authorization, capture of a hold, an
off-session replacement of a hold) with the hold it belongs to and when it expires; ledger entries for
authorised, voided and expired amounts; what payments keeps of a held order's confirmation and shipments;
and the durable schedule that settles holds before they lapse.

Revision ID: 0006_card_holds
Revises: 0005_refund_rejections
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_card_holds"
down_revision = "0005_refund_rejections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("payments", sa.Column("kind", sa.Text(), server_default="charge", nullable=False))
    op.add_column("payments", sa.Column("authorization_id", sa.UUID(), nullable=True))
    op.add_column("payments", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        "payments_authorization_id_fkey", "payments", "payments", ["authorization_id"], ["id"]
    )
    op.create_index("payments_authorization_id", "payments", ["authorization_id"], unique=False)
    op.create_check_constraint(
        "payment_kind", "payments", "kind IN ('charge', 'authorization', 'capture', 'replacement')"
    )
    op.create_check_constraint(
        "payment_of_a_hold",
        "payments",
        "(authorization_id IS NOT NULL) = (kind IN ('capture', 'replacement'))",
    )
    op.drop_constraint("ledger_entry_kind", "ledger_entries", type_="check")
    op.create_check_constraint(
        "ledger_entry_kind",
        "ledger_entries",
        "kind IN ('capture', 'refund', 'authorization', 'void', 'expiry')",
    )
    op.drop_constraint("ledger_refund_has_refund", "ledger_entries", type_="check")
    op.create_check_constraint(
        "ledger_refund_has_refund",
        "ledger_entries",
        "(kind <> 'refund' OR refund_id IS NOT NULL) AND (kind IN ('refund', 'void') OR refund_id IS NULL)",
    )
    op.create_table(
        "hold_orders",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("lines", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("has_preorder_lines", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_table(
        "hold_shipments",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("shipment_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("shipped", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("short", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "shipment_id"),
    )
    op.create_table(
        "scheduled_jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False, comment="Scheduling the same key twice is a no-op"),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "parked_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Set when the job was given up on (its last attempt failed, or it cannot be read); done_at too",
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index(
        "scheduled_jobs_due",
        "scheduled_jobs",
        ["due_at"],
        unique=False,
        postgresql_where=sa.text("done_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "scheduled_jobs_due", table_name="scheduled_jobs", postgresql_where=sa.text("done_at IS NULL")
    )
    op.drop_table("scheduled_jobs")
    op.drop_table("hold_shipments")
    op.drop_table("hold_orders")
    op.drop_constraint("ledger_refund_has_refund", "ledger_entries", type_="check")
    op.create_check_constraint(
        "ledger_refund_has_refund", "ledger_entries", "(kind = 'refund') = (refund_id IS NOT NULL)"
    )
    op.drop_constraint("ledger_entry_kind", "ledger_entries", type_="check")
    op.create_check_constraint("ledger_entry_kind", "ledger_entries", "kind IN ('capture', 'refund')")
    op.drop_constraint("payment_of_a_hold", "payments", type_="check")
    op.drop_constraint("payment_kind", "payments", type_="check")
    op.drop_index("payments_authorization_id", table_name="payments")
    op.drop_constraint("payments_authorization_id_fkey", "payments", type_="foreignkey")
    op.drop_column("payments", "expires_at")
    op.drop_column("payments", "authorization_id")
    op.drop_column("payments", "kind")
