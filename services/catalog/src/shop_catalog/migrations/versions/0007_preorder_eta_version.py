"""pre-order eta version: each expected-date change told to orders is counted, and its message says which

Revision ID: 0007_preorder_eta_version
Revises: 0006_stock_facts
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_preorder_eta_version"
down_revision = "0006_stock_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "preorders",
        sa.Column(
            "eta_version",
            sa.Integer,
            nullable=False,
            server_default="0",
            comment="How many date changes were told; each message carries it, so a late one is known",
        ),
    )


def downgrade() -> None:
    op.drop_column("preorders", "eta_version")
