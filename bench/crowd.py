"""``python -m bench.crowd``: each HTTP process's CPU per answered checkout against the crowd (wrk connections).

For each number of connections (default 16, 64 and 256), a sold-out checkout (409) and then a placed one (202),
driven by wrk with bench/checkout.lua through the gateway of a bench stack. Two figures per run and process (the
gateway, orders' HTTP process and catalog's, which answers each placed checkout's hold), both from /proc:

- over the whole run, CPU per request wrk counted as answered (as ``python -m bench http`` reports). With many
  connections this counts the requests still in flight when wrk stops (read, checked and waiting) against none,
  so it reads high there;
- over a window inside the run (``--settle`` seconds after wrk starts to 2 s before it stops), each process's CPU
  over the requests of the checkout's route it answered in that window (the gateway's ``POST /v1/orders``, orders'
  ``POST /orders``, catalog's ``POST /stock-holds``), counted by its own ``/metrics``: the steady state.

``--code NAME=DIR`` (repeatable; an empty DIR is the working tree) restarts orders' and catalog's HTTP processes
once per code in every round (``--rounds``), alternating, with the packages of the source tree ``DIR`` (a copy of
another revision: ``git archive HEAD | tar -x -C DIR``) ahead on ``PYTHONPATH``, so the code before and after a
change is measured side by side on a shared machine; the gateway and the workers stay on the working tree.
``--stop-workers`` stops the workers once the products are seeded: a placed checkout's saga then waits in the
outbox instead of competing for the CPU the HTTP processes are measured on.

With ``--profile``, py-spy records the measured processes (raw collapsed stacks, 97 Hz) during each code's first
round; py-spy's reading costs the machine CPU, so read the CPU figures of the later rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import http_load, infra, wrk
from bench.shop import client, seed_product
from scripts.stack import Stack, StackConfig

PY_SPY = str(Path(".venv/bin/py-spy").resolve())
RESTARTED = ("orders-http", "catalog-http")
"""The processes ``--code`` runs on another revision's packages."""


@dataclass(frozen=True)
class Route:
    """Where a process counts the checkouts it answered: its metrics URL and the route's label."""

    metrics_url: str
    route: str


def routes(config: StackConfig) -> dict[str, Route]:
    return {
        "gateway": Route(f"{config.gateway_url}/metrics", 'route="/v1/orders"'),
        "orders-http": Route(f"http://127.0.0.1:{config.service_port('orders')}/metrics", 'route="/orders"'),
        "catalog-http": Route(
            f"http://127.0.0.1:{config.service_port('catalog')}/metrics", 'route="/stock-holds"'
        ),
    }


async def _on_hand(sku: str) -> int:
    connection = await asyncpg.connect(infra.database_url("catalog"))
    try:
        value = await connection.fetchval(
            "SELECT coalesce(sum(on_hand), 0) FROM stock_levels WHERE sku = $1", sku
        )
    finally:
        await connection.close()
    return int(value)


async def _answered(http: httpx.AsyncClient, route: Route) -> float:
    """Requests of the route the process has answered (its request histogram's count)."""
    text = (await http.get(route.metrics_url)).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("shop_http_request_duration_seconds_count")
        and route.route in line
        and 'method="POST"' in line
    )


async def _snapshot(
    http: httpx.AsyncClient, pids: dict[str, int], watched: dict[str, Route]
) -> tuple[dict[str, tuple[float, float]], float]:
    """Per process: requests of its checkout route answered and its CPU seconds; and the time."""
    counts = await asyncio.gather(*(_answered(http, watched[name]) for name in watched))
    figures = {
        name: (count, infra.cpu_seconds(pids[name]) or 0.0)
        for name, count in zip(watched, counts, strict=True)
    }
    return figures, time.monotonic()


async def _run(
    http: httpx.AsyncClient,
    url: str,
    pids: dict[str, int],
    watched: dict[str, Route],
    *,
    sku: str,
    label: str,
    connections: int,
    seconds: float,
    settle: float,
    profile_to: Path | None,
) -> dict[str, Any]:
    measured = {name: pids[name] for name in http_load.HTTP_PROCESSES if name in pids}
    recorders = []
    if profile_to is not None:
        for name in measured:
            command = [
                PY_SPY, "record", "--nonblocking", "--rate", "97", "--format", "raw", "-d", str(int(seconds)),
                "-p", str(pids[name]), "-o", str(profile_to.with_name(f"{name}.{profile_to.name}")),
            ]  # fmt: skip
            recorders.append(
                await asyncio.create_subprocess_exec(
                    *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
                )
            )
    running = asyncio.create_task(
        wrk.run_async(
            url, sku=sku, load=wrk.Load(seconds=seconds, connections=connections), pids=measured, label=label
        )
    )
    await asyncio.sleep(settle)
    first, opened = await _snapshot(http, pids, watched)
    load_in_window = os.getloadavg()[0]
    await asyncio.sleep(max(seconds - settle - 2, 1))
    last, closed = await _snapshot(http, pids, watched)
    result = await running
    for recorder in recorders:
        await recorder.wait()
    window: dict[str, Any] = {"seconds": closed - opened, "load_average": load_in_window}
    for name in watched:
        answered = last[name][0] - first[name][0]
        window[name] = {
            "answered": answered,
            "answered_per_s": answered / (closed - opened),
            "cpu_ms_per_request": (last[name][1] - first[name][1]) * 1000 / answered if answered else None,
        }
    result["window"] = window
    return result


