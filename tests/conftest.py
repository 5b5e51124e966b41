"""Fixtures shared by every test layer, and where the session's PostgreSQL and RabbitMQ come from."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_runtime.broker import connect
from tests.support import infra, servers
from tests.support.messages import MessageProbe

TESTS = Path(__file__).resolve().parent
NEEDS_SERVERS = (TESTS / "integration", TESTS / "system", TESTS / "browser")
SESSION_SERVERS = pytest.StashKey[servers.SessionServers]()
MISSING_SERVERS = pytest.StashKey[str]()


def decide_servers(config: pytest.Config) -> None:
    """Decide the session's servers once, and start the containers that asks for."""
    if SESSION_SERVERS in config.stash or MISSING_SERVERS in config.stash:
        return
    try:
        config.stash[SESSION_SERVERS] = servers.start_session_servers(os.environ)
    except servers.NoTestServers as missing:
        config.stash[MISSING_SERVERS] = str(missing)
        return
    except Exception as error:
        # A container that would not start: told once, not tried again for every module.
        config.stash[MISSING_SERVERS] = f"The test servers' containers did not start: {error!r}"
        return
    infra.use_servers(config.stash[SESSION_SERVERS])


def stop_if_missing(config: pytest.Config) -> None:
    if MISSING_SERVERS in config.stash:
        pytest.exit(config.stash[MISSING_SERVERS], returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_collectstart(collector: pytest.Collector) -> None:
    # Before the first integration or system module is imported: some read the URLs at import. Unit-only and
    # chaos sessions never get here, so they need neither servers nor Docker.
    path = collector.path
    if any(layer == path or layer in path.parents for layer in NEEDS_SERVERS):
        decide_servers(collector.config)


def pytest_collection_finish(session: pytest.Session) -> None:
    # Missing servers end the session here rather than in the middle of collecting, where pytest would bury
    # the message under a collection error's tracebacks.
    stop_if_missing(session.config)


def pytest_report_collectionfinish(config: pytest.Config) -> str | None:
    if SESSION_SERVERS in config.stash and (choice := config.stash[SESSION_SERVERS].choice) is not None:
        return f"test servers: {choice.describe()}"
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    asyncio.run(infra.drop_session_databases())
    if SESSION_SERVERS in config.stash:
        config.stash[SESSION_SERVERS].stop()


@pytest.fixture(scope="session")
def test_vhost(request: pytest.FixtureRequest) -> Iterator[str]:
    decide_servers(request.config)
    stop_if_missing(request.config)
    infra.reset_vhost()
    yield infra.TEST_VHOST
    infra.delete_vhost()


@pytest.fixture(scope="session")
async def broker(test_vhost: str) -> AsyncIterator[AbstractRobustConnection]:
    connection = await connect(infra.amqp_url(test_vhost))
    yield connection
    await connection.close()


@pytest.fixture
async def probe(broker: AbstractRobustConnection) -> AsyncIterator[MessageProbe]:
    probe = await MessageProbe(broker).start()
    yield probe
    await probe.stop()
