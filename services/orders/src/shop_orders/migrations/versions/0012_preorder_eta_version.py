"""pre-order eta version: the newest date change applied to a pre-order line, so a late one is ignored

Revision ID: 0012_preorder_eta_version
Revises: 0011_refund_outcomes
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_preorder_eta_version"
down_revision = "0011_refund_outcomes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "order_lines",
        sa.Column(
            "eta_version",
            sa.Integer,
            comment="Pre-order: catalog's version of the last date change applied (a lower one arrived late)",
        ),
    )


def downgrade() -> None:
    op.drop_column("order_lines", "eta_version")
