"""tax added on top of prices (US sales tax, CA GST/HST)

Revision ID: 0007_tax_added_on_top
Revises: 0006_tax_rate
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_tax_added_on_top"
down_revision = "0006_tax_rate"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column(
            "tax_added_on_top",
            sa.Boolean(),
            server_default=sa.false(),
            nullable=False,
            comment="Prices were before tax: the total adds tax_added (US sales tax, CA GST/HST)",
        ),
    )
    op.add_column(
        "orders",
        sa.Column(
            "tax_added",
            sa.BigInteger(),
            server_default="0",
            nullable=False,
            comment="Tax added on top of the prices and charged, minor units (0 where prices include tax)",
        ),
    )
    op.add_column(
        "returns",
        sa.Column(
            "tax_refunded",
            sa.BigInteger(),
            nullable=True,
            comment="Tax added on top at checkout that the refund gives back",
        ),
    )


def downgrade() -> None:
    op.drop_column("returns", "tax_refunded")
    op.drop_column("orders", "tax_added")
    op.drop_column("orders", "tax_added_on_top")
