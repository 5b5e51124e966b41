"""A flash drop's buyers sent by ``wrk`` (bench/drop.lua), open loop: each buyer arrives at their scheduled instant
whatever the shop answers, and waits for their own answer. The bench's Python client cost about as much CPU a
checkout as the gateway and orders together and, at a drop's rate, its own core was the queue the buyers waited in;
wrk sends the same checkouts for a small share of a core, so the times measured are the shop's.

Every buyer's answer comes back one line each (``parse_answers``) as the ``Placed`` records S2 checks: accepted,
sold out at checkout, oversold and the saga's final answers are judged exactly as for the Python client."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.shop import COME_BACK_FOR, LoadResult, Placed
from bench.wrk import run_token
from scripts.ensure_wrk import ensure_wrk

SCRIPT = Path(__file__).with_name("drop.lua")
WARM_UP_PER_CONNECTION_S = 0.004
"""Lead time a connection's GET /health takes before the first arrival (each connection sends one at connect)."""


@dataclass(frozen=True)
class Crowd:
    """How wrk carries the buyers: ``connections`` (a buyer waits for a free one, counted from their arrival) over
    ``threads``."""

    connections: int
    threads: int = 2


@dataclass(frozen=True)
class Answer:
    """One buyer's line from drop.lua: times in microseconds since the epoch."""

    index: int
    arrival_us: int
    first_sent_us: int
    answered_us: int
    status: int
    code: str | None
    order_id: str | None
    turned_away: int
    """429 and 503 answers before this one (the buyer came back after each with the same key)."""
    not_busy: int
    """Of those, the ones that were not the gateway's ``busy`` (a service that did not answer in time)."""


def parse_answers(text: str) -> list[Answer]:
    """drop.lua's lines (tab-separated; ``-`` is none) as answers; a torn last line (wrk stopped) is skipped."""
    answers = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 9:
            continue
        index, arrival, sent, answered, status, code, order_id, turned_away, not_busy = fields
        answers.append(
            Answer(
                index=int(index),
                arrival_us=int(arrival),
                first_sent_us=int(sent),
                answered_us=int(answered),
                status=int(status),
                code=None if code == "-" else code,
                order_id=None if order_id == "-" else order_id,
                turned_away=int(turned_away),
                not_busy=int(not_busy),
            )
        )
    return answers


def as_placed(
    answers: list[Answer], *, buyers: int, start_us: int, interval_us: float, to_monotonic: float
) -> LoadResult:
    """The buyers as S2's ``Placed`` records (monotonic seconds, as the probe's times): a buyer without a line had no
    answer when wrk was stopped (status 0)."""
    by_index = {answer.index: answer for answer in answers}
    placed = []
    late = 0.0
    for index in range(buyers):
        arrival_us = start_us + index * interval_us
        answer = by_index.get(index)
        if answer is None:
            placed.append(
                Placed(scheduled=arrival_us / 1e6 + to_monotonic, error="no answer: wrk stopped waiting")
            )
            continue
        late = max(late, (answer.first_sent_us - answer.arrival_us) / 1e6)
        placed.append(
            Placed(
                scheduled=answer.arrival_us / 1e6 + to_monotonic,
                answered=answer.answered_us / 1e6 + to_monotonic,
                status=answer.status,
                order_id=answer.order_id if answer.status == 202 else None,
                error=None if answer.status == 202 else f'{{"code":"{answer.code or ""}"}}',
                turned_away=answer.turned_away,
                not_busy=answer.not_busy,
            )
        )
    return LoadResult(placed=placed, started=start_us / 1e6 + to_monotonic, last_arrival_late_by=late)


def open_loop(
    url: str, *, sku: str, buyers: int, window: float, crowd: Crowd, answer_within: float
) -> dict[str, Any]:
    """Send ``buyers`` checkouts of ``sku`` evenly over ``window`` seconds through wrk and wait for every answer (up
    to ``answer_within`` seconds after the last arrival); the buyers (``load``), wrk's CPU and how late it sent."""
    wrk = ensure_wrk()
    lead = 1.0 + crowd.connections * WARM_UP_PER_CONNECTION_S
    start_us = int((time.time() + lead) * 1e6)
    interval_us = window * 1e6 / buyers
    to_monotonic = time.monotonic() - time.time()
    deadline = time.monotonic() + lead + window + answer_within
    with tempfile.TemporaryDirectory(prefix="shop-drop-") as directory:
        prefix = f"{directory}/answers-"
        environment = {
            **os.environ,
            "BENCH_DROP_SKU": sku,
            "BENCH_DROP_RUN": run_token(),
            "BENCH_DROP_BUYERS": str(buyers),
            "BENCH_DROP_START_US": str(start_us),
            "BENCH_DROP_INTERVAL_US": repr(interval_us),
            "BENCH_DROP_THREADS": str(crowd.threads),
            "BENCH_DROP_COME_BACK_S": str(COME_BACK_FOR),
            "BENCH_DROP_OUT": prefix,
        }
        command = [
            str(wrk), "-t", str(crowd.threads), "-c", str(crowd.connections),
            "-d", f"{int(lead + window + answer_within) + 5}s", "--timeout", f"{int(answer_within) + 5}s",
            "-s", str(SCRIPT), url,
        ]  # fmt: skip
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
        answered = 0
        while time.monotonic() < deadline and process.poll() is None:
            answered = sum(
                path.read_text().count("\n")
                for path in Path(directory).glob("answers-*.tsv")
                if path.exists()
            )
            if answered >= buyers:
                break
            time.sleep(0.2)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # wrk stops, prints and exits
        assert process.stdout is not None
        output = process.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - started
        text = "".join(path.read_text() for path in sorted(Path(directory).glob("answers-*.tsv")))
    if os.waitstatus_to_exitcode(status) not in (0, -signal.SIGINT):
        raise RuntimeError(f"wrk exited with {os.waitstatus_to_exitcode(status)}: {output[-800:]}")
    load = as_placed(
        parse_answers(text),
        buyers=buyers,
        start_us=start_us,
        interval_us=interval_us,
        to_monotonic=to_monotonic,
    )
    wrk_cpu = usage.ru_utime + usage.ru_stime
    return {
        "load": load,
        "connections": crowd.connections,
        "threads": crowd.threads,
        "wrk_cpu_seconds": wrk_cpu,
        "wrk_cpu_share_of_one_core": wrk_cpu / wall if wall else None,
        "wrk_cpu_ms_per_buyer": wrk_cpu * 1000 / buyers if buyers else None,
        "generator_late_by_s": load.last_arrival_late_by,
    }


async def drive(
    url: str, *, sku: str, buyers: int, window: float, crowd: Crowd, answer_within: float
) -> tuple[LoadResult, dict[str, Any]]:
    """``open_loop`` off the event loop, as S2's ``drive``: the buyers, and what wrk says of itself."""
    sent = await asyncio.to_thread(
        open_loop, url, sku=sku, buyers=buyers, window=window, crowd=crowd, answer_within=answer_within
    )
    load = sent.pop("load")
    return load, {"name": "wrk (bench/drop.lua)", **sent}