def _python_path(tree: str | None) -> dict[str, str]:
    """The environment that runs a process on the packages of the source tree ``tree`` (None: the working tree)."""
    if tree is None:
        return {}
    root = Path(tree)
    sources = sorted(
        str(path)
        for pattern in ("libs/*/src", "services/*/src", "tools/*/src")
        for path in root.glob(pattern)
    )
    inherited = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([*sources, str(root), *([inherited] if inherited else [])])}


async def _restart_on(stack: Stack, tree: str | None) -> None:
    for name in RESTARTED:
        await asyncio.to_thread(stack.restart, name, extra_env=_python_path(tree))
        await asyncio.to_thread(stack.wait_http, name, 60)


async def crowd(arguments: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    infra.reset_vhost()
    await infra.drop_bench_databases()
    config = infra.stack_config()
    stack = Stack(config)
    await asyncio.to_thread(stack.migrate)
    stack.start()
    results: list[dict[str, Any]] = []
    watched = routes(config)
    try:
        await asyncio.to_thread(stack.wait_ready, 120)
        orders_url = f"http://127.0.0.1:{config.service_port('orders')}"
        async with client(config.gateway_url) as gateway, httpx.AsyncClient(timeout=10) as http:
            gone = f"GONE-{time.monotonic_ns() % 10**8:08d}"
            await seed_product(gateway, orders_url, sku=gone, units=1, on_hand=_on_hand)
            if not await http_load.wait_sold_out_at_checkout(gateway, gone):
                raise RuntimeError(f"orders never answered 409 for {gone}")
            plenty = f"PLENTY-{time.monotonic_ns() % 10**8:08d}"
            await seed_product(gateway, orders_url, sku=plenty, units=1_000_000, on_hand=_on_hand)
            if arguments.stop_workers:
                for name in [name for name in stack.processes if name.endswith("-worker")]:
                    await asyncio.to_thread(stack.stop_process, name)
            skus = {"sold_out": gone, "placed": plenty}
            profiled: set[str] = set()
            for round_number in range(arguments.rounds):
                for code, tree in arguments.codes.items():
                    if arguments.codes != {"tree": None}:
                        await _restart_on(stack, tree)
                    pids = {name: process.pid for name, process in stack.processes.items()}
                    for kind in arguments.kinds:  # the first requests after a start compile and prepare
                        await wrk.run_async(
                            config.gateway_url,
                            sku=skus[kind],
                            load=wrk.Load(seconds=3, connections=16),
                            pids={},
                            label=f"warm-up, {code}",
                        )
                    for connections in arguments.connections:
                        for kind in arguments.kinds:
                            profile_to = None
                            if arguments.profile and code not in profiled:
                                profile_to = out / f"{code}.{kind}.{connections}.txt"
                            result = await _run(
                                http,
                                config.gateway_url,
                                pids,
                                watched,
                                sku=skus[kind],
                                label=f"{kind}, {connections} connections",
                                connections=connections,
                                seconds=arguments.seconds,
                                settle=arguments.settle,
                                profile_to=profile_to,
                            )
                            results.append(result | {"code": code, "round": round_number, "kind": kind})
                            (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
                    profiled.add(code)
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
    names = http_load.HTTP_PROCESSES
    lines = [
        "| code | run | answered/s | answers | p99 ms | "
        + " | ".join(f"{name} CPU ms/request (run / window)" for name in names)
        + " | load |",
        "|---|---|---|---|---|" + "---|" * len(names) + "---|",
    ]
    for result in results:
        cpu = result["cpu_ms_per_request"]
        window = result["window"]
        cells = []
        for name in names:
            in_window = window.get(name, {}).get("cpu_ms_per_request")
            cells.append(f"{cpu.get(name) or 0:.2f} / " + ("-" if in_window is None else f"{in_window:.2f}"))
        lines.append(
            f"| {result.get('code', 'tree')} | {result['label']} | {result['requests_per_s'] or 0:.0f} | "
            f"{result['statuses']} | {result['latency_s']['p99'] * 1000:.0f} | "
            + " | ".join(cells)
            + f" | {result['load_average_before'][0]:.1f}-{result['load_average_after'][0]:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.crowd", description=__doc__)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64, 256], metavar="N")
    parser.add_argument(
        "--kinds", nargs="+", choices=["sold_out", "placed"], default=["sold_out", "placed"], metavar="KIND"
    )
    parser.add_argument("--seconds", type=float, default=14, help="each wrk run (default 14)")
    parser.add_argument("--settle", type=float, default=4, help="seconds before the window opens (default 4)")
    parser.add_argument(
        "--code",
        action="append",
        metavar="NAME=DIR",
        help="run orders' and catalog's HTTP processes on the source tree DIR, named NAME (repeat; empty DIR: "
        "the working tree)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds, each restarting the processes per code"
    )
    parser.add_argument(
        "--stop-workers", action="store_true", help="stop the workers once the products are seeded"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the HTTP processes in the first round")
    arguments = parser.parse_args()
    codes: dict[str, str | None] = {}
    for given in arguments.code or ["tree="]:
        name, _, directory = given.partition("=")
        codes[name] = str(Path(directory).resolve()) if directory else None
    arguments.codes = codes
    out = infra.VAR / f"crowd-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(crowd(arguments, out))
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print("\n" + summary(results))
    print(f"\nwrote {out}/")


if __name__ == "__main__":
    main()
