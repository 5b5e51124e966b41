"""``python -m bench.crowd``: the gateway's CPU per answered checkout against the crowd (wrk connections).

For each number of connections (default 16, 64 and 256), a sold-out checkout (409) and then a placed one (202),
driven by wrk with bench/checkout.lua through the gateway of a bench stack. Two figures per run, both from /proc:

- over the whole run, CPU per request wrk counted as answered (as ``python -m bench http`` reports). With many
  connections this counts the requests still in flight when wrk stops (read, checked and waiting) against none,
  so it reads high there;
- over a window inside the run (``--settle`` seconds after wrk starts to 2 s before it stops), the gateway's CPU
  over the checkouts it answered in that window, counted by its own ``/metrics``: the steady state.

With ``--profile``, py-spy records the gateway (raw collapsed stacks) during the runs at the most connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import http_load, infra, wrk
from bench.shop import client, seed_product
from scripts.stack import Stack

CHECKOUT_ROUTE = 'route="/v1/orders"'
PY_SPY = str(Path(".venv/bin/py-spy").resolve())


async def _on_hand(sku: str) -> int:
    connection = await asyncpg.connect(infra.database_url("catalog"))
    try:
        value = await connection.fetchval(
            "SELECT coalesce(sum(on_hand), 0) FROM stock_levels WHERE sku = $1", sku
        )
    finally:
        await connection.close()
    return int(value)


async def _checkouts_answered(gateway: httpx.AsyncClient, pid: int) -> tuple[float, float, float]:
    """Checkouts the gateway has answered (its request histogram's count), its CPU seconds, and the time."""
    text = (await gateway.get("/metrics")).text
    answered = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("shop_http_request_duration_seconds_count")
        and CHECKOUT_ROUTE in line
        and 'method="POST"' in line
    )
    return answered, infra.cpu_seconds(pid) or 0.0, time.monotonic()


async def _run(
    gateway: httpx.AsyncClient,
    url: str,
    pids: dict[str, int],
    *,
    sku: str,
    label: str,
    connections: int,
    seconds: float,
    settle: float,
    profile_to: Path | None,
) -> dict[str, Any]:
    measured = {name: pids[name] for name in http_load.HTTP_PROCESSES if name in pids}
    recorder = None
    if profile_to is not None:
        recorder = await asyncio.create_subprocess_exec(
            PY_SPY, "record", "--nonblocking", "--rate", "97", "--format", "raw", "-d", str(int(seconds)),
            "-p", str(pids["gateway"]), "-o", str(profile_to),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
    running = asyncio.create_task(
        wrk.run_async(
            url, sku=sku, load=wrk.Load(seconds=seconds, connections=connections), pids=measured, label=label
        )
    )
    await asyncio.sleep(settle)
    first = await _checkouts_answered(gateway, pids["gateway"])
    await asyncio.sleep(max(seconds - settle - 2, 1))
    last = await _checkouts_answered(gateway, pids["gateway"])
    result = await running
    if recorder is not None:
        await recorder.wait()
    answered = last[0] - first[0]
    result["window"] = {
        "seconds": last[2] - first[2],
        "answered": answered,
        "answered_per_s": answered / (last[2] - first[2]),
        "gateway_cpu_ms_per_request": (last[1] - first[1]) * 1000 / answered if answered else None,
    }
    return result


async def crowd(arguments: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    infra.reset_vhost()
    await infra.drop_bench_databases()
    config = infra.stack_config()
    stack = Stack(config)
    await asyncio.to_thread(stack.migrate)
    stack.start()
    results: list[dict[str, Any]] = []
    try:
        await asyncio.to_thread(stack.wait_ready, 120)
        pids = {name: process.pid for name, process in stack.processes.items()}
        orders_url = f"http://127.0.0.1:{config.service_port('orders')}"
        async with client(config.gateway_url) as gateway:
            gone = f"GONE-{time.monotonic_ns() % 10**8:08d}"
            await seed_product(gateway, orders_url, sku=gone, units=1, on_hand=_on_hand)
            if not await http_load.wait_sold_out_at_checkout(gateway, gone):
                raise RuntimeError(f"orders never answered 409 for {gone}")
            plenty = f"PLENTY-{time.monotonic_ns() % 10**8:08d}"
            await seed_product(gateway, orders_url, sku=plenty, units=1_000_000, on_hand=_on_hand)
            warm_up = wrk.Load(seconds=3, connections=16)
            measured = {"gateway": pids["gateway"]}
            await wrk.run_async(config.gateway_url, sku=gone, load=warm_up, pids=measured, label="warm-up")
            most = max(arguments.connections)
            for connections in arguments.connections:
                for kind, sku in (("sold_out", gone), ("placed", plenty)):
                    profile_to = out / f"gateway.{kind}.{connections}.txt" if arguments.profile else None
                    results.append(
                        await _run(
                            gateway,
                            config.gateway_url,
                            pids,
                            sku=sku,
                            label=f"{kind}, {connections} connections",
                            connections=connections,
                            seconds=arguments.seconds,
                            settle=arguments.settle,
                            profile_to=profile_to if connections == most else None,
                        )
                    )
        died = {
            name: process.returncode
            for name, process in stack.processes.items()
            if process.poll() is not None
        }
        if died:
            raise RuntimeError(f"processes died: {died}")
    finally:
        await asyncio.to_thread(stack.stop)
        infra.delete_vhost()
        await infra.drop_bench_databases()
    return results


def summary(results: list[dict[str, Any]]) -> str:
    lines = [
        "| run | answered/s | answers | p99 ms | gateway CPU ms/request (run) | (window) | orders' HTTP | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        cpu = result["cpu_ms_per_request"]
        window = result["window"]["gateway_cpu_ms_per_request"]
        lines.append(
            f"| {result['label']} | {result['requests_per_s'] or 0:.0f} | {result['statuses']} | "
            f"{result['latency_s']['p99'] * 1000:.0f} | {cpu['gateway'] or 0:.2f} | "
            f"{window or 0:.2f} | {cpu.get('orders-http') or 0:.2f} | "
            f"{result['load_average_before'][0]:.1f}-{result['load_average_after'][0]:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crowd", description=__doc__)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64, 256], metavar="N")
    parser.add_argument("--seconds", type=float, default=14, help="each wrk run (default 14)")
    parser.add_argument("--settle", type=float, default=4, help="seconds before the window opens (default 4)")
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway at the most connections")
    arguments = parser.parse_args()
    out = infra.VAR / f"crowd-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(crowd(arguments, out))
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print("\n" + summary(results))
    print(f"\nwrote {out}/")


if __name__ == "__main__":
    main()
