"""orders completed from a draft on payment terms: what is due, when, and whether it was paid

Revision ID: 0008_payment_terms
Revises: 0007_draft_orders
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_payment_terms"
down_revision = "0007_catalog_availability"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("payment_terms", sa.Text(), comment="net or on_fulfillment: paid after")
    )
    op.add_column("orders", sa.Column("net_days", sa.Integer()))
    op.add_column("orders", sa.Column("payment_due_amount", sa.BigInteger()))
    op.add_column("orders", sa.Column("payment_due_date", sa.Date()))
    op.add_column("orders", sa.Column("payment_status", sa.Text()))
    op.add_column("orders", sa.Column("paid_at", sa.DateTime(timezone=True)))
    op.create_check_constraint(
        "order_payment_status",
        "orders",
        "payment_status IN ('awaiting_payment', 'overdue', 'paid')",
    )


def downgrade() -> None:
    op.drop_constraint("order_payment_status", "orders", type_="check")
    for column in (
        "paid_at",
        "payment_status",
        "payment_due_date",
        "payment_due_amount",
        "net_days",
        "payment_terms",
    ):
        op.drop_column("orders", column)
