"""Checkouts driven by wrk through the gateway, each beside the single-process floor of the same run.

- the drop (S2's shape): ``units`` for whoever comes in ``seconds`` from ``connections`` buyers at a time, as
  fast as the gateway answers; what was answered, what catalog holds (oversold), and the CPU per request;
- a sold-out checkout (409 ``sold_out``) and a placed one (202): CPU per request of the gateway, orders' HTTP
  process (the figures the lean HTTP path aims at) and catalog's, which answers each placed checkout's hold;
- the same wrk script against ``bench.direct`` (one process, one transaction), for orders/s and CPU ms per order.

The correctness of the drop (exactly ``units`` confirmed, every buyer answered) is S2's, with the Python client
and the event probe; here the accepted count and catalog's stock are checked as well, by the same rules.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench import direct, wrk
from bench.shop import seed_product
from shop_storefront import Storefront, checkout

HTTP_PROCESSES = ("gateway", "orders-http", "catalog-http")
SOLD_OUT = 409
PLACED = 202


def _pick(pids: dict[str, int], names: tuple[str, ...]) -> dict[str, int]:
    return {name: pids[name] for name in names if name in pids}


async def wait_sold_out_at_checkout(gateway: httpx.AsyncClient, sku: str, timeout: float = 60) -> bool:
    """Whether a checkout of ``sku`` is answered 409 ``sold_out`` at once (orders has heard catalog) in time."""
    storefront = Storefront(gateway)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answered = await storefront.place(checkout(sku))
        if answered.status_code == SOLD_OUT:
            return True
        await asyncio.sleep(0.5)
    return False


async def drop(
    gateway_url: str,
    pids: dict[str, int],
    *,
    sku: str,
    units: int,
    load: wrk.Load,
    stock: Callable[[], Awaitable[tuple[int, int]]],
) -> dict[str, Any]:
    """The drop driven by wrk through the gateway for ``sku`` (seeded with ``units``)."""
    print(
        f"  wrk drop: {units} units, {load.connections} buyers at a time for {load.seconds:.0f}s", flush=True
    )
    result = await wrk.run_async(
        gateway_url, sku=sku, load=load, pids=_pick(pids, HTTP_PROCESSES), label="drop through the gateway"
    )
    on_hand, reserved = await stock()
    accepted = result["statuses"].get(PLACED, 0)
    result |= {
        "units": units,
        "accepted_202": accepted,
        "catalog_on_hand": on_hand,
        "catalog_reserved": reserved,
        "oversold": max(reserved - on_hand, 0),
    }
    return result


async def direct_floor(*, port: int, units: int, drop_load: wrk.Load, load: wrk.Load) -> dict[str, Any]:
    """The single-process checkout: the drop, a sold-out checkout and a placed one, by the same wrk script."""
    url = await direct.prepare("direct", {"DIRECT-PLENTY": 100_000_000, "DIRECT-DROP": units})
    process = await asyncio.to_thread(direct.start, url, port)
    try:
        measured = {"direct checkout": process.pid}
        base = f"http://127.0.0.1:{port}"
        results: dict[str, Any] = {}
        results["drop"] = await wrk.run_async(
            base, sku="DIRECT-DROP", load=drop_load, pids=measured, label="drop, direct floor"
        )
        on_hand, reserved, orders = await direct.counts(url, "DIRECT-DROP")
        results["drop"] |= {"units": units, "orders": orders, "oversold": max(reserved - on_hand, 0)}
        results["sold_out"] = await wrk.run_async(
            base, sku="DIRECT-DROP", load=load, pids=measured, label="sold out, direct floor"
        )
        results["placed"] = await wrk.run_async(
            base, sku="DIRECT-PLENTY", load=load, pids=measured, label="placed, direct floor"
        )
        placed = results["placed"]
        cpu = placed["cpu_ms_per_request"]
        results["orders_per_s"] = placed["requests_per_s"]
        results["cpu_ms_per_order"] = cpu.get("direct checkout")
        results["postgres_cpu_ms_per_order"] = cpu.get("postgres (all backends, shared)")
    finally:
        await asyncio.to_thread(direct.stop, process)
    return results


async def checkout_cpu(
    gateway: httpx.AsyncClient,
    gateway_url: str,
    orders_url: str,
    pids: dict[str, int],
    *,
    sold_out_sku: str,
    load: wrk.Load,
    on_hand: Callable[[str], Awaitable[int]],
) -> dict[str, Any]:
    """CPU per request of the gateway and orders' HTTP process: a sold-out checkout, then a placed one."""
    measured = _pick(pids, HTTP_PROCESSES)
    results: dict[str, Any] = {}
    if await wait_sold_out_at_checkout(gateway, sold_out_sku):
        results["sold_out"] = await wrk.run_async(
            gateway_url,
            sku=sold_out_sku,
            load=load,
            pids=measured,
            label="sold out (409) through the gateway",
        )
    else:
        results["sold_out"] = None
        print(f"  orders never answered 409 for {sold_out_sku}: no sold-out figure", flush=True)
    plenty = f"WRK-{time.monotonic_ns() % 10**8:08d}"
    await seed_product(gateway, orders_url, sku=plenty, units=1_000_000, on_hand=on_hand)
    results["placed"] = await wrk.run_async(
        gateway_url, sku=plenty, load=load, pids=measured, label="placed (202) through the gateway"
    )
    return results
