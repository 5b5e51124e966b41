"""customer segments: staff put accounts in named segments (vip, ...), which checkout passes to catalog so a
pre-order's early access opens for them

Revision ID: 0016_customer_segments
Revises: 0015_win_back_feedback
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_customer_segments"
down_revision = "0015_win_back_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_segments",
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("segment", sa.Text(), nullable=False, comment="A slug staff chose, e.g. vip: early access"),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.PrimaryKeyConstraint("customer_id", "segment"),
    )


def downgrade() -> None:
    op.drop_table("customer_segments")
