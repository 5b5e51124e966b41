"""variant sellable: orders' copy of a variant says whether catalog still sells it (retired, or its product
archived, it is not)

Revision ID: 0014_variant_sellable
Revises: 0013_parked_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_variant_sellable"
down_revision = "0013_parked_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "catalog_variants",
        sa.Column(
            "sellable",
            sa.Boolean,
            nullable=False,
            server_default=sa.true(),
            comment="False while catalog does not sell the variant: retired, or its product archived",
        ),
    )


def downgrade() -> None:
    op.drop_column("catalog_variants", "sellable")
