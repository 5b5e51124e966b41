"""shipment facts: what the warehouse reported about each shipment group, each recorded once

Revision ID: 0009_shipment_facts
Revises: 0008_payment_terms
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_shipment_facts"
down_revision = "0008_payment_terms"
branch_labels = None
depends_on = None

_TIMES = {
    "picked_at": "When the warehouse reported the group picked",
    "packed_at": "When the warehouse reported the group packed",
    "short_picked_at": "When a short pick of the group was recorded (its refund asked)",
    "shipped_at": "When the shipment was recorded: its units committed, the customer told",
    "delivered_at": "When the carrier reported the shipment delivered",
    "stock_committed_at": "When the shipment's units were committed in catalog (sent once)",
}


def upgrade() -> None:
    for name, comment in _TIMES.items():
        op.add_column("shipment_groups", sa.Column(name, sa.DateTime(timezone=True), comment=comment))
    op.add_column("shipment_groups", sa.Column("carrier", sa.Text))
    op.add_column("shipment_groups", sa.Column("tracking_number", sa.Text))
    op.add_column(
        "shipment_groups",
        sa.Column(
            "shipped_lines",
            postgresql.JSONB(astext_type=sa.Text()),
            comment="The units that left in the parcel, as the warehouse reported them",
        ),
    )
    # Until now the timeline held these facts; copy them, so decisions can stop reading it.
    for column, event in (
        ("picked_at", "picked"),
        ("packed_at", "packed"),
        ("shipped_at", "shipped"),
        ("delivered_at", "delivered"),
        ("short_picked_at", "short_pick"),
    ):
        op.execute(
            f"""
            UPDATE shipment_groups AS g SET {column} = t.at
            FROM (
                SELECT detail->>'fulfillment_id' AS fulfillment_id, min(at) AS at
                FROM order_timeline WHERE event = '{event}' GROUP BY 1
            ) AS t
            WHERE t.fulfillment_id = g.fulfillment_id
            """
        )
    op.execute(
        """
        UPDATE shipment_groups AS g SET carrier = t.detail->>'carrier', tracking_number = t.detail->>'tracking_number'
        FROM order_timeline AS t
        WHERE t.event = 'shipped' AND t.detail->>'fulfillment_id' = g.fulfillment_id
        """
    )
    op.execute(
        """
        UPDATE shipment_groups SET shipped_lines = lines, stock_committed_at = shipped_at,
            shipped_at = coalesce(shipped_at, updated_at)
        WHERE status IN ('shipped', 'delivered')
        """
    )
    op.execute(
        """
        UPDATE shipment_groups SET delivered_at = coalesce(delivered_at, updated_at) WHERE status = 'delivered'
        """
    )
    op.execute(
        """
        UPDATE shipment_groups SET short_picked_at = coalesce(short_picked_at, updated_at)
        WHERE short_lines <> '[]'::jsonb
        """
    )


def downgrade() -> None:
    for name in (*_TIMES, "carrier", "tracking_number", "shipped_lines"):
        op.drop_column("shipment_groups", name)
