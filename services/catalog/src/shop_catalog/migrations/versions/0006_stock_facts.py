"""stock facts: committed units per reservation, and each order's reserves, shipments, releases and returns
recorded once, so late, repeated and reordered messages change stock once

Revision ID: 0006_stock_facts
Revises: 0005_availability_version
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_stock_facts"
down_revision = "0005_availability_version"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "reservations",
        sa.Column(
            "committed",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="Units that left with shipments; only grows, so a commit never takes them again.",
        ),
    )
    op.alter_column(
        "reservations",
        "quantity",
        existing_type=sa.Integer(),
        existing_nullable=False,
        comment="Units held now (0 once none is reserved).",
    )
    op.create_check_constraint("reservation_committed_not_negative", "reservations", "committed >= 0")
    # Rows that stopped holding kept their last quantity; a committed row had shipped all of it.
    op.execute("UPDATE reservations SET committed = quantity, quantity = 0 WHERE status = 'committed'")
    op.execute("UPDATE reservations SET quantity = 0 WHERE status = 'released'")

    op.create_table(
        "stock_orders",
        sa.Column(
            "order_id", sa.Text(), nullable=False, comment="An order's id, or a draft order's reservation id."
        ),
        sa.Column(
            "released_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="When the order gave everything back; set once. A reserve arriving later holds nothing.",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
        comment="Every order catalog was told about: the row each stock message of the order locks first.",
    )
    op.create_table(
        "reserve_requests",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column(
            "request_key",
            sa.Text(),
            nullable=False,
            comment="Empty for the order's own lines, else the exchange's id: each is decided once.",
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "request_key"),
    )
    op.create_table(
        "reservation_changes",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column(
            "change_id",
            sa.Text(),
            nullable=False,
            comment="A commit's shipment id, or a partial release's key (its reason and units).",
        ),
        sa.Column("sku", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False, comment="Units the message asked for."),
        sa.Column(
            "applied",
            sa.Integer(),
            server_default="0",
            nullable=False,
            comment="Units taken from the reservation so far; the rest waits for a reserve that comes late.",
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('commit', 'release')", name="reservation_change_kind"),
        sa.CheckConstraint("quantity > 0", name="reservation_change_quantity_positive"),
        sa.CheckConstraint("applied >= 0 AND applied <= quantity", name="reservation_change_applied_within"),
        sa.PrimaryKeyConstraint("order_id", "kind", "change_id", "sku", "location"),
        comment="Each shipment's commit and each partial release of an order, recorded once per place.",
    )
    op.create_table(
        "restocked_returns",
        sa.Column("return_id", sa.Text(), nullable=False),
        sa.Column(
            "restocked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.PrimaryKeyConstraint("return_id"),
        comment="Returns whose resellable units were counted back in: each is counted once.",
    )
    # Orders already reserved are decided: a copy of their reserve arriving after the upgrade holds nothing.
    op.execute(
        "INSERT INTO stock_orders (order_id) "
        "SELECT order_id FROM reservations UNION SELECT order_id FROM preorders"
    )
    op.execute("INSERT INTO reserve_requests (order_id, request_key) SELECT order_id, '' FROM stock_orders")
    # Returns already counted back in (their ledger entries name them) are not counted again.
    op.execute(
        "INSERT INTO restocked_returns (return_id) "
        "SELECT DISTINCT substring(reason FROM 8) FROM inventory_adjustments WHERE reason LIKE 'return:%'"
    )


def downgrade() -> None:
    op.drop_table("restocked_returns")
    op.drop_table("reservation_changes")
    op.drop_table("reserve_requests")
    op.drop_table("stock_orders")
    op.execute("UPDATE reservations SET quantity = committed WHERE status = 'committed'")
    op.drop_constraint("reservation_committed_not_negative", "reservations", type_="check")
    op.alter_column(
        "reservations", "quantity", existing_type=sa.Integer(), existing_nullable=False, comment=None
    )
    op.drop_column("reservations", "committed")
