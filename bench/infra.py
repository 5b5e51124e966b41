"""The bench's own stack, vhost and databases, process sampling (/proc) and the event probe."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from bench.stats import parse_proc_stat_cpu_ticks, parse_vmrss_kib
from scripts.stack import ROOT, SERVICES, StackConfig

POSTGRES = "postgresql://postgres@127.0.0.1:5432"
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672"
RUN = os.environ.get("SHOP_BENCH_RUN") or os.environ.get("SHOP_TEST_RUN") or ""
"""Names this bench's vhost and databases (``SHOP_BENCH_RUN``, else ``SHOP_TEST_RUN``), so two benches, or a
bench and test runs, share one PostgreSQL and RabbitMQ without touching each other's."""
VHOST = f"shop_bench_{RUN}" if RUN else "shop_bench"
DATABASE_PREFIX = f"bench_{RUN}_" if RUN else "shop_bench_"
"""A named run's prefix does not start with ``shop_bench_``, which an unnamed bench drops wholesale."""
AMQP_URL = f"{RABBITMQ}/{VHOST}"
VAR = ROOT / "var" / "bench"
STAFF_KEY = "bench-staff-key-0123456789"
WAREHOUSE_KEY = "bench-warehouse-key-0123456789"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
EVENTS_EXCHANGE = "shop.events"


def operator_settings() -> dict[str, str]:
    """Settings given to the bench's environment for the shop (``SHOP_ORDERS_WORKER_NICE=10``, say): passed on to
    every process of the bench stack, over the bench's own. The bench's and the tests' own variables are not."""
    return {
        key: value
        for key, value in os.environ.items()
        if key.startswith("SHOP_") and not key.startswith(("SHOP_BENCH_", "SHOP_TEST_"))
    }


PORT_SPAN = 2000
"""How far above ``SHOP_BENCH_PORT_BASE`` the bench listens (services +101, their metrics +1000, helpers +900)."""


def ports_among_ephemeral(base: int | None = None, ephemeral: tuple[int, int] | None = None) -> str | None:
    """Why the bench's ports may be taken by the kernel for outgoing connections, or None when they cannot be.

    A port inside ``ip_local_port_range`` can be any client socket's local port (the drop opens thousands), and
    a process started later (the single-process floor, bound near the end of a run) then fails to bind it.
    """
    if base is None:
        base = int(os.environ.get("SHOP_BENCH_PORT_BASE", "28000"))
    if ephemeral is None:
        try:
            first, last = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
            ephemeral = (int(first), int(last))
        except (OSError, ValueError):
            return None
    low, high = ephemeral
    if base > high or base + PORT_SPAN < low:
        return None
    return (
        f"SHOP_BENCH_PORT_BASE={base} puts the bench's ports ({base}-{base + PORT_SPAN}) inside the kernel's "
        f"ephemeral range ({low}-{high}); a process bound late in the run may find its port taken by an outgoing "
        f"connection. Choose a base below {low - PORT_SPAN} or above {high}."
    )


def stack_config() -> StackConfig:
    """The bench stack: own databases, vhost and ports; span files off (production exports OTLP, if anything).

    Ports start at ``SHOP_BENCH_PORT_BASE`` (28000): gateway there, services from +101, their workers' metrics
    1000 above, SMTP at +25, the single-process floor (bench.direct) at +90; move it when a test stack on the
    machine already uses those.
    """
    extra = {f"SHOP_{service.upper()}_SPAN_FILE": "" for service in SERVICES}
    extra["SHOP_GATEWAY_SPAN_FILE"] = ""
    # Every buyer of the bench comes from 127.0.0.1: a per-client ceiling far above what it sends keeps the
    # limiter on the path (its cost is measured) without refusing the crowd a drop would bring from many addresses.
    extra["SHOP_GATEWAY_CHECKOUT_RATE_PER_SECOND"] = "1000000"
    extra.update(operator_settings())
    base = int(os.environ.get("SHOP_BENCH_PORT_BASE", "28000"))
    return StackConfig(
        postgres="postgresql+asyncpg://postgres@127.0.0.1:5432",
        database_prefix=DATABASE_PREFIX,
        amqp_url=AMQP_URL,
        gateway_port=base,
        first_service_port=base + 101,
        smtp_port=base + 25,
        var=VAR / "stack",
        staff_api_key=STAFF_KEY,
        warehouse_api_key=WAREHOUSE_KEY,
        extra_env=extra,
    )


def _rabbitmqctl() -> str:
    return shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


def reset_vhost() -> None:
    ctl = _rabbitmqctl()
    subprocess.run([ctl, "-q", "delete_vhost", VHOST], capture_output=True, check=False)
    subprocess.run([ctl, "-q", "add_vhost", VHOST], capture_output=True, check=True)
    subprocess.run(
        [ctl, "-q", "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
        capture_output=True,
        check=True,
    )


def delete_vhost() -> None:
    subprocess.run([_rabbitmqctl(), "-q", "delete_vhost", VHOST], capture_output=True, check=False)


def database_url(name: str) -> str:
    return f"{POSTGRES}/{DATABASE_PREFIX}{name}"


async def recreate_database(name: str) -> str:
    """Drop and create ``shop_bench_<name>``; return its asyncpg URL."""
    admin = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE_PREFIX}{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE_PREFIX}{name}"')
    finally:
        await admin.close()
    return database_url(name)


