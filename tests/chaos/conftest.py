"""The chaos suite's shops: real processes on loopback, on a PostgreSQL cluster and a RabbitMQ node of their own.

The session starts a private PostgreSQL and RabbitMQ (tests/chaos/servers.py) that the faults restart, so the
machine's servers and anyone's tests on them are never touched. Ports start at SHOP_CHAOS_PORT_BASE (by default
SHOP_TEST_PORT_BASE + 6000: 24000, below the system's ephemeral source ports, 32768 and up, which any outgoing
connection may hold) and never collide with tests/system (18000) or the bench (28000); the StackConfig is built here,
explicitly, so importing this module changes no one's env. The suite only runs when asked for by path
(``pytest tests/chaos``, ``make chaos``) or with SHOP_CHAOS=1: a plain ``pytest tests`` skips it (it takes
minutes).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from scripts.stack import SERVICES, Stack, StackConfig
from tests.chaos.report import REPORTS, summary_lines
from tests.chaos.servers import SHARED_SERVERS, MissingServerBinaries, Servers, activate, deactivate
from tests.support import infra

CHAOS_RUN = "_chaos"
CHAOS_VHOST = "shop_test_chaos"
CHAOS_PORT_BASE = int(os.environ.get("SHOP_CHAOS_PORT_BASE", str(infra.PORT_BASE + 6000)))
STAFF_KEY = "staff-key-for-chaos-tests"
WAREHOUSE_KEY = "warehouse-key-for-chaos-tests"
# Quick, but longer in all (10.5 s) than a PostgreSQL restart takes: a message that fails while the database
# restarts is retried after it is back, not parked (production retries for 36 s).
RETRY_DELAYS_MS = "[500, 2000, 8000]"
CHAOS_DIR = Path(__file__).resolve().parent
# ServiceSettings keeps consumer_concurrency below database_pool_size, so the relay and the background loops
# still get a connection (the pool has no overflow). The pool is sized for all of them at once rather than the
# concurrency lowered: handlers of different orders running side by side in one worker is what the faults are
# to meet. Per worker: every handler in flight, the relay (it holds its connection across the broker's
# confirms), the service's long loop (its schedule, or notifications' email sender) and the short ones (message
# retention, the metrics sampler). The private cluster allows 300 connections: two replicas open at most
# 2 x 5 services x 2 processes x 7 + 10 LISTEN = 150. The machine's PostgreSQL (SHOP_CHAOS_SHARED_SERVERS=1,
# max_connections 100) fits that only with one handler at a time (pool 4): there the concurrency is lowered.
CONSUMER_CONCURRENCY = 1 if SHARED_SERVERS else 4
POOL_SIZE = CONSUMER_CONCURRENCY + 3
SERVERS_USED: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault injection against a whole running shop")


def _asked_for(config: pytest.Config) -> bool:
    if os.environ.get("SHOP_CHAOS") == "1":
        return True
    paths = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    return bool(paths) and all(path == CHAOS_DIR or CHAOS_DIR in path.parents for path in paths)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chaos = [item for item in items if CHAOS_DIR in Path(str(item.fspath)).parents]
    for item in chaos:
        item.add_marker(pytest.mark.chaos)
        if not _asked_for(config):
            item.add_marker(pytest.mark.skip(reason="fault injection runs alone: make chaos"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if REPORTS:
        terminalreporter.section("chaos scenarios")
        for used in SERVERS_USED:
            terminalreporter.write_line(f"servers: {used}")
        for line in summary_lines():
            terminalreporter.write_line(line)


def chaos_config(servers: Servers, var: Path, *, replicas: int) -> StackConfig:
    sizes = {
        f"SHOP_{service.upper()}_{name}": str(value)
        for service in SERVICES
        for name, value in (("CONSUMER_CONCURRENCY", CONSUMER_CONCURRENCY), ("DATABASE_POOL_SIZE", POOL_SIZE))
    }
    quick = {f"SHOP_{service.upper()}_RELAY_IDLE_POLL_SECONDS": "0.5" for service in SERVICES}
    grace = {f"SHOP_{service.upper()}_SHUTDOWN_GRACE_SECONDS": "5" for service in SERVICES}
    return StackConfig(
        postgres=servers.postgres_url,
        database_prefix=f"shop_test{CHAOS_RUN}_" if replicas == 1 else f"shop_test{CHAOS_RUN}_r{replicas}_",
        amqp_url=servers.amqp_url(CHAOS_VHOST),
        gateway_port=CHAOS_PORT_BASE,
        first_service_port=CHAOS_PORT_BASE + 101,
        smtp_port=CHAOS_PORT_BASE + 25,
        var=var,
        staff_api_key=STAFF_KEY,
        warehouse_api_key=WAREHOUSE_KEY,
        retry_delays_ms=RETRY_DELAYS_MS,
        replicas=replicas,
        extra_env={**sizes, **quick, **grace},
    )


class Shops:
    """At most one chaos shop runs at a time (the machine has two cores): asking for another stops the first."""

    def __init__(self, servers: Servers, var: Path) -> None:
        self.servers = servers
        self.var = var
        self.current: Stack | None = None

    def get(self, replicas: int) -> Stack:
        if self.current is not None and self.current.config.replicas == replicas:
            return self.current
        self.close()
        config = chaos_config(self.servers, self.var / f"replicas-{replicas}", replicas=replicas)
        self.servers.reset_vhost(CHAOS_VHOST)
        for service in SERVICES:
            asyncio.run(infra.drop_database(config.database_url(service)))
        stack = Stack(config)
        stack.migrate()
        stack.start()
        try:
            stack.wait_ready(120)
        except BaseException:
            stack.stop()
            raise
        self.current = stack
        return stack

    def close(self) -> None:
        if self.current is None:
            return
        config = self.current.config
        self.current.stop()
        self.current = None
        for service in SERVICES:
            asyncio.run(infra.drop_database(config.database_url(service)))


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """The session's PostgreSQL and RabbitMQ, stopped and deleted at its end (also after a failure)."""
    try:
        started = Servers(CHAOS_PORT_BASE)
    except MissingServerBinaries as missing:
        raise RuntimeError(
            f"{missing}: the chaos suite needs them for its private servers; SHOP_CHAOS_SHARED_SERVERS=1 runs it"
            " against (and restarts) the machine's PostgreSQL and RabbitMQ instead"
        ) from missing
    activate(started)
    SERVERS_USED.append(started.describe())
    try:
        yield started
    finally:
        deactivate(started)
        started.close()


@pytest.fixture(scope="session")
def shops(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shops]:
    shops = Shops(servers, tmp_path_factory.mktemp("chaos"))
    try:
        yield shops
    finally:
        try:
            shops.close()
        finally:
            servers.delete_vhost(CHAOS_VHOST)


@pytest.fixture
def stack(shops: Shops) -> Stack:
    """One replica of every process."""
    return shops.get(1)


@pytest.fixture
def replica_stack(shops: Shops) -> Stack:
    """Two replicas of every worker, service HTTP process and gateway."""
    return shops.get(2)


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=15) as client:
        yield client
