"""Checkouts driven by ``wrk`` (a load generator outside Python, bench/checkout.lua): requests/s, latency, answers
by status, wrk's own CPU, and the CPU each measured process spent per request (from /proc, over the run)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import string
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.infra import cpu_seconds, pids_named
from scripts.ensure_wrk import ensure_wrk

SCRIPT = Path(__file__).with_name("checkout.lua")
MARKER = "WRK_JSON "


@dataclass(frozen=True)
class Load:
    """How hard wrk pushes: ``connections`` kept busy (closed loop) by ``threads`` for ``seconds``."""

    seconds: float
    connections: int = 16
    threads: int = 1


def run_token() -> str:
    """A token unique to one wrk run, in letters only: checkout.lua puts it in each buyer's email, and a run of
    13 or more digits there (with the thread and request numbers after it) can pass the Luhn check, which the
    gateway refuses as card data (422)."""
    return "".join(random.choices(string.ascii_lowercase, k=12))


def parse_output(text: str) -> dict[str, Any]:
    """The summary checkout.lua's done() prints (one ``WRK_JSON {...}`` line) as a dict."""
    for line in text.splitlines():
        if line.startswith(MARKER):
            parsed: dict[str, Any] = json.loads(line[len(MARKER) :])
            return parsed
    raise ValueError(f"wrk printed no summary: {text[-500:]!r}")


def per_request(cpu: dict[str, float], requests: int) -> dict[str, float | None]:
    """CPU milliseconds per answered request of each process."""
    return {name: (seconds * 1000 / requests if requests else None) for name, seconds in cpu.items()}


def _cpu_of(pids: dict[str, int]) -> dict[str, float]:
    values = {name: cpu_seconds(pid) or 0.0 for name, pid in pids.items()}
    values["postgres (all backends, shared)"] = sum(cpu_seconds(pid) or 0.0 for pid in pids_named("postgres"))
    return values


def run(url: str, *, sku: str, load: Load, pids: dict[str, int], label: str) -> dict[str, Any]:
    """Run wrk against ``url`` buying ``sku``; what it answered and what each process in ``pids`` spent."""
    wrk = ensure_wrk()
    environment = {**os.environ, "BENCH_WRK_SKU": sku, "BENCH_WRK_RUN": run_token()}
    command = [
        str(wrk), "-t", str(load.threads), "-c", str(load.connections), "-d", f"{max(int(load.seconds), 1)}s",
        "--timeout", "30s", "-s", str(SCRIPT), url,
    ]  # fmt: skip
    load_before = os.getloadavg()
    before = _cpu_of(pids)
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
    assert process.stdout is not None
    output = process.stdout.read().decode(errors="replace")
    # wait4 gives the child's own CPU (user + system) as it is reaped: wrk's share of the machine
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    after = _cpu_of(pids)
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited with {process.returncode}: {output[-800:]}")
    summary = parse_output(output)
    requests = int(summary["requests"])
    seconds = summary["duration_us"] / 1e6
    used = {name: max(after[name] - before.get(name, 0.0), 0.0) for name in after}
    wrk_cpu = usage.ru_utime + usage.ru_stime
    result = {
        "label": label,
        "url": url,
        "connections": load.connections,
        "threads": load.threads,
        "seconds": seconds,
        "requests": requests,
        "requests_per_s": requests / seconds if seconds else None,
        "statuses": {int(k): v for k, v in summary["statuses"].items()},
        "errors": summary["errors"],
        "latency_s": {k: v / 1e6 for k, v in summary["latency_us"].items()},
        "cpu_seconds": used,
        "cpu_ms_per_request": per_request(used, requests),
        "wrk_cpu_seconds": wrk_cpu,
        "wrk_cpu_share_of_one_core": wrk_cpu / wall if wall else None,
        "wrk_cpu_ms_per_request": wrk_cpu * 1000 / requests if requests else None,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }
    shown = ", ".join(
        f"{name} {value:.2f}" for name, value in result["cpu_ms_per_request"].items() if value is not None
    )
    print(
        f"  wrk {label}: {requests} requests in {seconds:.1f}s = {result['requests_per_s'] or 0:.1f}/s, "
        f"answers {result['statuses']}, p50/p99 {result['latency_s']['p50'] * 1000:.1f}/"
        f"{result['latency_s']['p99'] * 1000:.1f} ms; CPU ms per request: {shown}; wrk itself "
        f"{100 * (result['wrk_cpu_share_of_one_core'] or 0):.0f}% of a core; load {load_before[0]:.2f}",
        flush=True,
    )
    return result


async def run_async(url: str, *, sku: str, load: Load, pids: dict[str, int], label: str) -> dict[str, Any]:
    return await asyncio.to_thread(run, url, sku=sku, load=load, pids=pids, label=label)