async def drop_bench_databases() -> list[str]:
    """Drop every ``shop_bench_*`` database; return their names."""
    admin = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        names = [
            row["datname"]
            for row in await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1",
                DATABASE_PREFIX.replace("_", r"\_") + "%",
            )
        ]
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
    return names


async def amqp() -> AbstractRobustConnection:
    return await aio_pika.connect_robust(AMQP_URL, client_properties={"connection_name": "bench"})


def cpu_seconds(pid: int) -> float | None:
    try:
        return parse_proc_stat_cpu_ticks(Path(f"/proc/{pid}/stat").read_text()) / CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return None


def rss_mib(pid: int) -> float | None:
    try:
        kib = parse_vmrss_kib(Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return None if kib is None else kib / 1024


def pids_named(command_name: str) -> list[int]:
    """Every process whose comm is ``command_name`` (e.g. postgres, beam.smp): shared servers, for context."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command_name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy_seconds() -> float:
    """All CPUs' non-idle time since boot (seconds), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(value) for value in fields]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / CLOCK_TICKS


class CpuMeter:
    """CPU seconds per process between ``start`` and ``stop`` (stack processes, this process, the shared servers)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self.pids["bench (load generator)"] = os.getpid()
        self._before: dict[str, float] = {}
        self._machine_before = 0.0
        self._wall_before = 0.0

    def _servers(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for label, comm in (
            ("postgres (all backends, shared)", "postgres"),
            ("rabbitmq (shared)", "beam.smp"),
        ):
            totals[label] = sum(cpu_seconds(pid) or 0.0 for pid in pids_named(comm))
        return totals

    def _read(self) -> dict[str, float]:
        values = {name: cpu_seconds(pid) or 0.0 for name, pid in self.pids.items()}
        values.update(self._servers())
        return values

    def start(self) -> None:
        self._before = self._read()
        self._machine_before = machine_busy_seconds()
        self._wall_before = time.monotonic()

    def stop(self) -> dict[str, Any]:
        after = self._read()
        used = {name: max(after.get(name, 0.0) - before, 0.0) for name, before in self._before.items()}
        wall = time.monotonic() - self._wall_before
        machine = machine_busy_seconds() - self._machine_before
        used["other processes on the machine (not this bench)"] = max(machine - sum(used.values()), 0.0)
        return {
            "wall_seconds": wall,
            "cpu_seconds": used,
            "machine_busy_seconds": machine,
            "machine_capacity_seconds": wall * (os.cpu_count() or 1),
        }


@dataclass
class RssSampler:
    """Samples VmRSS of each process every ``interval`` seconds; keeps the peak per process."""

    pids: dict[str, int]
    interval: float = 0.5
    peak: dict[str, float] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def snapshot(self) -> dict[str, float | None]:
        return {name: rss_mib(pid) for name, pid in self.pids.items()}

    async def _run(self) -> None:
        while True:
            for name, value in self.snapshot().items():
                if value is not None:
                    self.peak[name] = max(self.peak.get(name, 0.0), value)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self.peak.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict[str, float]:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        return dict(self.peak)


class EventProbe:
    """An exclusive queue in the bench vhost bound to order outcome events: when each order id was answered."""

    ROUTING_KEYS = (
        "orders.order.confirmed.v2",
        "orders.order.rejected.v1",
        "catalog.stock.reserved.v1",
        "catalog.stock.rejected.v1",
    )

    def __init__(self) -> None:
        self.seen: dict[str, dict[str, float]] = {}
        """order id -> message type -> monotonic time it arrived here."""
        self.counts: dict[str, int] = {}
        self._changed = asyncio.Event()
        self._connection: AbstractRobustConnection | None = None

    async def start(self) -> None:
        self._connection = await amqp()
        channel = await self._connection.channel()
        await channel.set_qos(prefetch_count=1000)
        exchange = await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        for key in self.ROUTING_KEYS:
            await queue.bind(exchange, routing_key=key)
        await queue.consume(self._on_message, no_ack=True)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        now = time.monotonic()
        envelope = json.loads(message.body)
        order_id = str(envelope.get("data", {}).get("order_id", ""))
        kind = str(envelope.get("type", message.routing_key or ""))
        self.seen.setdefault(order_id, {}).setdefault(kind, now)
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self._changed.set()

    def answered(self, order_id: str) -> tuple[str, float] | None:
        """('confirmed' | 'rejected', time) once the order has a final outcome."""
        events = self.seen.get(order_id, {})
        for kind, label in (
            ("orders.order.confirmed.v2", "confirmed"),
            ("orders.order.rejected.v1", "rejected"),
        ):
            if kind in events:
                return label, events[kind]
        return None

    async def wait_answered(self, order_ids: Iterable[str], timeout: float) -> bool:
        """Wait until every order id has a final outcome, or ``timeout`` seconds; say whether all did."""
        pending = set(order_ids)
        deadline = time.monotonic() + timeout
        while True:
            pending = {order_id for order_id in pending if self.answered(order_id) is None}
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
