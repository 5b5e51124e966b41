"""The audit against real, freshly migrated service databases: clean data passes, each broken invariant is named."""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from shop_ops.audit import AuditCheck, AuditContext, AuditOptions, run_checks
from shop_ops.cli import run
from shop_ops.databases import read_only_snapshots
from shop_ops.invariants import Finding
from shop_orders.core import tables as orders
from shop_payments import tables as payments
from tests.integration.ops import rows
from tests.integration.ops.conftest import ServiceDatabases

pytestmark = pytest.mark.integration


async def _audit(databases: ServiceDatabases, *args: str, **overrides: object) -> tuple[int, str]:
    out = io.StringIO()
    code = await run(["audit", *args], settings=databases.settings(**overrides), stdout=out)
    return code, out.getvalue()


async def _a_healthy_shop(databases: ServiceDatabases) -> None:
    """One delivered order, one waiting for payment with stock held, and a relayed outbox."""
    _, paid = rows.payment("o-delivered")
    _, shipment = rows.fulfillment_order("o-delivered", "delivered")
    await databases.execute(
        "orders",
        rows.order("o-delivered", "delivered"),
        rows.order("o-reserved", "reserved"),
        rows.outbox_row(orders.outbox, created_at=rows.ago(hours=1), published=True)[1],
        rows.outbox_row(orders.outbox, created_at=rows.ago(seconds=2), published=False)[1],
    )
    await databases.execute("payments", *paid)
    await databases.execute("fulfillment", shipment)
    await databases.execute(
        "catalog",
        *rows.product_with_stock("SHIRT-M", on_hand=10, reserved=2),
        rows.reservation("o-delivered", "SHIRT-M", 1, "committed"),
        rows.reservation("o-reserved", "SHIRT-M", 2, "reserved"),
    )


async def test_a_consistent_shop_passes_every_check(databases: ServiceDatabases) -> None:
    await _a_healthy_shop(databases)
    code, output = await _audit(databases)
    assert code == 0, output
    assert "0 violation(s), 0 waiting, 0 check(s) could not run" in output
    assert "21 checks run:" in output
    assert "VIOLATION" not in output


async def test_every_broken_invariant_is_reported_with_its_ids(databases: ServiceDatabases) -> None:
    await _a_healthy_shop(databases)
    twice_a, twice_a_rows = rows.payment("o-twice")
    twice_b, twice_b_rows = rows.payment("o-twice")
    refunded, refunded_rows = rows.payment("o-over-refunded")
    _, rejected_rows = rows.payment("o-rejected")
    _, shipped_paid = rows.payment("o-shipped")
    _, late_paid = rows.payment("o-late")
    _, waiting_paid = rows.payment("o-waiting")
    _, packed = rows.fulfillment_order("o-shipped", "packed")
    _, picking = rows.fulfillment_order("o-waiting", "pick_requested")
    stale_message, stale = rows.outbox_row(payments.outbox, created_at=rows.ago(minutes=5), published=False)
    await databases.execute(
        "orders",
        rows.order("o-twice", "confirmed"),
        rows.order("o-unpaid", "confirmed"),
        rows.order("o-rejected", "rejected", status_reason="payment_failed"),
        rows.order("o-shipped", "shipped"),
        rows.order("o-late", "confirmed", since=rows.ago(minutes=10)),
        rows.order("o-waiting", "confirmed", since=rows.ago(hours=3)),
    )
    await databases.execute(
        "payments",
        *twice_a_rows,
        *twice_b_rows,
        *refunded_rows,
        rows.ledger("o-over-refunded", refunded, "refund", 50000),
        *rejected_rows,
        *shipped_paid,
        *late_paid,
        *waiting_paid,
        stale,
    )
    await databases.execute("fulfillment", packed, picking)
    await databases.execute(
        "catalog",
        *rows.product_with_stock("OVERSOLD", on_hand=1, reserved=3),
        rows.reservation("o-x", "OVERSOLD", 3),
        *rows.product_with_stock("DRIFTED", on_hand=10, reserved=4),
        rows.reservation("o-y", "DRIFTED", 1),
    )

    code, output = await _audit(databases)

    assert code == 1, output
    expected = [
        "VIOLATION stock.within_on_hand: oversold: reserved 3 exceeds on hand 1 [sku=OVERSOLD location=seoul-1]",
        "VIOLATION stock.reservations_match: stock level says 4 reserved, reservations hold 1 "
        "[sku=DRIFTED location=seoul-1]",
        "VIOLATION money.ledger: refunded 50000 exceeds captured 39000 (net -11000) [order=o-over-refunded]",
        f"VIOLATION money.ledger: payment refunded 50000 exceeds its capture 39000 "
        f"[order=o-over-refunded payment={refunded}]",
        f"VIOLATION money.one_charge_per_step: step 'full' charged 2 times "
        f"[order=o-twice step=full payments={','.join(sorted([str(twice_a), str(twice_b)]))}]",
        "VIOLATION money.paid_orders_captured: confirmed with 78000 paid but a total of 39000 [order=o-twice]",
        "VIOLATION money.paid_orders_captured: confirmed but no successful payment (due 39000) [order=o-unpaid]",
        "VIOLATION money.rejected_not_charged: rejected but 39000 still captured (captured 39000, refunded 0) "
        "[order=o-rejected]",
        "VIOLATION saga.services_agree: shipped in orders, fulfillment orders: ",
        "VIOLATION saga.services_agree: confirmed 10m 0s ago and fulfillment has no fulfillment order [order=o-late]",
        f"VIOLATION messaging.outbox_published.payments: orders.order.placed.v1 unpublished for 5m 0s "
        f"[service=payments outbox_row=1 message={stale_message}]",
        "WAITING   saga.paid_orders_progress: paid and confirmed 3h 0m ago, not shipped yet "
        "(fulfillment: pick_requested) [order=o-waiting",
    ]
    for line in expected:
        assert line in output, f"missing {line!r} in:\n{output}"
    assert "[order=o-shipped]" in output
    assert "11 violation(s), 1 waiting, 0 check(s) could not run" in output


