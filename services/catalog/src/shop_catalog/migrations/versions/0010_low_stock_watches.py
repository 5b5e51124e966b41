"""low-stock alerts: a threshold per SKU and whether the current crossing was alerted

Revision ID: 0010_low_stock_watches
Revises: 0009_catalog_administration
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_low_stock_watches"
down_revision = "0009_catalog_administration"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "low_stock_watches",
        sa.Column("sku", sa.Text, sa.ForeignKey("variants.sku"), primary_key=True),
        sa.Column(
            "threshold",
            sa.Integer,
            comment="Staff's threshold for this SKU; NULL follows the shop default "
            "(SHOP_CATALOG_LOW_STOCK_DEFAULT_THRESHOLD).",
        ),
        sa.Column("alerted_at", sa.DateTime(timezone=True)),
        sa.Column("alerted_available", sa.Integer),
        sa.Column(
            "alerts", sa.Integer, nullable=False, server_default="0", comment="Alerts published so far."
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("threshold IS NULL OR threshold >= 0", name="low_stock_threshold_not_negative"),
    )


def downgrade() -> None:
    op.drop_table("low_stock_watches")
