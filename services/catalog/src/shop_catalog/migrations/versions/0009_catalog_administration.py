"""catalog administration: archived products, retired variants, safety stock never below zero

Revision ID: 0009_catalog_administration
Revises: 0008_parked_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_catalog_administration"
down_revision = "0008_parked_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "products",
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            comment="Set while the product is archived: not sold, not listed; cleared when restored.",
        ),
    )
    op.add_column(
        "products",
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.add_column(
        "variants",
        sa.Column(
            "retired_at",
            sa.DateTime(timezone=True),
            comment="Set once when the variant is retired: it is never sold again.",
        ),
    )
    op.create_check_constraint("safety_stock_not_negative", "stock_levels", "safety_stock >= 0")


def downgrade() -> None:
    op.drop_constraint("safety_stock_not_negative", "stock_levels", type_="check")
    op.drop_column("variants", "retired_at")
    op.drop_column("products", "updated_at")
    op.drop_column("products", "archived_at")
