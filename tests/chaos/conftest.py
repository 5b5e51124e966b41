"""The chaos suite's shops: real processes on loopback with databases, vhost and ports of their own.

Names never collide with tests/system: databases ``shop_test_chaos_*``, vhost ``shop_test_chaos``, ports
from 38000 (the StackConfig is built here, explicitly, so importing this module changes no one's env).
The suite only runs when asked for by path (``pytest tests/chaos``, ``make chaos``) or with SHOP_CHAOS=1:
a plain ``pytest tests`` skips it (it restarts the shared RabbitMQ and PostgreSQL).
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
from tests.support import infra

CHAOS_RUN = "_chaos"
CHAOS_VHOST = "shop_test_chaos"
CHAOS_PORT_BASE = 38000
STAFF_KEY = "staff-key-for-chaos-tests"
WAREHOUSE_KEY = "warehouse-key-for-chaos-tests"
RETRY_DELAYS_MS = "[100, 300, 800]"
CHAOS_DIR = Path(__file__).resolve().parent


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
        for line in summary_lines():
            terminalreporter.write_line(line)


def chaos_config(var: Path, *, replicas: int) -> StackConfig:
    # PostgreSQL is shared (max_connections 100): at most 4 connections per process and pool.
    pool = {f"SHOP_{service.upper()}_DATABASE_POOL_SIZE": "2" for service in SERVICES}
    quick = {f"SHOP_{service.upper()}_RELAY_IDLE_POLL_SECONDS": "0.5" for service in SERVICES}
    grace = {f"SHOP_{service.upper()}_SHUTDOWN_GRACE_SECONDS": "5" for service in SERVICES}
    return StackConfig(
        postgres=infra.POSTGRES,
        database_prefix=f"shop_test{CHAOS_RUN}_" if replicas == 1 else f"shop_test{CHAOS_RUN}_r{replicas}_",
        amqp_url=infra.amqp_url(CHAOS_VHOST),
        gateway_port=CHAOS_PORT_BASE,
        first_service_port=CHAOS_PORT_BASE + 101,
        smtp_port=CHAOS_PORT_BASE + 25,
        var=var,
        staff_api_key=STAFF_KEY,
        warehouse_api_key=WAREHOUSE_KEY,
        retry_delays_ms=RETRY_DELAYS_MS,
        replicas=replicas,
        extra_env={**pool, **quick, **grace},
    )


class Shops:
    """At most one chaos shop runs at a time (the machine has two cores): asking for another stops the first."""

    def __init__(self, var: Path) -> None:
        self.var = var
        self.current: Stack | None = None

    def get(self, replicas: int) -> Stack:
        if self.current is not None and self.current.config.replicas == replicas:
            return self.current
        self.close()
        config = chaos_config(self.var / f"replicas-{replicas}", replicas=replicas)
        infra.reset_vhost(CHAOS_VHOST)
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
def shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shops]:
    shops = Shops(tmp_path_factory.mktemp("chaos"))
    try:
        yield shops
    finally:
        shops.close()
        infra.delete_vhost(CHAOS_VHOST)


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
