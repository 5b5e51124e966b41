"""Driving a chaos shop: catalog set-up, many orders at once, settling them, queues, outboxes and the audit."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from scripts.stack import ROOT, SERVICES, Stack
from shop_contracts.routing import parking_queue, service_queue
from shop_storefront import OrderAccess, Retry, Staff, Storefront, Variant
from shop_storefront import Placed as Answered
from tests.chaos import servers
from tests.chaos.conftest import CHAOS_VHOST, STAFF_KEY
from tests.chaos.report import ScenarioReport

FINAL = {"confirmed", "rejected", "cancelled", "delivered", "shipped"}
PRICE = 10000
THROUGH_RESTARTS = Retry(within=60, pause=0.2, server_errors=True)
"""Every call of the suite is sent again through 5xx, 429 and connection errors (a process or a server restarting)."""


def retrying_storefront(gateway: httpx.AsyncClient, *, within: float = THROUGH_RESTARTS.within) -> Storefront:
    return Storefront(gateway, retry=Retry(within=within, pause=THROUGH_RESTARTS.pause, server_errors=True))


def retrying_staff(gateway: httpx.AsyncClient) -> Staff:
    return Staff(gateway, STAFF_KEY, retry=THROUGH_RESTARTS)


async def product_in_stock(gateway: httpx.AsyncClient, *, sku: str, units: int, price: int = PRICE) -> str:
    return await retrying_staff(gateway).product_in_stock(
        Variant(sku, prices={"KRW": price}), units, title="Chaos tee"
    )


async def product_on_preorder(stack: Stack, gateway: httpx.AsyncClient, *, sku: str, cap: int) -> str:
    """A product with no stock, on pre-order (pay now) with ``cap`` places; waits until orders knows."""
    product_id = await product_in_stock(gateway, sku=sku, units=0)
    policy = {"payment_mode": "pay_now", "cap": cap, "expected_ship_date": "2027-01-20"}
    response = await retrying_staff(gateway).set_preorder_policy(sku, policy)
    assert response.status_code == 200, response.text
    orders_url = f"http://127.0.0.1:{stack.config.service_port('orders')}"
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=orders_url) as orders:
        while True:
            view = await orders.get(f"/variants/{sku}")
            if view.status_code == 200 and view.json().get("preorder_policy") is not None:
                return product_id
            assert time.monotonic() < deadline, f"orders never heard of the pre-order policy of {sku}"
            await asyncio.sleep(0.1)


@dataclass
class Placed:
    """An order the suite placed, and how the gateway last showed it to its customer."""

    body: dict[str, Any]
    answered: Answered
    gateway: int = 0
    view: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.answered.order_id

    @property
    def access(self) -> OrderAccess:
        return self.answered.access

    @property
    def status(self) -> str:
        return str(self.view.get("status", "unknown"))

    def succeeded_payments(self) -> list[dict[str, Any]]:
        """Payments that took money and succeeded: a card hold (an authorisation) takes nothing, its capture does."""
        return [
            p
            for p in self.payments.get("items", [])
            if p.get("status") == "succeeded" and p.get("kind") != "authorization"
        ]

    @property
    def payments(self) -> dict[str, Any]:
        """The order's payments as the gateway last showed them ({} while payments could not be reached)."""
        return self.view.get("payments") or {}


async def place(
    gateway: httpx.AsyncClient, body: dict[str, Any], *, key: str | None = None, timeout: float = 90
) -> Placed:
    """Place one order, retrying with the same Idempotency-Key through 5xx, timeouts and unknown SKUs."""
    answered = await retrying_storefront(gateway, within=timeout).place(
        body, key=key, wait_for_new_skus=timeout
    )
    assert answered.accepted, (
        f"checkout {answered.key} answered {answered.status_code}: {answered.response.text}"
    )
    return Placed(body=body, answered=answered)


async def place_many(
    gateways: Sequence[httpx.AsyncClient], bodies: Sequence[dict[str, Any]], *, concurrency: int = 12
) -> list[Placed]:
    """Place every body, ``concurrency`` at a time, alternating between the gateways."""
    limit = asyncio.Semaphore(concurrency)
    chosen = itertools.cycle(range(len(gateways)))

    async def one(body: dict[str, Any], which: int) -> Placed:
        async with limit:
            placed = await place(gateways[which], body)
            placed.gateway = which
            return placed

    return list(await asyncio.gather(*(one(body, next(chosen)) for body in bodies)))


async def view_of(gateway: httpx.AsyncClient, placed: Placed) -> dict[str, Any]:
    return await retrying_storefront(gateway).order(placed.access)


@dataclass
class Settled:
    statuses: Counter[str]
    lost: list[Placed]
    charged_twice: list[Placed]
    seconds: float