async def test_preorders_accepted_over_their_cap_are_reported(databases: ServiceDatabases) -> None:
    await _a_healthy_shop(databases)
    await databases.execute(
        "catalog",
        # 3 waiting + 2 allocated under a cap of 4; the released one no longer holds a place
        *rows.preorders_under_cap(
            "DROP-OVER", cap=4, accepted=[(2, "waiting"), (1, "waiting"), (2, "allocated"), (5, "released")]
        ),
        *rows.preorders_under_cap("DROP-FULL", cap=3, accepted=[(2, "waiting"), (1, "allocated")]),
    )

    code, output = await _audit(databases)

    assert code == 1, output
    assert (
        "VIOLATION stock.preorders_within_cap: pre-orders accepted 5 exceed the cap 4 [sku=DROP-OVER]"
        in output
    )
    assert "DROP-FULL" not in output  # exactly at its cap is fine
    assert "1 violation(s), 0 waiting, 0 check(s) could not run" in output


async def test_thresholds_are_options(databases: ServiceDatabases) -> None:
    _, stale = rows.outbox_row(orders.outbox, created_at=rows.ago(seconds=30), published=False)
    await databases.execute("orders", stale)
    assert (await _audit(databases))[0] == 0
    code, output = await _audit(databases, "--outbox-max-age", "10s")
    assert code == 1
    # the row is 30 s old when written; a slow machine may take a few seconds more to audit it
    assert re.search(
        r"messaging\.outbox_published\.orders: orders\.order\.placed\.v1 unpublished for 3\ds", output
    )


async def test_a_database_that_cannot_be_opened_makes_the_audit_inconclusive(
    databases: ServiceDatabases,
) -> None:
    missing = databases.urls["notifications"].rsplit("/", 1)[0] + "/shop_test_does_not_exist_ops"
    code, output = await _audit(databases, notifications_database_url=missing)
    assert code == 2, output
    assert (
        "ERROR     messaging.outbox_published.notifications: could not run: notifications database unavailable"
        in output
    )
    assert "0 violation(s), 0 waiting, 1 check(s) could not run" in output


async def test_the_audit_cannot_write(databases: ServiceDatabases) -> None:
    async with read_only_snapshots(databases.urls) as snapshots:
        connection = snapshots.connection("orders")
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await connection.execute(rows.order("o-written", "pending"))
    async with databases.engines["orders"].connect() as connection:
        assert (await connection.execute(sa.select(sa.func.count()).select_from(orders.orders))).scalar() == 0


async def test_the_console_script_exits_1_on_a_violation(databases: ServiceDatabases) -> None:
    await databases.execute("catalog", *rows.product_with_stock("OVERSOLD", on_hand=0, reserved=1))
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
    env.update({f"SHOP_{name.upper()}_DATABASE_URL": url for name, url in databases.urls.items()})
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "shop_ops", "audit", "--waiting-after", "2h"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "[sku=OVERSOLD location=seoul-1]" in result.stdout
    assert timedelta(hours=2)  # the option parsed: a bad duration would exit 2 with a usage error


async def test_a_failing_query_spoils_only_its_own_check(databases: ServiceDatabases) -> None:
    async def broken(context: AuditContext) -> list[Finding]:
        await context.snapshots.connection("orders").execute(sa.text("SELECT no_such_column FROM orders"))
        return []

    async def counting(context: AuditContext) -> list[Finding]:
        count = (
            await context.snapshots.connection("orders").execute(sa.text("SELECT count(*) FROM orders"))
        ).scalar()
        return [Finding(f"{count} orders")]

    async with read_only_snapshots(databases.urls) as snapshots:
        report = await run_checks(
            AuditContext(snapshots, AuditOptions(now=rows.ago(seconds=0))),
            [AuditCheck("broken", "fails", broken), AuditCheck("counting", "works", counting)],
        )
    assert report.errors[0][0] == "broken"
    assert "no_such_column" in report.errors[0][1]
    assert [finding.message for _, finding in report.violations] == ["0 orders"]


async def test_units_held_for_a_draft_that_gave_them_up_are_reported(databases: ServiceDatabases) -> None:
    await _a_healthy_shop(databases)
    await databases.execute(
        "orders",
        *rows.draft_with_customer(
            "d-deleted", status="deleted", reservation_id="r-gone", reservation_status="released"
        ),
        *rows.draft_with_customer(
            "d-open", status="open", reservation_id="r-kept", reservation_status="held", earlier=("r-old",)
        ),
    )
    await databases.execute(
        "catalog",
        *rows.product_with_stock("DRAFTED", on_hand=10, reserved=5),
        rows.reservation("r-gone", "DRAFTED", 2),
        rows.reservation("r-kept", "DRAFTED", 3),
    )

    code, output = await _audit(databases)

    assert code == 1, output
    assert "stock.drafts_hold_only_what_they_want" in output
    assert "draft deleted (reservation released) but catalog still holds 2 unit(s) under r-gone" in output
    assert "draft=d-deleted" in output
    assert "r-kept" not in output
    assert "1 violation(s), 0 waiting, 0 check(s) could not run" in output
