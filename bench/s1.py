"""S1 steady pipeline: open-loop in-stock orders through the gateway at increasing rates."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.infra import CpuMeter, EventProbe, RssSampler
from bench.shop import open_loop
from bench.stats import RatePoint, collapsed_stack_totals, highest_good_rate, summarize

P99_LIMIT = 1.0
CLIMB_FACTOR = 1.5
"""Past the plan's rates the sweep goes on at this factor a step, until the target breaks."""
HIGHEST_RATE = 5000.0
"""A rate the sweep never offers: a guard against a run that never breaks (the generator could not keep up)."""


def climbing(rates: list[float]) -> Iterator[float]:
    """The plan's rates in order, then each CLIMB_FACTOR times the last, up to HIGHEST_RATE: the caller stops it
    at the first rate that misses the target, so the sustained figure is measured, not the plan's ceiling."""
    last = 0.0
    for rate in rates:
        last = rate
        yield rate
    while last * CLIMB_FACTOR <= HIGHEST_RATE:
        last = round(last * CLIMB_FACTOR, 1)
        yield last


def meets_target(point: dict[str, Any]) -> bool:
    """Every order placed at this rate answered in time, no HTTP errors, p99 checkout→confirmed within the limit."""
    p99 = point["checkout_to_confirmed_s"]["p99"]
    return bool(point["complete"]) and p99 is not None and p99 <= P99_LIMIT


async def run_rate(
    gateway: httpx.AsyncClient,
    probe: EventProbe,
    pids: dict[str, int],
    *,
    rate: float,
    duration: float,
    skus: list[str],
    drain: float,
    rss: RssSampler | None = None,
) -> dict[str, Any]:
    meter = CpuMeter(pids)
    meter.start()
    if rss is not None:
        rss.start()
    load = await open_loop(gateway, rate=rate, duration=duration, skus=skus)
    accepted = [p for p in load.placed if p.order_id is not None]
    complete = await probe.wait_answered([p.order_id for p in accepted if p.order_id], timeout=drain)
    cpu = meter.stop()
    peak_rss = await rss.stop() if rss is not None else {}
    http = [p.answered - p.scheduled for p in load.placed if p.status == 202]
    to_confirmed: list[float] = []
    outcomes: dict[str, int] = {}
    last_answer = load.started
    for placed in accepted:
        assert placed.order_id is not None
        answer = probe.answered(placed.order_id)
        if answer is None:
            outcomes["unanswered"] = outcomes.get("unanswered", 0) + 1
            continue
        outcomes[answer[0]] = outcomes.get(answer[0], 0) + 1
        last_answer = max(last_answer, answer[1])
        if answer[0] == "confirmed":
            to_confirmed.append(answer[1] - placed.scheduled)
    errors = [p for p in load.placed if p.status != 202]
    confirmed = outcomes.get("confirmed", 0)
    span = max(last_answer - load.started, duration)
    per_order = {
        name: (seconds / confirmed if confirmed else None) for name, seconds in cpu["cpu_seconds"].items()
    }
    point: dict[str, Any] = {
        "offered_per_s": rate,
        "duration_s": duration,
        "placed": len(load.placed),
        "http_errors": len(errors),
        "http_error_sample": errors[0].error if errors else None,
        "outcomes": outcomes,
        "complete": complete and not errors,
        "achieved_confirmed_per_s": confirmed / span,
        "generator_late_by_s": load.last_arrival_late_by,
        "checkout_http_s": summarize(http),
        "checkout_to_confirmed_s": summarize(to_confirmed),
        "cpu_seconds_per_order": per_order,
        "cpu": cpu,
        "peak_rss_mib": peak_rss,
    }
    c2c = point["checkout_to_confirmed_s"]
    print(
        f"  S1 {rate:6.1f}/s offered -> {point['achieved_confirmed_per_s']:6.1f}/s confirmed; "
        f"HTTP p50 {_ms(point['checkout_http_s']['p50'])} p99 {_ms(point['checkout_http_s']['p99'])}; "
        f"to confirmed p50 {_ms(c2c['p50'])} p99 {_ms(c2c['p99'])}; outcomes {outcomes}; errors {len(errors)}",
        flush=True,
    )
    return point


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value * 1000:.0f}ms"


