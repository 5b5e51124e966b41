"""availability version: a per-variant counter ordering catalog.stock.availability_changed.v1 messages

Revision ID: 0005_availability_version
Revises: 0004_promises
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_availability_version"
down_revision = "0004_promises"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "variants",
        sa.Column(
            "availability_version",
            sa.BigInteger(),
            server_default="0",
            nullable=False,
            comment="Version of the last availability message about this SKU; bumped under the row's lock, "
            "so versions follow the order in which the changes commit.",
        ),
    )


def downgrade() -> None:
    op.drop_column("variants", "availability_version")
