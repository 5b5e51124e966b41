"""tax included in an order's prices

Revision ID: 0006_tax_rate
Revises: 0005_returns
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_tax_rate"
down_revision = "0005_returns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column(
            "tax_rate",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="Tax included in prices, basis points",
        ),
    )


def downgrade() -> None:
    op.drop_column("orders", "tax_rate")
