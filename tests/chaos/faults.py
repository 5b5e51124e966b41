"""Faults on the machine's own servers (only with SHOP_CHAOS_SHARED_SERVERS=1, see servers.py): restart
RabbitMQ's app and PostgreSQL, always putting them back."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from tests.support import infra


def _run(*command: str, timeout: float = 120) -> None:
    subprocess.run(list(command), capture_output=True, text=True, check=True, timeout=timeout)


def rabbit_stop_app() -> None:
    _run(infra.rabbitmqctl(), "-q", "stop_app")


def rabbit_start_app() -> None:
    """Start the app (idempotent) and wait until the broker serves."""
    _run(infra.rabbitmqctl(), "-q", "start_app")
    _run(infra.rabbitmqctl(), "-q", "await_startup", timeout=180)


def postgres_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[0]


def _pg_ctlcluster() -> str:
    return shutil.which("pg_ctlcluster") or "/usr/bin/pg_ctlcluster"


def postgres_ready() -> bool:
    return (
        subprocess.run(
            ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False, capture_output=True
        ).returncode
        == 0
    )


def postgres_restart() -> None:
    _run(_pg_ctlcluster(), "--skip-systemctl-redirect", postgres_version(), "main", "restart")


def postgres_ensure_running(timeout: float = 60) -> None:
    """Start PostgreSQL if it is not running, and wait until it answers."""
    if not postgres_ready():
        subprocess.run(
            [_pg_ctlcluster(), "--skip-systemctl-redirect", postgres_version(), "main", "start"],
            capture_output=True,
            check=False,
        )
    deadline = time.monotonic() + timeout
    while not postgres_ready():
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.2)