async def sweep(
    gateway: httpx.AsyncClient,
    probe: EventProbe,
    pids: dict[str, int],
    *,
    rates: list[float],
    duration: float,
    skus: list[str],
    drain: float,
    rss: RssSampler,
    refine: int = 2,
) -> dict[str, Any]:
    """Offer the plan's rates, then higher ones, until p99 checkout→confirmed breaks the limit; then ``refine``
    times halve the gap between the highest rate that held and the lowest that broke."""
    points: list[dict[str, Any]] = []
    for rate in climbing(rates):
        point = await run_rate(
            gateway, probe, pids, rate=rate, duration=duration, skus=skus, drain=drain, rss=rss
        )
        points.append(point)
        if not meets_target(point):
            print(
                f"  S1 stops climbing: p99 checkout→confirmed ≤ {P99_LIMIT:.0f} s broke at {rate:.1f}/s",
                flush=True,
            )
            break
        await asyncio.sleep(1.0)
    good = [p["offered_per_s"] for p in points if meets_target(p)]
    bad = [p["offered_per_s"] for p in points if not meets_target(p)]
    for _ in range(refine if good and bad else 0):
        # Between the last rate that held and the first that broke: the sustained figure to within a step's eighth.
        rate = round((max(good) + min(bad)) / 2, 1)
        await asyncio.sleep(3.0)  # the broken rate's backlog (fulfillment's steps) drains first
        point = await run_rate(
            gateway, probe, pids, rate=rate, duration=duration, skus=skus, drain=drain, rss=rss
        )
        points.append(point)
        (good if meets_target(point) else bad).append(rate)
    best = highest_good_rate(
        [
            RatePoint(
                offered=p["offered_per_s"],
                achieved=p["achieved_confirmed_per_s"],
                p99_to_confirmed=p["checkout_to_confirmed_s"]["p99"],
                complete=p["complete"],
            )
            for p in points
        ],
        P99_LIMIT,
    )
    best_point = next((p for p in points if best is not None and p["offered_per_s"] == best.offered), None)
    return {"points": points, "best": best_point}


async def half_rate_latency(
    gateway: httpx.AsyncClient,
    probe: EventProbe,
    pids: dict[str, int],
    *,
    rate: float,
    duration: float,
    skus: list[str],
    drain: float,
    of: str = "the pipeline's own sustained",
) -> dict[str, Any]:
    print(f"  S1 at half {of} rate ({rate:.1f}/s) for the HTTP latency target", flush=True)
    return await run_rate(gateway, probe, pids, rate=rate, duration=duration, skus=skus, drain=drain)


def hottest(point: dict[str, Any], stack_processes: dict[str, int], count: int = 2) -> list[str]:
    """The stack processes that used the most CPU per order at ``point``."""
    per_order = {
        name: value
        for name, value in point["cpu_seconds_per_order"].items()
        if value is not None and name in stack_processes
    }
    return sorted(per_order, key=lambda name: -per_order[name])[:count]


async def profile(
    gateway: httpx.AsyncClient,
    probe: EventProbe,
    pids: dict[str, int],
    *,
    names: list[str],
    rate: float,
    duration: float,
    skus: list[str],
    out: Path,
) -> dict[str, Any]:
    """py-spy record the named processes while S1 runs at ``rate``; flame graphs (SVG) and collapsed stacks."""
    record_seconds = max(int(duration) - 1, 1)
    recorders = await asyncio.to_thread(start_recorders, names, pids, out, record_seconds)
    print(f"  profiling {names} with py-spy at {rate:.1f}/s for {record_seconds}s", flush=True)
    point = await run_rate(gateway, probe, pids, rate=rate, duration=duration, skus=skus, drain=15)
    processes = await asyncio.to_thread(collect_recorders, recorders)
    return {"rate": rate, "point": point, "processes": processes}


Recorder = tuple[str, Path, "subprocess.Popen[bytes] | None", str]


def start_recorders(
    names: list[str], pids: dict[str, int], out: Path, seconds: int, *, prefix: str = "profile"
) -> list[Recorder]:
    """py-spy record each named process for ``seconds``: a flame graph and collapsed stacks, ``prefix-<name>``."""
    py_spy = Path(".venv/bin/py-spy").resolve()
    recorders: list[Recorder] = []
    for name in names:
        for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
            path = out / f"{prefix}-{name}.{suffix}"
            command = [
                str(py_spy), "record", "--nonblocking", "--rate", "97", "--format", fmt,
                "-o", str(path), "--pid", str(pids[name]), "--duration", str(seconds),
            ]  # fmt: skip
            try:
                process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            except OSError as error:
                recorders.append((name, path, None, f"could not start py-spy: {error}"))
                continue
            recorders.append((name, path, process, ""))
    return recorders


def collect_recorders(recorders: list[Recorder]) -> dict[str, Any]:
    """Wait for each py-spy; summarise the collapsed stacks; keep py-spy's output when it failed."""
    processes: dict[str, Any] = {}
    for name, path, process, failure in recorders:
        output = failure
        if process is not None:
            try:
                raw, _ = process.communicate(timeout=90)
                output = raw.decode(errors="replace")
            except subprocess.TimeoutExpired:
                process.kill()
                output = "py-spy did not finish"
        entry = processes.setdefault(name, {})
        ok = process is not None and process.returncode == 0 and path.exists()
        if path.suffix == ".svg":
            entry["flamegraph"] = str(path) if ok else None
        else:
            entry["collapsed"] = str(path) if ok else None
            if ok:
                text = path.read_text().splitlines()
                own, inclusive = collapsed_stack_totals(text, top=25)
                entry["samples"] = sum(
                    int(line.rpartition(" ")[2]) for line in text if line.rpartition(" ")[2].isdigit()
                )
                entry["top_self"] = own
                entry["top_inclusive"] = inclusive
        if not ok:
            entry.setdefault("errors", []).append(output[-800:])
    return processes


async def timed(label: str, coroutine: Any) -> Any:
    started = time.monotonic()
    result = await coroutine
    print(f"  ({label} took {time.monotonic() - started:.0f}s)", flush=True)
    return result
