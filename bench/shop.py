"""Driving the running bench stack through its gateway: seeding products and placing orders open-loop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.infra import STAFF_KEY
from bench.stats import open_loop_schedule

STAFF = {"X-Api-Key": STAFF_KEY}
ADDRESS = {"name": "김민수", "line1": "테헤란로 1", "city": "Seoul", "postal_code": "06236", "country": "KR"}


def client(base_url: str, connections: int = 256) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(60.0, pool=None),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


def checkout_body(sku: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "email": f"buyer-{uuid.uuid4().hex[:10]}@example.com",
        "locale": "ko",
        "currency": "KRW",
        "lines": [{"sku": sku, "quantity": quantity}],
        "shipping_address": dict(ADDRESS),
        "shipping_method": "standard",
        "payment": {"token": "tok_visa"},
    }


async def _post(gateway: httpx.AsyncClient, path: str, body: dict[str, Any], ok: tuple[int, ...]) -> int:
    """POST with a few retries on 5xx and transport errors (a loaded 2-core machine times out now and then)."""
    status = 0
    for attempt in range(6):
        try:
            response = await gateway.post(path, headers=STAFF, json=body)
            status = response.status_code
            if status in ok or status < 500:
                return status
        except httpx.HTTPError:
            status = 0
        await asyncio.sleep(0.5 * (attempt + 1))
    return status


async def seed_product(
    gateway: httpx.AsyncClient,
    orders_url: str,
    *,
    sku: str,
    units: int,
    on_hand: Callable[[str], Awaitable[int]],
) -> None:
    """Create a product with ``units`` in stock at seoul-1 and wait until orders prices it.

    ``on_hand`` reads catalog's stock, so an adjustment that timed out but took effect is not applied twice.
    """
    product = {
        "title": "Bench tee",
        "variants": [
            {"sku": sku, "options": {"size": "M"}, "prices": [{"currency": "KRW", "amount": 39000}]}
        ],
    }
    status = await _post(gateway, "/v1/admin/products", product, (201, 409))
    if status not in (201, 409):
        raise RuntimeError(f"creating {sku} answered {status}")
    adjustment = {"sku": sku, "location": "seoul-1", "delta": units, "reason": "received"}
    for _ in range(6):
        if await on_hand(sku) >= units:
            break
        await _post(gateway, "/v1/admin/inventory/adjustments", adjustment, (201,))
    if await on_hand(sku) != units:
        raise RuntimeError(f"{sku} has {await on_hand(sku)} units on hand, not {units}")
    async with httpx.AsyncClient(base_url=orders_url, timeout=10) as orders:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (await orders.get(f"/variants/{sku}")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"orders never heard of {sku}")
            await asyncio.sleep(0.2)


@dataclass
class Placed:
    """One buyer: when they were scheduled to arrive, the HTTP answer and its time (monotonic)."""

    scheduled: float
    answered: float = 0.0
    status: int = 0
    order_id: str | None = None
    access_token: str | None = None
    error: str | None = None
    turned_away: int = 0
    """503 ``busy`` answers this buyer got (and came back after ``Retry-After``, as a storefront does)."""


@dataclass
class LoadResult:
    placed: list[Placed] = field(default_factory=list)
    started: float = 0.0
    last_arrival_late_by: float = 0.0
    """How late the generator fired the last arrival (a saturated generator shows here)."""


COME_BACK_FOR = 120.0
"""How long a buyer told 503 ``busy`` keeps coming back (after each Retry-After) before giving up."""


async def open_loop(
    gateway: httpx.AsyncClient, *, rate: float, duration: float, skus: list[str], connections: int = 200
) -> LoadResult:
    """Fire one checkout at each scheduled instant regardless of answers (open loop); wait for every HTTP answer.

    A buyer answered 503 ``busy`` (the gateway's admission control) sends the same checkout with the same key
    again after Retry-After, for up to ``COME_BACK_FOR`` seconds; their answer time counts from the first try."""
    schedule = open_loop_schedule(rate, duration)
    result = LoadResult(started=time.monotonic())
    tasks: list[asyncio.Task[None]] = []
    # At most as many requests in flight as the client has connections: httpx's pool slows down quadratically
    # with thousands of queued requests. A buyer waiting here still counts from their scheduled arrival.
    slots = asyncio.Semaphore(connections)

    async def one(index: int, placed: Placed) -> None:
        body = checkout_body(skus[index % len(skus)])
        key = str(uuid.uuid4())
        try:
            while True:
                async with slots:
                    response = await gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
                if not _busy(response) or time.monotonic() - placed.scheduled > COME_BACK_FOR:
                    break
                placed.turned_away += 1
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            placed.status = response.status_code
            if response.status_code == 202:
                data = response.json()
                placed.order_id = str(data["id"])
                placed.access_token = data.get("access_token")
            else:
                placed.error = response.text[:200]
        except httpx.HTTPError as error:
            placed.error = f"{type(error).__name__}: {error}"
        placed.answered = time.monotonic()

    for index, offset in enumerate(schedule):
        at = result.started + offset
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        placed = Placed(scheduled=at)
        result.placed.append(placed)
        tasks.append(asyncio.create_task(one(index, placed)))
    if schedule:
        result.last_arrival_late_by = max(time.monotonic() - (result.started + schedule[-1]), 0.0)
    await asyncio.gather(*tasks)
    return result


def _busy(response: httpx.Response) -> bool:
    return response.status_code == 503 and '"busy"' in response.text
