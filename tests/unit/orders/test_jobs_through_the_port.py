"""Orders schedules, moves and cancels its jobs only through the unit of work's schedule (``uow.jobs``), never
with ``shop_runtime.scheduling``'s functions over the session: so every handler that schedules a job runs with
the fake unit of work in the unit tests. This test reads orders' code for a way around it."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ORDERS = ROOT / "services/orders/src/shop_orders"
STEPS = {"schedule", "reschedule", "cancel"}
TABLE_MODULE = ORDERS / "core/tables.py"
"""Where orders' ``scheduled_jobs`` table is made; only the runtime's port writes to it."""


def sources() -> list[Path]:
    return sorted(path for path in ORDERS.rglob("*.py") if "migrations" not in path.parts)


def around_the_port(path: Path) -> list[str]:
    """Each place in ``path`` that reaches the schedule some other way than ``uow.jobs``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in STEPS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "scheduling"
        ):
            found.append(f"{node.lineno}: scheduling.{node.func.attr}(...)")
        elif isinstance(node, ast.ImportFrom) and node.module == "shop_runtime.scheduling":
            found += [f"{node.lineno}: imports {alias.name}" for alias in node.names if alias.name in STEPS]
        elif isinstance(node, ast.Name) and node.id == "scheduled_jobs" and path != TABLE_MODULE:
            found.append(f"{node.lineno}: uses the scheduled_jobs table")
        elif isinstance(node, ast.alias) and node.name == "scheduled_jobs" and path != TABLE_MODULE:
            found.append(f"{node.lineno}: imports the scheduled_jobs table")
    return sorted(found, key=lambda place: int(place.split(":")[0]))


def test_orders_reaches_its_schedule_only_through_the_unit_of_work() -> None:
    assert len(sources()) > 50, "orders' code was not found"
    outside = [f"{path.relative_to(ROOT)}:{place}" for path in sources() for place in around_the_port(path)]
    assert outside == [], (
        "schedule, move or cancel a job with uow.jobs (shop_runtime.scheduling.ScheduledJobs)"
    )


def test_the_steps_that_schedule_jobs_still_do_so_through_the_port() -> None:
    calls = {
        path.relative_to(ORDERS).as_posix()
        for path in sources()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in STEPS
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "jobs"
    }
    assert {
        "core/jobs.py",
        "payment/balances.py",
        "payment/terms.py",
        "cancellation/handlers.py",
        "drafts/handlers.py",
        "drafts/reservations.py",
        "drafts/completion.py",
    } <= calls
