"""win-back offers per reason and feedback: a cancellation keeps the offer of its reason, codes take a percent,
an amount or free shipping and belong to the customer offered them, customers tell why they cancelled; the single
staff-set percent goes

Revision ID: 0015_win_back_feedback
Revises: 0014_variant_sellable
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_win_back_feedback"
down_revision = "0014_variant_sellable"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "cancellations",
        sa.Column(
            "offer",
            postgresql.JSONB(),
            nullable=True,
            comment="The win-back offer for the reason when it was asked (kind, percent_off, amount_off, link, "
            "valid_days); NULL: none",
        ),
    )
    op.execute(
        "UPDATE cancellations SET offer = jsonb_build_object("
        "'kind', 'percent', 'percent_off', offer_percent, 'valid_days', offer_days) WHERE offer_percent > 0"
    )
    op.drop_column("cancellations", "offer_percent")
    op.drop_column("cancellations", "offer_days")

    op.add_column(
        "discount_codes",
        sa.Column(
            "customer_id",
            sa.Text(),
            nullable=True,
            comment="The account it was offered to; NULL: a guest, whose email must match at checkout",
        ),
    )
    op.add_column("discount_codes", sa.Column("kind", sa.Text(), server_default="percent", nullable=False))
    op.add_column(
        "discount_codes",
        sa.Column(
            "amount_off", sa.BigInteger(), nullable=True, comment="fixed_amount: minor units of currency"
        ),
    )
    op.add_column("discount_codes", sa.Column("currency", sa.String(3), nullable=True))
    op.alter_column("discount_codes", "percent_off", nullable=True)
    # Codes issued before belong to the account of the order they were issued for, when it had one.
    op.execute(
        "UPDATE discount_codes d SET customer_id = o.customer_id FROM orders o WHERE o.id = d.issued_for_order"
    )
    op.drop_constraint("discount_code_percent", "discount_codes", type_="check")
    op.create_check_constraint(
        "discount_code_terms",
        "discount_codes",
        "(kind = 'percent' AND percent_off > 0 AND percent_off <= 100)"
        " OR (kind = 'fixed_amount' AND amount_off > 0 AND currency IS NOT NULL)"
        " OR kind = 'free_shipping'",
    )

    op.create_table(
        "cancellation_feedback",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="cancellation_feedback_score"),
        sa.ForeignKeyConstraint(["order_id"], ["cancellations.order_id"]),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("cancellation_feedback_by_time", "cancellation_feedback", ["created_at"])

    op.drop_table("win_back_offer")


def downgrade() -> None:
    op.create_table(
        "win_back_offer",
        sa.Column("id", sa.Integer(), nullable=False, comment="One row: the offer staff set"),
        sa.Column("discount_percent", sa.Integer(), nullable=False, comment="0: no code is offered"),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name="win_back_offer_single_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.drop_index("cancellation_feedback_by_time", table_name="cancellation_feedback")
    op.drop_table("cancellation_feedback")
    # Codes other than a percent cannot be told in the old shape: they go.
    op.execute("DELETE FROM discount_codes WHERE kind <> 'percent'")
    op.drop_constraint("discount_code_terms", "discount_codes", type_="check")
    op.alter_column("discount_codes", "percent_off", nullable=False)
    op.create_check_constraint(
        "discount_code_percent", "discount_codes", "percent_off > 0 AND percent_off <= 100"
    )
    op.drop_column("discount_codes", "currency")
    op.drop_column("discount_codes", "amount_off")
    op.drop_column("discount_codes", "kind")
    op.drop_column("discount_codes", "customer_id")
    op.add_column("cancellations", sa.Column("offer_days", sa.Integer(), server_default="0", nullable=False))
    op.add_column(
        "cancellations", sa.Column("offer_percent", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(
        "UPDATE cancellations SET offer_percent = (offer->>'percent_off')::int,"
        " offer_days = (offer->>'valid_days')::int WHERE offer->>'kind' = 'percent'"
    )
    op.drop_column("cancellations", "offer")
