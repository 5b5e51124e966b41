"""``jobs list`` and ``jobs run-again`` against real service databases: a parked job is listed with its error
and, run again, is due now with a fresh set of attempts."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from shop_ops.cli import run
from shop_orders.bootstrap import DEFINITION as ORDERS
from tests.integration.ops import rows
from tests.integration.ops.conftest import ServiceDatabases

pytestmark = pytest.mark.integration

JOBS = ORDERS.metadata.tables["scheduled_jobs"]


async def _cli(databases: ServiceDatabases, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run(list(argv), settings=databases.settings(), stdout=out)
    return code, out.getvalue()


async def test_a_parked_job_is_listed_with_its_error_and_runs_again_when_asked(
    databases: ServiceDatabases,
) -> None:
    parked_at = rows.ago(minutes=3)
    await databases.execute(
        "orders",
        sa.insert(JOBS).values(
            kind="charge_scheduled_balance",
            key="charge_scheduled_balance:g-1",
            due_at=rows.ago(hours=2),
            payload={"order_id": "o-1", "group_id": "g-1"},
            attempts=8,
            last_error="ConnectionError: the PSP is down\nTraceback ...",
            done_at=parked_at,
            parked_at=parked_at,
        ),
        sa.insert(JOBS).values(
            kind="remind_balance",
            key="remind_balance:g-2",
            due_at=rows.ago(hours=1),
            payload={},
            done_at=parked_at,
        ),
    )

    code, output = await _cli(databases, "jobs", "list")

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "catalog: 0 parked job(s)"
    assert lines[1] == "orders: 1 parked job(s)"
    assert lines[2] == (
        f"  charge_scheduled_balance:g-1  charge_scheduled_balance  attempts=8  parked_at={parked_at.isoformat()}"
    )
    assert lines[3].strip() == "ConnectionError: the PSP is down"

    before = datetime.now(UTC)
    code, output = await _cli(databases, "jobs", "run-again", "orders", "charge_scheduled_balance:g-1")
    assert (code, output) == (0, "orders: charge_scheduled_balance:g-1 runs again now\n")
    async with databases.engines["orders"].connect() as connection:
        job = (
            await connection.execute(sa.select(JOBS).where(JOBS.c.key == "charge_scheduled_balance:g-1"))
        ).one()
    assert (job.parked_at, job.done_at, job.attempts) == (None, None, 0)
    assert job.due_at >= before

    code, output = await _cli(
        databases, "jobs", "run-again", "orders", "remind_balance:g-2"
    )  # done, not parked
    assert (code, output) == (1, "orders: no parked job remind_balance:g-2\n")
