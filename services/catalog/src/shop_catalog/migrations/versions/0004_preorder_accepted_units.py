"""preorder accepted units: a counter on the policy row, so one conditional UPDATE enforces the cap

Revision ID: 0004_preorder_accepted_units
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_preorder_accepted_units"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "preorder_policies",
        sa.Column(
            "accepted_units",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="Units of pre-orders waiting or allocated (not released): what counts against the cap. "
            "Kept in step with every accept and release, so a conditional UPDATE can enforce the cap.",
        ),
    )
    # Pre-orders accepted before this migration count against the cap as they always did.
    op.execute(
        "UPDATE preorder_policies AS p SET accepted_units = a.units "
        "FROM (SELECT sku, sum(quantity) AS units FROM preorders "
        "WHERE status IN ('waiting', 'allocated') GROUP BY sku) AS a WHERE a.sku = p.sku"
    )
    op.create_check_constraint(
        "preorder_accepted_units_not_negative", "preorder_policies", "accepted_units >= 0"
    )


def downgrade() -> None:
    op.drop_constraint("preorder_accepted_units_not_negative", "preorder_policies", type_="check")
    op.drop_column("preorder_policies", "accepted_units")
