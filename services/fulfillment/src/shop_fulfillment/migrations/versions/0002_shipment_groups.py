"""One fulfillment order per shipment group (an order's pre-order units ship in groups of their own)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "fulfillment_orders",
        sa.Column(
            "group_key",
            sa.Text(),
            nullable=True,
            comment="The order's shipment group id, or the location for orders that group by location",
        ),
    )
    op.execute("UPDATE fulfillment_orders SET group_key = location")
    op.alter_column("fulfillment_orders", "group_key", nullable=False)
    op.drop_constraint("one_fulfillment_order_per_order_and_location", "fulfillment_orders", type_="unique")
    op.create_unique_constraint(
        "one_fulfillment_order_per_shipment_group", "fulfillment_orders", ["order_id", "group_key"]
    )


def downgrade() -> None:
    op.drop_constraint("one_fulfillment_order_per_shipment_group", "fulfillment_orders", type_="unique")
    op.create_unique_constraint(
        "one_fulfillment_order_per_order_and_location", "fulfillment_orders", ["order_id", "location"]
    )
    op.drop_column("fulfillment_orders", "group_key")
