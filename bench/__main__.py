"""``python -m bench [all|s1|s2|s3|s4|http|memory] [--quick] [--profile]``: run, print, and write var/bench/<timestamp>/."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import baseline, http_load, infra, s1, s2, s3, s4, stats, wrk, wrk_drop
from bench.report import write_report
from bench.shop import client, seed_product
from scripts.stack import Stack


@dataclass(frozen=True)
class Plan:
    bare_orders: int
    raw_messages: int
    row_seconds: float
    s1_rates: list[float]
    s1_duration: float
    s1_drain: float
    s1_skus: int
    profile_seconds: float
    s2_units: int
    s2_buyers: int
    s2_window: float
    s2_answer_timeout: float
    s2_connections: int
    """wrk's connections carrying S2's buyers (a buyer waits for a free one, counted from their arrival)."""
    strategy_concurrency: int
    s3_rows: int
    s4_consumers: int
    s4_events: int
    s4_paced_events: int
    s4_paced_rate: float
    wrk_seconds: float
    wrk_connections: int
    wrk_drop_connections: int
    s2_quick_too: bool
    """Run the quick plan's drop too, before the plan's own: the drop-day targets have rows for both sizes."""


FULL = Plan(
    bare_orders=3000,
    raw_messages=20_000,
    row_seconds=5,
    s1_rates=[2, 4, 8, 12, 16, 24, 32, 48],
    s1_duration=15,
    s1_drain=20,
    s1_skus=20,
    profile_seconds=20,
    s2_units=1000,
    s2_buyers=10_000,
    s2_window=10,
    s2_answer_timeout=180,
    s2_connections=2000,
    strategy_concurrency=16,
    s3_rows=100_000,
    s4_consumers=10,
    s4_events=3000,
    s4_paced_events=1000,
    s4_paced_rate=100,
    wrk_seconds=10,
    wrk_connections=16,
    wrk_drop_connections=256,
    s2_quick_too=True,
)
QUICK = Plan(
    bare_orders=300,
    raw_messages=2000,
    row_seconds=2,
    s1_rates=[2, 4],
    s1_duration=5,
    s1_drain=15,
    s1_skus=5,
    profile_seconds=6,
    s2_units=100,
    s2_buyers=1000,
    s2_window=5,
    s2_answer_timeout=90,
    s2_connections=500,
    strategy_concurrency=16,
    s3_rows=5000,
    s4_consumers=5,
    s4_events=500,
    s4_paced_events=200,
    s4_paced_rate=100,
    wrk_seconds=4,
    wrk_connections=16,
    wrk_drop_connections=64,
    s2_quick_too=False,
)


def _print_header(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


async def _stock_of(sku: str) -> tuple[int, int]:
    connection = await asyncpg.connect(infra.database_url("catalog"))
    try:
        row = await connection.fetchrow(
            "SELECT coalesce(sum(on_hand), 0) AS on_hand, coalesce(sum(reserved), 0) AS reserved "
            "FROM stock_levels WHERE sku = $1",
            sku,
        )
    finally:
        await connection.close()
    return int(row["on_hand"]), int(row["reserved"])


@dataclass(frozen=True)
class Profiling:
    """py-spy during S1: the named processes (default the two that use the most CPU per order) for
    ``seconds`` (default the plan's)."""

    processes: list[str] | None = None
    seconds: float | None = None


async def run(
    scenarios: set[str],
    plan: Plan,
    *,
    profile: Profiling | None,
    out: Path,
    results: dict[str, Any],
    drop_client: str = "wrk",
) -> dict[str, Any]:
    """Run the scenarios, filling ``results`` as each finishes (a failure keeps what was measured). S2's buyers are
    sent by ``drop_client``: wrk, or the bench's Python client (to compare the generators)."""
    results |= {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # bench.stats.python_reference_ms: divide per-request CPU by it to compare runs on other days
            "python_reference_ms": round(stats.python_reference_ms(), 1),
        },
        "plan": plan.__dict__,
        "scenarios": sorted(scenarios),
        "settings": infra.operator_settings(),
    }
    clash = infra.ports_among_ephemeral()
    if clash:
        print(f"warning: {clash}", flush=True)
    infra.reset_vhost()
    await infra.drop_bench_databases()

    if "s1" in scenarios:
        _print_header("S1 baselines (bare asyncpg + aio-pika, same run)")
        results["baseline"] = {
            "bare_pipeline": await baseline.bare_pipeline(orders=plan.bare_orders),
            "raw_publish_consume": await baseline.raw_publish_consume(messages=plan.raw_messages),
            "single_row_updates": await baseline.single_row_updates(seconds=plan.row_seconds),
        }
    if "s2" in scenarios:
        _print_header("S2 reservation strategies (database level)")
        results["s2_strategies"] = await s2.compare_strategies(
            units=plan.s2_units, buyers=plan.s2_buyers, concurrency=plan.strategy_concurrency
        )
    if "s3" in scenarios:
        _print_header("S3 outbox relay")
        results["s3"] = await s3.relay_drain(rows=plan.s3_rows)
    if "s4" in scenarios:
        _print_header("S4 fan-out")
        results["s4"] = {
            "burst": await s4.fan_out(consumers=plan.s4_consumers, events=plan.s4_events, paced_rate=None),
            "paced": await s4.fan_out(
                consumers=plan.s4_consumers, events=plan.s4_paced_events, paced_rate=plan.s4_paced_rate
            ),
        }

    if scenarios & {"s1", "s2", "http", "memory"}:
        await _with_stack(scenarios, plan, profile=profile, out=out, results=results, drop_client=drop_client)
    results["finished_at"] = datetime.now(UTC).isoformat()
    return results


