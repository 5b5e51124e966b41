"""refund outcomes: what payments answered to each refund orders asked, recorded once per idempotency key

Revision ID: 0011_refund_outcomes
Revises: 0010_late_payments
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_refund_outcomes"
down_revision = "0010_late_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refund_outcomes",
        sa.Column("idempotency_key", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), nullable=False, index=True),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("outcome IN ('refunded', 'refund_rejected')", name="refund_outcome"),
        comment="Payments' answer to each refund orders asked, once per key; an issued refund wins over a rejection",
    )
    # Until now the timeline held them, without their keys: each old row keeps its own.
    op.execute(
        """
        INSERT INTO refund_outcomes (idempotency_key, order_id, outcome, amount, detail, recorded_at)
        SELECT 'timeline:' || id, order_id, event, coalesce((detail->>'amount')::bigint, 0),
            coalesce(detail->>'detail', ''), at
        FROM order_timeline WHERE event IN ('refunded', 'refund_rejected')
        """
    )


def downgrade() -> None:
    op.drop_table("refund_outcomes")