async def settle(
    gateway: httpx.AsyncClient,
    orders: Sequence[Placed],
    *,
    timeout: float = 90,
    final: frozenset[str] = frozenset(FINAL),
) -> Settled:
    """Poll every order until it is in a final state (or the deadline); count what was lost or charged twice."""
    started = time.monotonic()
    waiting = list(orders)
    limit = asyncio.Semaphore(16)

    async def refresh(placed: Placed) -> None:
        async with limit:
            placed.view = await view_of(gateway, placed)

    while waiting:
        await asyncio.gather(*(refresh(placed) for placed in waiting))
        # An order is settled once it is final and the gateway could show its payments (under a fault the
        # view may come without them, naming payments in "unavailable").
        waiting = [placed for placed in waiting if placed.status not in final or not placed.payments]
        if not waiting or time.monotonic() - started > timeout:
            break
        await asyncio.sleep(0.5)
    twice = [placed for placed in orders if len(placed.succeeded_payments()) > 1]
    twice += [
        placed
        for placed in orders
        if placed not in twice
        and placed.payments.get("captured", 0) > placed.view.get("totals", {}).get("total", 0)
    ]
    return Settled(
        statuses=Counter(placed.status for placed in orders),
        lost=waiting,
        charged_twice=twice,
        seconds=time.monotonic() - started,
    )


def record(report: ScenarioReport, orders: Sequence[Placed], settled: Settled) -> None:
    report.orders += len(orders)
    report.completed += len(orders) - len(settled.lost)
    report.lost += len(settled.lost)
    report.charged_twice += len(settled.charged_twice)
    report.notes.append(f"statuses {dict(settled.statuses)}; settled in {settled.seconds:.1f}s")


def assert_settled(settled: Settled, *, expect: str = "confirmed", total: int | None = None) -> None:
    lost = [(p.id, p.status, [e.get("event") for e in p.view.get("timeline", [])]) for p in settled.lost]
    assert not lost, f"{len(lost)} order(s) never reached a final state: {lost[:5]}"
    assert not settled.charged_twice, [(p.id, p.view.get("payments")) for p in settled.charged_twice]
    assert set(settled.statuses) == {expect}, dict(settled.statuses)


# --- the broker and the databases, seen from outside -------------------------------------------------


def queue_table(vhost: str = CHAOS_VHOST) -> dict[str, tuple[int, int]]:
    """Every queue of the vhost: (messages ready + unacknowledged, consumers)."""
    listed = servers.active().rabbitmqctl(
        "-q", "list_queues", "-p", vhost, "--no-table-headers", "name", "messages", "consumers", timeout=60
    )
    table = {}
    for line in listed.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[1].isdigit():
            table[parts[0]] = (int(parts[1]), int(parts[2]))
    return table


async def unpublished_outbox(stack: Stack) -> dict[str, int]:
    counts = {}
    for service in SERVICES:
        connection = await asyncpg.connect(plain_url(stack.config.database_url(service)))
        try:
            counts[service] = int(
                await connection.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            )
        finally:
            await connection.close()
    return counts


async def payments_twice(stack: Stack) -> int:
    """Order steps with two successful payments in the payments database."""
    connection = await asyncpg.connect(plain_url(stack.config.database_url("payments")))
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM (SELECT order_id FROM payments WHERE status = 'succeeded'"
                " GROUP BY order_id, step HAVING count(*) > 1) AS twice"
            )
        )
    finally:
        await connection.close()


def plain_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def drained(stack: Stack, *, timeout: float = 90, parked_expected: int = 0) -> None:
    """Wait until every service queue has all its consumers and nothing in it, and every outbox is published."""
    replicas = stack.config.replicas
    deadline = time.monotonic() + timeout
    while True:
        table = await asyncio.to_thread(queue_table)
        problems = []
        for service in SERVICES:
            messages, consumers = table.get(service_queue(service), (-1, 0))
            if consumers < replicas:
                problems.append(f"{service_queue(service)} has {consumers} consumer(s), wants {replicas}")
            if messages != 0:
                problems.append(f"{service_queue(service)} holds {messages} message(s)")
        in_retry = {name: m for name, (m, _) in table.items() if ".retry." in name and m}
        if in_retry:
            problems.append(f"retry queues hold {in_retry}")
        if not problems:
            outbox = await unpublished_outbox(stack)
            if any(outbox.values()):
                problems.append(f"unpublished outbox rows {outbox}")
        if not problems:
            return
        assert time.monotonic() < deadline, f"the backlog did not drain within {timeout}s: {problems}"
        await asyncio.sleep(0.5)


def parked_counts(vhost: str = CHAOS_VHOST) -> dict[str, int]:
    table = queue_table(vhost)
    return {service: table.get(parking_queue(service), (0, 0))[0] for service in SERVICES}


def ops_environment(stack: Stack) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
    for service in SERVICES:
        env[f"SHOP_OPS_{service.upper()}_DATABASE_URL"] = stack.config.database_url(service)
    env["SHOP_OPS_AMQP_URL"] = stack.config.amqp_url
    return env


def ops(stack: Stack, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shop_ops", *arguments],
        env=ops_environment(stack),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )


def audit(stack: Stack, report: ScenarioReport) -> subprocess.CompletedProcess[str]:
    """Run ``python -m shop_ops audit`` against the stack; record the violations; the caller asserts exit 0."""
    result = ops(stack, "audit")
    violations = sum(1 for line in result.stdout.splitlines() if line.startswith("VIOLATION"))
    report.audit_violations = (report.audit_violations or 0) + violations
    if result.returncode == 2:
        report.notes.append("audit: a check could not run")
    return result


def assert_audit_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"audit exit {result.returncode}\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
    )


_BACKGROUND: set[asyncio.Task[Any]] = set()


def background(work: Awaitable[Any]) -> asyncio.Task[Any]:
    """Run ``work`` as a task the caller awaits later (kept referenced until it finishes)."""
    task: asyncio.Task[Any] = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
    return task
