"""parked jobs: a scheduled job given up on (its last attempt failed, or it cannot be read) is marked parked

Revision ID: 0013_parked_jobs
Revises: 0012_preorder_eta_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_parked_jobs"
down_revision = "0012_preorder_eta_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "scheduled_jobs",
        sa.Column(
            "parked_at",
            sa.DateTime(timezone=True),
            comment="Set when the job was given up on (its last attempt failed, or it cannot be read); done_at too",
        ),
    )


def downgrade() -> None:
    op.drop_column("scheduled_jobs", "parked_at")
