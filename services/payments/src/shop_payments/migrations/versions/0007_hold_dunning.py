"""hold dunning

A lapsed card hold whose off-session charge failed is charged again until a period ends: the customer a held
order's confirmation names (to tell them), and one dunning row per order (begun, give up at, ended how).

Revision ID: 0007_hold_dunning
Revises: 0006_card_holds
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_hold_dunning"
down_revision = "0006_card_holds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hold_orders", sa.Column("customer_email", sa.Text(), nullable=True))
    op.add_column("hold_orders", sa.Column("customer_locale", sa.Text(), nullable=True))
    op.create_table(
        "hold_dunning",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("authorization_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("began_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("give_up_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.CheckConstraint("outcome IN ('paid', 'unpaid')", name="hold_dunning_outcome"),
        sa.CheckConstraint("(ended_at IS NULL) = (outcome IS NULL)", name="hold_dunning_ended_with_outcome"),
        sa.PrimaryKeyConstraint("order_id"),
    )


def downgrade() -> None:
    op.drop_table("hold_dunning")
    op.drop_column("hold_orders", "customer_locale")
    op.drop_column("hold_orders", "customer_email")
