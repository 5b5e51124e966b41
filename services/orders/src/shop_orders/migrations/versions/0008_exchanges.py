"""exchanges: a returned unit replaced by another variant of the same product

Revision ID: 0008_exchanges
Revises: 0007_tax_added_on_top
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_exchanges"
down_revision = "0007_tax_added_on_top"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # An exchange's replacement ships as a shipment group of its own kind.
    op.drop_constraint("shipment_group_kind", "shipment_groups", type_="check")
    op.create_check_constraint(
        "shipment_group_kind", "shipment_groups", "kind IN ('in_stock', 'preorder', 'exchange')"
    )
    op.add_column(
        "returns",
        sa.Column(
            "exchanges",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="[{sku, quantity, replacement_sku, replacement_title, replacement_unit_price}] asked in "
            "exchange",
        ),
    )
    op.add_column(
        "returns",
        sa.Column(
            "exchange",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="How the exchange went: {status, units, price_difference, tax, group_id, ...}",
        ),
    )


def downgrade() -> None:
    op.execute("DELETE FROM shipment_groups WHERE kind = 'exchange'")
    op.drop_constraint("shipment_group_kind", "shipment_groups", type_="check")
    op.create_check_constraint("shipment_group_kind", "shipment_groups", "kind IN ('in_stock', 'preorder')")
    op.drop_column("returns", "exchange")
    op.drop_column("returns", "exchanges")
