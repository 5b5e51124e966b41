"""Driving the running bench stack through its gateway: seeding products and placing orders open-loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.infra import STAFF_KEY
from bench.stats import open_loop_schedule
from shop_storefront import Retry, Staff, Storefront, Variant, checkout

SEEDING = Retry(within=15, pause=1.0, server_errors=True)
"""Staff's calls while seeding are sent again through 5xx and transport errors (a loaded 2-core machine times out
now and then)."""


def client(base_url: str, connections: int = 256) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(60.0, pool=None),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


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
    created = await Staff(gateway, STAFF_KEY, retry=SEEDING).create_product(
        title="Bench tee", variants=[Variant(sku)]
    )
    if created.status_code not in (201, 409):
        raise RuntimeError(f"creating {sku} answered {created.status_code}")
    # Not sent again blindly: stock is looked at first, as an adjustment that timed out may have taken effect.
    adjusting = Staff(gateway, STAFF_KEY)
    for attempt in range(6):
        if await on_hand(sku) >= units:
            break
        try:
            await adjusting.adjust_inventory(sku, units)
        except httpx.HTTPError:
            await asyncio.sleep(0.5 * (attempt + 1))
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
    """503 ``busy`` answers this buyer got (and came back after ``Retry-After``, as a storefront does); wrk's
    buyers come back after any 429 or 503."""
    not_busy: int = 0
    """Of the answers the buyer came back after, those that were not ``busy`` (wrk's buyers only)."""


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
    storefront = Storefront(
        gateway, retry=Retry(within=COME_BACK_FOR, pause=1.0), in_flight=asyncio.Semaphore(connections)
    )

    async def one(index: int, placed: Placed) -> None:
        try:
            answered = await storefront.place(checkout(skus[index % len(skus)]))
            placed.status, placed.turned_away = answered.status_code, answered.turned_away
            if answered.accepted:
                placed.order_id, placed.access_token = answered.order_id, answered.access_token
            else:
                placed.error = answered.response.text[:200]
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
