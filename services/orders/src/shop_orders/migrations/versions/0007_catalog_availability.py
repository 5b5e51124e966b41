"""catalog availability: orders' copy of what each SKU can still sell, so checkout answers sold out at once

Revision ID: 0007_catalog_availability
Revises: 0006_tax_rate
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_catalog_availability"
down_revision = "0007_draft_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_availability",
        sa.Column("sku", sa.Text(), primary_key=True),
        sa.Column("in_stock_units", sa.Integer(), nullable=False),
        sa.Column(
            "preorder_units_left",
            sa.Integer(),
            nullable=True,
            comment="Under the pre-order cap; NULL without a cap",
        ),
        sa.Column(
            "policy_version",
            sa.Integer(),
            nullable=True,
            comment="The pre-order policy version the figures were counted under",
        ),
        sa.Column("version", sa.BigInteger(), nullable=False),
        comment="Catalog's last word on what each SKU can still sell: checkout refuses what it rules out",
    )


def downgrade() -> None:
    op.drop_table("catalog_availability")
