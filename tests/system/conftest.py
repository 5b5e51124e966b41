"""The whole shop as real processes on loopback, with its own databases, vhost, ports and mail folder."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from scripts.stack import SERVICES, Stack, StackConfig, running
from shop_runtime.clock import set_file_clock_offset
from tests.support import infra, stack_state

pytestmark = pytest.mark.system

SYSTEM_VHOST = f"{infra.TEST_VHOST}_system"
STAFF_KEY = "staff-key-for-system-tests"
WAREHOUSE_KEY = "warehouse-key-for-system-tests"
PSP_WEBHOOK_SECRET = "whsec-system-tests-5f1d2c9e8b7a"
WAREHOUSE_SIGNING_SECRET = "warehouse-signing-system-tests-3e8a61"
QUICK_POLLS = {
    **{f"SHOP_{service.upper()}_SCHEDULER_POLL_SECONDS": "0.25" for service in SERVICES},
    "SHOP_NOTIFICATIONS_SENDER_POLL_SECONDS": "0.25",
}
"""A test stack's schedules and email sender look for due work four times a second (a second in production):
a test waiting for a reminder, a charge at its time or an email waits for one of these polls."""


# Package scope: the shop stops once the last system test is done, rather than idling through the rest of the
# session (its processes poll, and hold PostgreSQL connections that the server shares with other sessions).
@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    infra.reset_vhost(SYSTEM_VHOST)
    var = tmp_path_factory.mktemp("shop")
    config = StackConfig(
        postgres=infra.POSTGRES,
        database_prefix=f"shop_test{infra.RUN_SUFFIX}_system_",
        amqp_url=infra.amqp_url(SYSTEM_VHOST),
        gateway_port=infra.PORT_BASE,
        first_service_port=infra.PORT_BASE + 101,
        smtp_port=infra.PORT_BASE + 25,
        var=var,
        test_clock_file=var / "clock-offset",
        staff_api_key=STAFF_KEY,
        warehouse_api_key=WAREHOUSE_KEY,
        psp_webhook_secret=PSP_WEBHOOK_SECRET,
        warehouse_signing_secret=WAREHOUSE_SIGNING_SECRET,
        retry_delays_ms="[100, 300, 1000]",
        extra_env={"OTEL_BSP_SCHEDULE_DELAY": "200", **QUICK_POLLS},
    )
    asyncio.run(infra.drop_databases(config.database_url(service) for service in SERVICES))
    with running(config) as stack:
        yield stack
    asyncio.run(infra.drop_databases(config.database_url(service) for service in SERVICES))
    infra.delete_vhost(SYSTEM_VHOST)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed system test's report says what the shop was doing: its jobs, outboxes, emails, queues and logs."""
    report: pytest.TestReport = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.when == "call" and report.failed and isinstance(stack, Stack):
        state = stack_state.describe(
            stack, since=call.start, vhost=SYSTEM_VHOST, rabbitmqctl=infra.run_rabbitmqctl
        )
        report.sections.append(("what the shop was doing", state))
    return report


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def mail_dir(stack: Stack) -> Path:
    return stack.config.mail_dir


@pytest.fixture
def clock(stack: Stack) -> Iterator[Callable[[timedelta], None]]:
    """Move the whole shop's time by an offset from now; put back at the end of the test."""
    assert stack.config.test_clock_file is not None
    path = str(stack.config.test_clock_file)

    def move(offset: timedelta) -> None:
        set_file_clock_offset(path, offset)

    yield move
    set_file_clock_offset(path, timedelta())
