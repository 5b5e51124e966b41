"""What a running test shop was doing when a system test failed: read from its databases, queues and logs.

A system test that waits for something (an email, a status) and times out says only that it did not come. This
says where the work was: jobs due but not run, rows not yet published, emails waiting, messages in queues, and
each process's warnings and last lines of the test's window. It is attached to the failure's report, so a
flaky run in CI can be read after the stack is gone.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from scripts.stack import SERVICES, Stack

LOG_LINES = 6
"""Each process's last lines of the test's window, besides all its warnings and errors in that window."""

WARNINGS = 12
"""At most this many warnings and errors per process (the latest)."""


def describe(stack: Stack, *, since: float, vhost: str, rabbitmqctl: Callable[..., str]) -> str:
    """The shop's state now, and its processes' logs since ``since`` (a Unix time), as plain text."""
    offset = _clock_offset(stack.config.test_clock_file)
    parts = [
        f"the shop's clock: {offset} ahead of this machine's" if offset else "the shop's clock: not moved"
    ]
    parts += _in_thread(lambda: asyncio.run(_databases(stack, offset)))
    parts.append(_queues(vhost, rabbitmqctl))
    parts += _logs(stack.config.log_dir, since)
    return "\n".join(parts)


def _in_thread(work: Callable[[], list[str]]) -> list[str]:
    """Run ``work`` in a thread of its own: the hook that asks may be called while an event loop runs."""
    result: list[str] = []

    def run() -> None:
        try:
            result.extend(work())
        except Exception as error:  # the report must still be written
            result.append(f"(the databases could not be read: {type(error).__name__}: {error})")

    thread = threading.Thread(target=run, name="stack-state")
    thread.start()
    thread.join(timeout=30)
    return result or ["(the databases did not answer within 30 s)"]


def _clock_offset(path: Path | None) -> timedelta:
    if path is None or not path.exists():
        return timedelta()
    text = path.read_text(encoding="utf-8").strip()
    return timedelta(seconds=float(text or 0))


async def _databases(stack: Stack, offset: timedelta) -> list[str]:
    shop_now = datetime.now(UTC) + offset
    lines = []
    for service in SERVICES:
        url = stack.config.database_url(service).replace("postgresql+asyncpg://", "postgresql://", 1)
        connection = await asyncpg.connect(url, timeout=10)
        try:
            lines.append(f"{service}: " + "; ".join(await _service_state(connection, shop_now)))
        finally:
            await connection.close()
    return lines


async def _service_state(connection: asyncpg.Connection, shop_now: datetime) -> list[str]:
    state = []
    outbox = await connection.fetchrow(
        "SELECT count(*) AS rows, min(created_at) AS oldest FROM outbox WHERE published_at IS NULL"
    )
    state.append(f"outbox {outbox['rows']} unpublished" + _since(outbox["oldest"]))
    if await _has_table(connection, "scheduled_jobs"):
        jobs = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE done_at IS NULL AND due_at <= $1) AS due,"
            " min(due_at) FILTER (WHERE done_at IS NULL AND due_at <= $1) AS oldest_due,"
            " count(*) FILTER (WHERE done_at IS NULL AND due_at > $1) AS later,"
            " count(*) FILTER (WHERE done_at > $1 - interval '2 minutes') AS run_lately,"
            " count(*) FILTER (WHERE attempts > 1 AND done_at IS NULL) AS failing"
            " FROM scheduled_jobs",
            shop_now,
        )
        state.append(
            f"jobs due and not run {jobs['due']}"
            + (
                f" (oldest due {jobs['oldest_due']:%Y-%m-%d %H:%M:%S} shop time)"
                if jobs["oldest_due"]
                else ""
            )
            + f", run in the last 2 shop minutes {jobs['run_lately']}, waiting {jobs['later']},"
            f" failing {jobs['failing']}"
        )
    if await _has_table(connection, "notifications"):
        emails = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE status = 'pending') AS pending,"
            " count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now()) AS due,"
            " min(next_attempt_at) FILTER (WHERE status = 'pending') AS next"
            " FROM notifications WHERE channel = 'email'"
        )
        state.append(
            f"emails pending {emails['pending']} (due {emails['due']})"
            + (f", the next at {emails['next']:%H:%M:%S}" if emails["next"] else "")
        )
    return state


async def _has_table(connection: asyncpg.Connection, name: str) -> bool:
    return bool(await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", name))


def _since(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f" (oldest {(datetime.now(UTC) - moment).total_seconds():.1f} s old)"


def _queues(vhost: str, rabbitmqctl: Callable[..., str]) -> str:
    try:
        listed = rabbitmqctl(
            "-q", "list_queues", "-p", vhost, "name", "messages_ready", "messages_unacknowledged", "consumers"
        )
    except Exception as error:
        return f"queues: could not be listed ({type(error).__name__}: {error})"
    busy = []
    for line in listed.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[1:3] != ["0", "0"] and fields[1].isdigit():
            busy.append(f"{fields[0]} ready {fields[1]} unacked {fields[2]} consumers {fields[3]}")
    return "queues with messages: " + ("; ".join(busy) if busy else "none")


def _logs(directory: Path, since: float) -> list[str]:
    lines = []
    since = float(int(since))  # the records' times are whole seconds
    for path in sorted(directory.glob("*.log")):
        window, warnings = [], []
        for entry in _entries(path):
            if entry.get("_unix", 0) < since:
                continue
            window.append(entry)
            if entry.get("level") in {"WARNING", "ERROR", "CRITICAL"}:
                warnings.append(entry)
        lines.append(f"--- {path.stem}: {len(window)} lines in the test's window, {len(warnings)} warnings")
        shown = warnings[-WARNINGS:] + [entry for entry in window[-LOG_LINES:] if entry not in warnings]
        lines += [_line(entry) for entry in shown]
    return lines


def _entries(path: Path) -> list[dict[str, Any]]:
    entries = []
    with path.open(encoding="utf-8", errors="replace") as file:
        for text in file:
            try:
                entry = json.loads(text)
                entry["_unix"] = datetime.strptime(entry["time"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
            except (ValueError, KeyError, TypeError):
                continue  # a line that is not one of the shop's JSON records (a child's stray output)
            entries.append(entry)
    return entries


def _line(entry: dict[str, Any]) -> str:
    message = str(entry.get("message", ""))[:300]
    error = str(entry.get("exception", "")).strip().splitlines()[-1:] if entry.get("exception") else []
    return f"  {entry.get('time')} {entry.get('level')} {entry.get('logger')}: {message}" + (
        f" [{error[0][:200]}]" if error else ""
    )
