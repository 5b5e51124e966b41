"""Pure helpers: percentiles, open-loop schedules, /proc parsing, picking the highest good rate."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    fraction = rank - low
    return float(ordered[low] + (ordered[high] - ordered[low]) * fraction)


def summarize(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean, p50, p90, p99 and max of ``values`` (seconds in, seconds out)."""
    return {
        "count": len(values),
        "mean": (sum(values) / len(values)) if values else None,
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def open_loop_schedule(rate: float, duration: float) -> list[float]:
    """Arrival offsets (seconds from the start) for a fixed-rate open-loop load: evenly spaced, independent of answers."""
    if rate <= 0 or duration <= 0:
        return []
    count = round(rate * duration)
    interval = 1.0 / rate
    return [i * interval for i in range(count)]


def parse_proc_stat_cpu_ticks(text: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat; the command may contain spaces and parens."""
    after_command = text[text.rindex(")") + 2 :].split()
    # after ")" the fields start at field 3 (state); utime is field 14 and stime field 15
    utime = int(after_command[14 - 3])
    stime = int(after_command[15 - 3])
    return utime + stime


def parse_vmrss_kib(text: str) -> int | None:
    """VmRSS in KiB from the text of /proc/<pid>/status; None when absent (a zombie or kernel thread)."""
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


@dataclass(frozen=True)
class RatePoint:
    offered: float
    achieved: float
    p99_to_confirmed: float | None
    complete: bool
    """Every order placed at this rate was answered (confirmed or rejected) before the drain deadline."""


def highest_good_rate(points: Iterable[RatePoint], p99_limit: float) -> RatePoint | None:
    """The point with the highest achieved rate whose p99 checkout-to-confirmed is within ``p99_limit``."""
    good = [
        point
        for point in points
        if point.complete and point.p99_to_confirmed is not None and point.p99_to_confirmed <= p99_limit
    ]
    return max(good, key=lambda point: point.achieved, default=None)


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline


def fmt(value: float | int | None, unit: str = "", digits: int = 1) -> str:
    """A figure for the summary: ``-`` when missing."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value}{unit}"
    return f"{value:.{digits}f}{unit}"


def ms(seconds: float | int | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def collapsed_stack_totals(
    lines: Iterable[str], top: int = 15
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """From py-spy ``--format raw`` (collapsed stacks: ``frame;frame;... count``): (self samples, inclusive samples) per frame, largest first."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    for line in lines:
        line = line.strip()
        if not line or " " not in line:
            continue
        stack, _, count_text = line.rpartition(" ")
        try:
            count = int(count_text)
        except ValueError:
            continue
        frames = stack.split(";")
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    by_count = lambda item: -item[1]  # noqa: E731
    return sorted(own.items(), key=by_count)[:top], sorted(inclusive.items(), key=by_count)[:top]


def python_reference_ms(rounds: int = 3) -> float:
    """CPU milliseconds of a fixed pure-Python workload (dict, str and int work, about what a request's framework
    code does), the best of ``rounds``: how fast this machine runs Python today. Per-request figures of runs on
    different hosts (or the same VM on a slower day) compare after dividing by it."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        table: dict[str, int] = {}
        for number in range(200_000):
            key = f"k{number % 1000}"
            table[key] = table.get(key, 0) + number
        best = min(best, time.process_time() - started)
    return best * 1000
