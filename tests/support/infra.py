"""Test access to the real PostgreSQL and RabbitMQ: isolated databases and a vhost of their own."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from shop_runtime.migrations import migrate
from shop_runtime.service import ServiceDefinition
from shop_runtime.settings import ServiceSettings

POSTGRES = os.environ.get("SHOP_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432")
RABBITMQ = os.environ.get("SHOP_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672")
TEST_VHOST = os.environ.get("SHOP_TEST_VHOST", "shop_test")
RUN_SUFFIX = os.environ.get("SHOP_TEST_RUN", "")
"""Set SHOP_TEST_RUN (and SHOP_TEST_VHOST, SHOP_TEST_PORT_BASE) to run two test sessions side by side."""
PORT_BASE = int(os.environ.get("SHOP_TEST_PORT_BASE", "18000"))

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def amqp_url(vhost: str = TEST_VHOST) -> str:
    return f"{RABBITMQ}/{vhost}"


def database_url(service: str, suffix: str = "") -> str:
    return f"{POSTGRES}/shop_test_{service}{RUN_SUFFIX}{suffix}"


def rabbitmqctl() -> str:
    return shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


def reset_vhost(vhost: str = TEST_VHOST) -> None:
    """Start from an empty vhost: no queues or messages left by an earlier run."""
    ctl = rabbitmqctl()
    subprocess.run([ctl, "-q", "delete_vhost", vhost], capture_output=True, check=False)
    subprocess.run([ctl, "-q", "add_vhost", vhost], capture_output=True, check=True)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        capture_output=True,
        check=True,
    )


def delete_vhost(vhost: str = TEST_VHOST) -> None:
    subprocess.run([rabbitmqctl(), "-q", "delete_vhost", vhost], capture_output=True, check=False)


async def drop_database(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    finally:
        await connection.close()


def service_settings(definition: ServiceDefinition, *, suffix: str = "", **overrides: Any) -> ServiceSettings:
    """Settings for a service under test: its own test database, the test vhost, quick retries."""
    values: dict[str, Any] = {
        "database_url": database_url(definition.name, suffix),
        "amqp_url": amqp_url(),
        "retry_delays_ms": [50, 100, 200],
        "relay_idle_poll_seconds": 0.2,
        "shutdown_grace_seconds": 5,
    }
    values.update(overrides)
    return definition.settings_class(**values)


async def fresh_database(definition: ServiceDefinition, settings: ServiceSettings) -> None:
    """Drop the service's test database and migrate a new one."""
    await drop_database(settings.database_url)
    await asyncio.to_thread(migrate, settings, definition.migrations_path)
