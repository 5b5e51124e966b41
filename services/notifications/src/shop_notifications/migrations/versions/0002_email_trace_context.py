"""the trace context an email was queued in

Revision ID: 0002_email_trace_context
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_email_trace_context"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "notifications",
        sa.Column(
            "trace_context",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="W3C trace context of the event that queued it: sending continues that trace",
        ),
    )


def downgrade() -> None:
    op.drop_column("notifications", "trace_context")
