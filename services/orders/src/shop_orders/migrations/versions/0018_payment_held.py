"""payment held: whether an order's checkout payment is a card hold captured at shipment, so that what a
cancellation gives back is told as released, not refunded

Revision ID: 0018_payment_held
Revises: 0017_subscriptions
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_payment_held"
down_revision = "0017_subscriptions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column(
            "payment_held",
            sa.Boolean,
            nullable=False,
            server_default=sa.false(),
            comment="Checkout's payment was authorised only (a card hold captured at shipment), not captured",
        ),
    )


def downgrade() -> None:
    op.drop_column("orders", "payment_held")