async def _with_stack(
    scenarios: set[str],
    plan: Plan,
    *,
    profile: Profiling | None,
    out: Path,
    results: dict[str, Any],
    drop_client: str,
) -> None:
    _print_header("starting the bench stack")
    config = infra.stack_config()
    stack = Stack(config)
    await asyncio.to_thread(stack.migrate)
    stack.start()
    probe = infra.EventProbe()
    try:
        await asyncio.to_thread(stack.wait_ready, 120)
        pids = {name: process.pid for name, process in stack.processes.items()}
        rss = infra.RssSampler(pids)
        orders_url = f"http://127.0.0.1:{config.service_port('orders')}"
        await probe.start()
        async with client(config.gateway_url) as gateway:
            skus = [f"BENCH-{uuid_hex()}" for _ in range(plan.s1_skus)]
            for sku in skus:
                await seed_product(gateway, orders_url, sku=sku, units=1_000_000, on_hand=_on_hand)
            # warm up every process (imports, pools, JIT-less caches) before measuring anything
            await s1.run_rate(gateway, probe, pids, rate=5, duration=3, skus=skus, drain=20)
            await asyncio.sleep(3)
            results["memory"] = {"idle_rss_mib": rss.snapshot()}
            if "s1" in scenarios:
                _print_header("S1 steady pipeline through the gateway")
                sweep = await s1.sweep(
                    gateway,
                    probe,
                    pids,
                    rates=plan.s1_rates,
                    duration=plan.s1_duration,
                    skus=skus,
                    drain=plan.s1_drain,
                    rss=rss,
                )
                results["s1"] = sweep
                peaks: dict[str, float] = {}
                for point in sweep["points"]:
                    for name, value in point["peak_rss_mib"].items():
                        peaks[name] = max(peaks.get(name, 0.0), value)
                results["memory"]["s1_peak_rss_mib"] = peaks
                if profile is not None:
                    reference = sweep["best"] or sweep["points"][-1]
                    names = profile.processes or s1.hottest(reference, pids)
                    unknown = sorted(set(names) - set(pids))
                    if unknown:
                        raise ValueError(f"no such process to profile: {unknown}; there are {sorted(pids)}")
                    results["profile"] = await s1.profile(
                        gateway,
                        probe,
                        pids,
                        names=names,
                        rate=reference["offered_per_s"],
                        duration=profile.seconds or plan.profile_seconds,
                        skus=skus,
                        out=out,
                    )
                if sweep["best"]:
                    # The drop day's latency target is read at half of what this pipeline sustains.
                    sweep["half_own"] = await s1.half_rate_latency(
                        gateway,
                        probe,
                        pids,
                        rate=sweep["best"]["offered_per_s"] / 2,
                        duration=plan.s1_duration,
                        skus=skus,
                        drain=plan.s1_drain,
                    )
            elif "memory" in scenarios:
                rss.start()
                await s1.run_rate(
                    gateway, probe, pids, rate=10, duration=plan.s1_duration, skus=skus, drain=20
                )
                results["memory"]["s1_peak_rss_mib"] = await rss.stop()
            if "s2" in scenarios:
                if plan.s2_quick_too:
                    # The quick drop's targets are their own rows: run it first, before the full drop's saga backlog.
                    _print_header("S2 quick flash drop through the gateway (buyers sent by wrk, open loop)")
                    results["s2_quick"] = await _flash_drop(
                        gateway, orders_url, config.gateway_url, probe, pids, QUICK, drop_client=drop_client
                    )
                    await asyncio.sleep(3)
                _print_header("S2 flash drop through the gateway (buyers sent by wrk, open loop)")
                rss.start()
                results["s2"] = await _flash_drop(
                    gateway,
                    orders_url,
                    config.gateway_url,
                    probe,
                    pids,
                    plan,
                    drop_client=drop_client,
                    profile_to=out if profile is not None else None,
                )
                results["memory"]["s2_peak_rss_mib"] = await rss.stop()
                _print_header("S2 flash drop driven by wrk")
                wrk_sku = f"DROPW-{uuid_hex()}"
                await seed_product(gateway, orders_url, sku=wrk_sku, units=plan.s2_units, on_hand=_on_hand)
                results["s2_wrk"] = await http_load.drop(
                    config.gateway_url,
                    pids,
                    sku=wrk_sku,
                    units=plan.s2_units,
                    load=_drop_load(plan),
                    stock=lambda: _stock_of(wrk_sku),
                )
            if scenarios & {"s2", "http"}:
                # last: placed checkouts leave the workers a backlog of sagas
                _print_header("Checkout through the gateway by wrk, beside the single-process floor")
                load = wrk.Load(seconds=plan.wrk_seconds, connections=plan.wrk_connections)
                results["direct_floor"] = await http_load.direct_floor(
                    port=config.gateway_port + 90,
                    units=plan.s2_units,
                    drop_load=_drop_load(plan),
                    load=load,
                )
                sold_out_sku = f"GONE-{uuid_hex()}"
                await seed_product(gateway, orders_url, sku=sold_out_sku, units=1, on_hand=_on_hand)
                results["http_checkout"] = await http_load.checkout_cpu(
                    gateway,
                    config.gateway_url,
                    orders_url,
                    pids,
                    sold_out_sku=sold_out_sku,
                    load=load,
                    on_hand=_on_hand,
                )
        dead = {name: p.returncode for name, p in stack.processes.items() if p.poll() is not None}
        results["processes_died"] = dead
    finally:
        await probe.close()
        await asyncio.to_thread(stack.stop)


