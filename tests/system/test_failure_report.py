"""What a failed system test's report adds: the shop's state and its processes' logs, read while it runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta

import httpx

from scripts.stack import SERVICES, Stack
from tests.support import infra, stack_state
from tests.support.messages import eventually
from tests.system.conftest import SYSTEM_VHOST


async def test_the_report_of_a_failure_says_what_each_service_was_doing(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    started = time.time()
    assert (await gateway.get("/v1/products/deadbeef-feed-4bad-8ace-cafef00dcafe")).status_code == 404
    clock(timedelta(minutes=1))

    async def described() -> str:
        return await asyncio.to_thread(
            stack_state.describe, stack, since=started, vhost=SYSTEM_VHOST, rabbitmqctl=infra.run_rabbitmqctl
        )

    async def logged() -> None:  # the gateway writes its access log line once the answer has gone
        assert "GET /v1/products/deadbeef-feed-4bad-8ace-cafef00dcafe 404" in await described()

    await eventually(logged, timeout=10)
    lines = (await described()).splitlines()
    assert lines[0] == "the shop's clock: 0:01:00 ahead of this machine's"
    by_service = {line.split(":")[0]: line for line in lines if line.split(":")[0] in SERVICES}
    assert sorted(by_service) == sorted(SERVICES)
    assert all(" unpublished" in line for line in by_service.values())
    assert "jobs due and not run" in by_service["orders"]
    assert "emails pending" in by_service["notifications"]
    assert any(line.startswith("queues with messages: ") for line in lines)
    gateway_log = next(line for line in lines if line.startswith("--- gateway:"))
    assert " lines in the test's window" in gateway_log
