"""Test access to the real PostgreSQL and RabbitMQ: isolated databases and a vhost of their own."""

from __future__ import annotations

import asyncio
import os
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.engine import make_url

from shop_runtime.migrations import migrate
from shop_runtime.service import ServiceDefinition
from shop_runtime.settings import ServiceSettings
from tests.support import servers

_servers = servers.SessionServers.configured(os.environ)
POSTGRES = _servers.postgres
RABBITMQ = _servers.rabbitmq
"""The servers' URLs (no database, no vhost): SHOP_TEST_POSTGRES and SHOP_TEST_RABBITMQ, else loopback, until
``use_servers`` points them at the session's (tests/support/servers.py decides)."""
TEST_VHOST = os.environ.get("SHOP_TEST_VHOST", "shop_test")
RUN_SUFFIX = os.environ.get("SHOP_TEST_RUN", "")
"""Set SHOP_TEST_RUN (and SHOP_TEST_VHOST, SHOP_TEST_PORT_BASE) to run two test sessions side by side."""
PORT_BASE = int(os.environ.get("SHOP_TEST_PORT_BASE", "18000"))

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)


def amqp_url(vhost: str = TEST_VHOST) -> str:
    return f"{RABBITMQ}/{vhost}"


def database_url(service: str, suffix: str = "") -> str:
    return f"{POSTGRES}/shop_test_{service}{RUN_SUFFIX}{suffix}"


def use_servers(session: servers.SessionServers) -> None:
    """Point the URLs and ``run_rabbitmqctl`` at the session's servers, before any test reads them."""
    global POSTGRES, RABBITMQ, _servers
    POSTGRES, RABBITMQ, _servers = session.postgres, session.rabbitmq, session


def rabbitmqctl() -> str:
    """The machine's rabbitmqctl (the chaos suite's shared servers); tests use ``run_rabbitmqctl``."""
    return servers.local_rabbitmqctl()


def run_rabbitmqctl(*arguments: str, check: bool = True) -> str:
    """rabbitmqctl on the session's RabbitMQ node: the machine's, or the same command in its container."""
    return _servers.rabbitmqctl(*arguments, check=check)


def reset_vhost(vhost: str = TEST_VHOST) -> None:
    """Start from an empty vhost: no queues or messages left by an earlier run."""
    run_rabbitmqctl("-q", "delete_vhost", vhost, check=False)
    run_rabbitmqctl("-q", "add_vhost", vhost)
    run_rabbitmqctl("-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")


def delete_vhost(vhost: str = TEST_VHOST) -> None:
    run_rabbitmqctl("-q", "delete_vhost", vhost, check=False)


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