async def _flash_drop(
    gateway: httpx.AsyncClient,
    orders_url: str,
    gateway_url: str,
    probe: infra.EventProbe,
    pids: dict[str, int],
    plan: Plan,
    *,
    drop_client: str,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """S2 at ``plan``'s size on a product of its own: buyers sent by wrk (or the bench's Python client). The CPU
    each process used from the drop's opening to its last final answer is kept with it; with ``profile_to``, the
    processes on the checkout's path are recorded with py-spy over the buyers' window and the sell-out after it."""
    sku = f"DROP-{uuid_hex()}"
    await seed_product(gateway, orders_url, sku=sku, units=plan.s2_units, on_hand=_on_hand)
    crowd = wrk_drop.Crowd(connections=plan.s2_connections)
    recorders: list[s1.Recorder] = []
    if profile_to is not None:
        seconds = int(3 * plan.s2_window)
        recorders = await asyncio.to_thread(
            s1.start_recorders, list(DROP_PATH), pids, profile_to, seconds, prefix="profile-s2"
        )
        print(f"  profiling {list(DROP_PATH)} with py-spy during the drop for {seconds}s", flush=True)
    meter = infra.CpuMeter(pids)
    meter.start()
    result = await s2.flash_drop(
        probe,
        drive=(
            s2.python_client(gateway, sku=sku, buyers=plan.s2_buyers, window=plan.s2_window)
            if drop_client == "python"
            else lambda: wrk_drop.drive(
                gateway_url,
                sku=sku,
                buyers=plan.s2_buyers,
                window=plan.s2_window,
                crowd=crowd,
                answer_within=plan.s2_answer_timeout,
            )
        ),
        units=plan.s2_units,
        buyers=plan.s2_buyers,
        window=plan.s2_window,
        answer_timeout=plan.s2_answer_timeout,
        stock_reserved=lambda: _stock_of(sku),
    )
    result["cpu"] = meter.stop()
    if recorders:
        result["profile"] = await asyncio.to_thread(s1.collect_recorders, recorders)
    return result


DROP_PATH = ("gateway", "orders-http", "catalog-http")
"""The processes a checkout passes through, profiled during S2 full."""


def _drop_load(plan: Plan) -> wrk.Load:
    """The drop by wrk: many buyers at once (each connection a buyer who buys again as soon as answered), for
    twice S2's window, so the units are gone and the rest are told so while the crowd is still there."""
    return wrk.Load(seconds=2 * plan.s2_window, connections=plan.wrk_drop_connections)


async def _on_hand(sku: str) -> int:
    return (await _stock_of(sku))[0]


def uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex[:8].upper()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenario",
        nargs="*",
        default=["all"],
        choices=["all", "s1", "s2", "s3", "s4", "http", "memory"],
        help="default: all",
    )
    parser.add_argument("--quick", action="store_true", help="shorten every scenario (a smoke run)")
    parser.add_argument("--profile", action="store_true", help="py-spy the hottest processes during S1")
    parser.add_argument(
        "--profile-processes",
        metavar="NAMES",
        help="with --profile: comma-separated processes to record (gateway,orders-http,...) instead of the two "
        "that use the most CPU per order",
    )
    parser.add_argument(
        "--profile-seconds",
        type=float,
        metavar="S",
        help="with --profile: how long to record (default by plan)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench databases and vhost afterwards")
    parser.add_argument(
        "--drop-client",
        choices=["wrk", "python"],
        default="wrk",
        help="who sends S2's buyers: wrk (default) or the bench's Python client, whose own CPU limits the drop",
    )
    arguments = parser.parse_args()
    scenarios = (
        {"s1", "s2", "s3", "s4", "http", "memory"} if "all" in arguments.scenario else set(arguments.scenario)
    )
    plan = QUICK if arguments.quick else FULL
    profile = (
        Profiling(
            processes=arguments.profile_processes.split(",") if arguments.profile_processes else None,
            seconds=arguments.profile_seconds,
        )
        if arguments.profile
        else None
    )
    out = infra.VAR / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {}
    try:
        asyncio.run(
            run(scenarios, plan, profile=profile, out=out, results=results, drop_client=arguments.drop_client)
        )
    except Exception as error:
        results["failed"] = f"{type(error).__name__}: {error}"
        print(f"the benchmark failed; writing what it measured: {results['failed']}", flush=True)
    finally:
        if not arguments.keep:
            infra.delete_vhost()
            asyncio.run(infra.drop_bench_databases())
    results["wall_seconds"] = time.monotonic() - started
    results["command"] = "python -m bench " + " ".join(
        list(arguments.scenario)
        + (["--quick"] if arguments.quick else [])
        + (["--profile"] if arguments.profile else [])
    )
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    summary = write_report(results, out)
    print("\n" + summary)
    print(f"\nwrote {out}/ (results.json, summary.md, plots) in {results['wall_seconds']:.0f}s")


if __name__ == "__main__":
    main()
