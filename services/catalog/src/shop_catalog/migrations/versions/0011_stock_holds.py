"""stock holds: an order's units held at checkout, before its reserve arrives through the saga

Revision ID: 0011_stock_holds
Revises: 0010_low_stock_watches
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_stock_holds"
down_revision = "0010_low_stock_watches"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "stock_orders",
        sa.Column(
            "held_answer",
            postgresql.JSONB,
            comment="Units held at checkout and not yet claimed by the order's reserve: the StockReserved "
            "answer it will be sent. NULL once claimed, released or expired.",
        ),
    )
    op.add_column(
        "stock_orders",
        sa.Column(
            "hold_expired_at",
            sa.DateTime(timezone=True),
            comment="When a hold nobody claimed was given back; a reserve arriving later is refused.",
        ),
    )


def downgrade() -> None:
    op.drop_column("stock_orders", "hold_expired_at")
    op.drop_column("stock_orders", "held_answer")
