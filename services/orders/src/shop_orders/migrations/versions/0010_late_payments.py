"""late payments: a payment that succeeded after its order (or group) was cancelled, given back once

Revision ID: 0010_late_payments
Revises: 0009_shipment_facts
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_late_payments"
down_revision = "0009_shipment_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "late_payments",
        sa.Column("payment_id", sa.Text, primary_key=True),
        sa.Column("order_id", sa.Text, sa.ForeignKey("orders.id"), nullable=False, index=True),
        sa.Column("what", sa.Text, nullable=False, comment="checkout, or balance:<group id>"),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        comment="Payments that succeeded after their order or group was cancelled, counted and refunded once",
    )
    # Until now the timeline held them; copy them, so the decision can stop reading it.
    op.execute(
        """
        INSERT INTO late_payments (payment_id, order_id, what, amount, refunded_at)
        SELECT DISTINCT ON (detail->>'payment_id') detail->>'payment_id', order_id, coalesce(detail->>'what', ''),
            coalesce((detail->>'amount')::bigint, 0), at
        FROM order_timeline WHERE event = 'late_payment_refunded' AND detail ? 'payment_id'
        ORDER BY detail->>'payment_id', at
        """
    )


def downgrade() -> None:
    op.drop_table("late_payments")
