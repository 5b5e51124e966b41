"""``python -m bench.runtime_hop [--messages N] [--hops H] [--in-flight C] [--batch-sizes 1,16] [--compare PATH]``:
what the runtime costs per message.

Messages go through the REAL runtime: a worker process (``shop_runtime.worker.Worker``: its Consumer, Dispatcher,
unit of work and outbox relay) whose handler does one UPDATE and publishes one event through the outbox, which
the relay sends back to the same queue as the next hop; after ``--hops`` hops the last event goes to the bench.
``--in-flight`` chains run at once, against the real PostgreSQL and RabbitMQ, with publisher confirms, quorum
queues and synchronous commit. It prints, per message handled:

- the worker process's CPU ms (from /proc), after a warm-up;
- PostgreSQL's CPU ms, of the backends of the worker's database only (from /proc, by pid);
- RabbitMQ's CPU ms, of the whole server (shared with anything else on the machine: an upper bound);
- round trips to PostgreSQL (writes to the worker's PostgreSQL sockets: its pool's, its relay's, its samplers');
- messages per transaction: the consumer's units of work that ended well, against the messages they held;

and the same figures for the bare hop of ``bench/baseline.py`` (asyncpg and aio-pika, inbox, effect and
outbox in one transaction, one confirmed publish per hop), measured in the same run. With ``--compare PATH``
the worker runs alternately with the runtime under PATH (a copy of ``libs/runtime/src``) and with this tree's,
``--rounds`` times each, so an old and a new runtime meet the same machine load; ``--compare-loop uvloop`` runs
the compared worker on uvloop's event loop (round trips are then not counted: they are read off asyncio's
socket transport). ``--batch-sizes`` runs this tree's worker once per consumer batch size given
(``SHOP_RUNTIME_HOP_CONSUMER_BATCH_SIZE``), alternating in each round; with ``--in-flight`` above the worker's
concurrency (64, say) its queue holds a backlog, as in a drop. It never passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.selector_events
import cProfile
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import aio_pika
import asyncpg
import sqlalchemy as sa
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from fastapi import FastAPI
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import infra
from bench.baseline import EFFECTS, BarePipeline
from shop_contracts import Envelope, Message
from shop_contracts.envelope import MessageKind
from shop_contracts.routing import EVENTS_EXCHANGE, service_queue
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import UnitOfWork
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.metrics import REGISTRY
from shop_runtime.service import ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings
from shop_runtime.telemetry import setup_telemetry
from shop_runtime.worker import Worker

SERVICE = "runtime_hop"
VHOST = f"{infra.VHOST}_hop"
AMQP_URL = f"{infra.RABBITMQ}/{VHOST}"
DONE_QUEUE = "bench.runtime_hop.done"
WARM_UP_CHAINS = 40
PROFILE_ENVIRONMENT = "SHOP_BENCH_HOP_PROFILE"
"""When set, the worker process profiles its measured phase (cProfile on the CPU clock) into this file."""

metadata = sa.MetaData()
outbox, inbox = add_messaging_tables(metadata)
chains = sa.Table(
    "chains",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hops", sa.Integer, nullable=False, server_default="0"),
)
ADVANCE = sa.update(chains).where(chains.c.id == sa.bindparam("chain_id")).values(hops=chains.c.hops + 1)


class HopLine(BaseModel):
    model_config = {"frozen": True}

    sku: str
    quantity: int
    unit_price: int


class HopAdvanced(Message):
    """One hop of a chain: about the size of an order's event, with nested lines to validate."""

    TYPE: ClassVar[str] = "bench.hop.advanced.v1"
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = SERVICE
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE

    order_id: str
    chain: int
    hop: int
    hops: int
    customer_email: str
    currency: str
    lines: list[HopLine]
    total: int


class HopFinished(Message):
    TYPE: ClassVar[str] = "bench.hop.finished.v1"
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = SERVICE
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE

    order_id: str
    chain: int


class HopSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SHOP_RUNTIME_HOP_", extra="ignore", frozen=True)

    service_name = SERVICE
    http_port: int = 0


BATCH_SIZE_ENVIRONMENT = "SHOP_RUNTIME_HOP_CONSUMER_BATCH_SIZE"


async def advance(message: HopAdvanced, uow: UnitOfWork) -> None:
    """The handler of every hop: one UPDATE, one event to the outbox, one commit."""
    await uow.session.execute(ADVANCE, {"chain_id": message.chain})
    if message.hop + 1 < message.hops:
        uow.publish(message.model_copy(update={"hop": message.hop + 1}), subject=message.order_id)
    else:
        uow.publish(HopFinished(order_id=message.order_id, chain=message.chain), subject=message.order_id)
    await uow.commit()


def _subscriptions(context: WorkerContext) -> Subscriptions:
    return {HopAdvanced: advance}


def _no_app(settings: ServiceSettings) -> FastAPI:
    raise NotImplementedError("the hop service has no HTTP process")


DEFINITION = ServiceDefinition(
    name=SERVICE,
    settings_class=HopSettings,
    metadata=metadata,
    migrations_path=Path("unused"),
    create_app=_no_app,
    subscriptions=_subscriptions,
)


# --- the worker process -----------------------------------------------------------------------------------


def serve(database_url: str, amqp_url: str, counters: Path, loop: str) -> None:
    """Run the hop worker until SIGTERM; on SIGUSR1 write its round trips and CPU so far to ``counters``."""
    settings = HopSettings(database_url=database_url, amqp_url=amqp_url)
    provider = setup_telemetry(
        SERVICE, process="worker", otlp_endpoint=None, span_file=None, log_level=settings.log_level
    )
    try:
        if loop == "uvloop":
            import uvloop

            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                runner.run(_serve(settings, counters))
        else:
            asyncio.run(_serve(settings, counters))
    finally:
        provider.shutdown()


async def _serve(settings: HopSettings, counters: Path) -> None:
    worker = Worker(DEFINITION, settings)
    round_trips = 0
    dumps = 0

    postgres_port = make_url(settings.database_url).port or 5432
    transport_class: Any = asyncio.selector_events._SelectorSocketTransport  # type: ignore[attr-defined]
    plain_write = transport_class.write

    def counted_write(transport: asyncio.Transport, data: Any) -> None:
        # Every write to a PostgreSQL socket is a round trip: the pool's, the relay's, the samplers'.
        nonlocal round_trips
        peer = transport.get_extra_info("peername")
        if peer is not None and peer[1] == postgres_port:
            round_trips += 1
        plain_write(transport, data)

    transport_class.write = counted_write
    profile_path = os.environ.get(PROFILE_ENVIRONMENT)
    profiler = cProfile.Profile(time.process_time) if profile_path else None

    def dump() -> None:
        nonlocal dumps
        dumps += 1
        if profiler is not None and profile_path:
            # The measured phase lies between the first and the second dump.
            if dumps == 1:
                profiler.enable()
            elif dumps == 2:
                profiler.disable()
                profiler.dump_stats(profile_path)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        figures = {
            "dump": dumps,
            "round_trips": round_trips,
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            # None from a runtime that does not count its units of work (an older one under --compare).
            "units_of_work": _sample("shop_consumer_unit_of_work_messages_count"),
            "messages_in_units": _sample("shop_consumer_unit_of_work_messages_sum"),
        }
        partial = counters.with_suffix(".tmp")
        partial.write_text(json.dumps(figures))
        partial.replace(counters)

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, worker.stopping.set)
    loop.add_signal_handler(signal.SIGUSR1, dump)
    if await worker.start():
        await worker.stopping.wait()
    await worker.stop()


def _sample(name: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"queue": service_queue(SERVICE)})


# --- the bench --------------------------------------------------------------------------------------------


def _rabbitmqctl(*arguments: str, check: bool = True) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "-q", *arguments], capture_output=True, check=check)


def reset_vhost() -> None:
    _rabbitmqctl("delete_vhost", VHOST, check=False)
    _rabbitmqctl("add_vhost", VHOST)
    _rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")


def _first_message(chain: int, hops: int) -> HopAdvanced:
    return HopAdvanced(
        order_id=str(uuid.uuid4()),
        chain=chain,
        hop=0,
        hops=hops,
        customer_email=f"buyer-{chain}@example.com",
        currency="KRW",
        lines=[
            HopLine(sku="BENCH-00", quantity=1, unit_price=39000),
            HopLine(sku="BENCH-01", quantity=2, unit_price=12000),
        ],
        total=63000,
    )


@dataclass
class Snapshot:
    worker_cpu: float
    round_trips: int
    units_of_work: float | None
    messages_in_units: float | None
    backends: dict[int, float]
    rabbitmq_cpu: float
    own_cpu: float


@dataclass
class Figures:
    label: str
    messages: int
    worker_ms: float
    postgres_ms: float
    rabbitmq_ms: float
    round_trips: float | None
    seconds: float
    messages_per_transaction: float | None = None

    def line(self) -> str:
        trips = "   -" if self.round_trips is None else f"{self.round_trips:4.1f}"
        batches = "   -" if self.messages_per_transaction is None else f"{self.messages_per_transaction:4.1f}"
        return (
            f"  {self.label:<38} {self.messages:>6} msgs  worker {self.worker_ms:5.2f}  postgres "
            f"{self.postgres_ms:5.2f}  rabbitmq* {self.rabbitmq_ms:5.2f}  ms/msg  round trips {trips}  "
            f"msgs/transaction {batches}  ({self.messages / self.seconds:.0f} msgs/s)"
        )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rabbitmq_cpu() -> float:
    return sum(infra.cpu_seconds(pid) or 0.0 for pid in infra.pids_named("beam.smp"))


async def _backends(database: str) -> dict[int, float]:
    """CPU seconds so far of every backend connected to ``database`` (by pid, from /proc)."""
    connection = await asyncpg.connect(f"{infra.POSTGRES}/postgres")
    try:
        pids = [
            row["pid"]
            for row in await connection.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
        ]
    finally:
        await connection.close()
    return {pid: infra.cpu_seconds(pid) or 0.0 for pid in pids}


def _backend_cpu(before: dict[int, float], after: dict[int, float]) -> float:
    # A backend that started during the run spent all its CPU in it; one that ended is lost (none should).
    return sum(max(cpu - before.get(pid, 0.0), 0.0) for pid, cpu in after.items())


class HopRun:
    """One worker process, with one runtime, and the chains pushed through it."""

    def __init__(
        self,
        *,
        runtime: Path | None,
        hops: int,
        in_flight: int,
        directory: Path,
        loop: str = "asyncio",
        profile: Path | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.runtime = runtime
        self.batch_size = batch_size
        self.loop = loop
        self.profile = profile
        self.hops = hops
        self.in_flight = in_flight
        self.counters = directory / "counters.json"
        self.log = directory / "worker.log"
        self.database = f"{infra.DATABASE_PREFIX}runtime_hop"
        self.process: subprocess.Popen[bytes] | None = None
        self._finished: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._dumps = 0

    async def setup(self, chain_count: int) -> None:
        url = await infra.recreate_database("runtime_hop")
        self.database_url = url.replace("postgresql://", "postgresql+asyncpg://")
        engine = create_async_engine(self.database_url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(metadata.create_all)
                await connection.execute(sa.insert(chains), [{"id": chain} for chain in range(chain_count)])
        finally:
            await engine.dispose()

    def start_worker(self) -> None:
        self.counters.unlink(missing_ok=True)  # a file left by the last worker would read as this one's
        environment = dict(os.environ)
        if self.profile is not None:
            environment[PROFILE_ENVIRONMENT] = str(self.profile)
        if self.runtime is not None:
            environment["PYTHONPATH"] = f"{self.runtime}:{environment.get('PYTHONPATH', '')}"
        if self.batch_size is not None:
            environment[BATCH_SIZE_ENVIRONMENT] = str(self.batch_size)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.runtime_hop",
                "--serve",
                "--database-url",
                self.database_url,
                "--amqp-url",
                AMQP_URL,
                "--counters",
                str(self.counters),
                "--loop",
                self.loop,
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )

    async def stop_worker(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None

    async def _wait_consuming(self, broker: AbstractRobustConnection) -> None:
        deadline = time.monotonic() + 60
        channel = await broker.channel()
        try:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"the hop worker exited; see {self.log}")
                try:
                    queue = await channel.declare_queue(service_queue(SERVICE), passive=True, robust=False)
                    if queue.declaration_result.consumer_count:
                        return
                except aio_pika.exceptions.ChannelClosed:
                    channel = await broker.channel()
                await asyncio.sleep(0.2)
        finally:
            if not channel.is_closed:
                await channel.close()
        raise TimeoutError("the hop worker did not start consuming within 60 s")

    async def _snapshot(self) -> Snapshot:
        assert self.process is not None
        self._dumps += 1
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while True:
            try:
                figures = json.loads(self.counters.read_text())
                if figures["dump"] >= self._dumps:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the hop worker did not write its counters")
            await asyncio.sleep(0.02)
        return Snapshot(
            worker_cpu=infra.cpu_seconds(self.process.pid) or 0.0,
            round_trips=int(figures["round_trips"]),
            units_of_work=figures.get("units_of_work"),
            messages_in_units=figures.get("messages_in_units"),
            backends=await _backends(self.database),
            rabbitmq_cpu=_rabbitmq_cpu(),
            own_cpu=_own_cpu(),
        )

    async def _on_done(self, message: AbstractIncomingMessage) -> None:
        envelope = json.loads(message.body)
        self._finished.setdefault(envelope["data"]["order_id"], time.monotonic())
        self._changed.set()

    async def _push(self, broker: AbstractRobustConnection, first_chain: int, count: int) -> None:
        """Start ``count`` chains, at most ``in_flight`` at once, and wait until every one finished."""
        channel = await broker.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        started: list[str] = []

        async def start(chain: int) -> None:
            message = _first_message(chain, self.hops)
            envelope = Envelope.wrap(message, subject=message.order_id, correlation_id=message.order_id)
            trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
            await exchange.publish(
                aio_pika.Message(
                    envelope.model_dump_json().encode(),
                    content_type="application/json",
                    message_id=str(envelope.id),
                    type=envelope.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    headers={
                        "correlation_id": message.order_id,
                        "traceparent": f"00-{trace_id}-{span_id}-01",
                    },
                ),
                routing_key=message.routing_key(),
            )
            started.append(message.order_id)

        deadline = time.monotonic() + 600
        chain, end = first_chain, first_chain + count
        while chain < end:
            room = self.in_flight - (len(started) - sum(1 for order in started if order in self._finished))
            if room <= 0:
                self._changed.clear()
                await self._wait_change(deadline)
                continue
            # The chains there is room for are started together (confirms awaited side by side), so an
            # --in-flight as large as the chains fills the queue faster than the worker empties it: a backlog.
            chunk = range(chain, min(end, chain + room, chain + 200))
            await asyncio.gather(*(start(one) for one in chunk))
            chain = chunk.stop
        while any(order not in self._finished for order in started):
            self._changed.clear()
            await self._wait_change(deadline)
        await channel.close()

    async def _wait_change(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("chains did not finish within 600 s")
        try:
            await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 1.0))
        except TimeoutError:
            pass

    async def measure(self, *, label: str, messages: int) -> Figures:
        reset_vhost()
        chain_count = max(messages // self.hops, 1)
        await self.setup(WARM_UP_CHAINS + chain_count)
        broker = await aio_pika.connect_robust(AMQP_URL, client_properties={"connection_name": "bench"})
        try:
            channel = await broker.channel()
            exchange = await channel.declare_exchange(
                EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            done = await channel.declare_queue(DONE_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
            await done.bind(exchange, routing_key=HopFinished.TYPE)
            await done.consume(self._on_done, no_ack=True)
            self.start_worker()
            await self._wait_consuming(broker)
            await self._push(broker, 0, WARM_UP_CHAINS)
            before = await self._snapshot()
            started = time.monotonic()
            await self._push(broker, WARM_UP_CHAINS, chain_count)
            seconds = time.monotonic() - started
            after = await self._snapshot()
        finally:
            await self.stop_worker()
            await broker.close()
        handled = chain_count * self.hops
        return Figures(
            label=label,
            messages=handled,
            worker_ms=(after.worker_cpu - before.worker_cpu) * 1000 / handled,
            postgres_ms=_backend_cpu(before.backends, after.backends) * 1000 / handled,
            rabbitmq_ms=(after.rabbitmq_cpu - before.rabbitmq_cpu) * 1000 / handled,
            round_trips=(after.round_trips - before.round_trips) / handled,
            seconds=seconds,
            messages_per_transaction=_per_transaction(before, after),
        )


def _per_transaction(before: Snapshot, after: Snapshot) -> float | None:
    if None in (before.units_of_work, after.units_of_work, before.messages_in_units, after.messages_in_units):
        return None
    units = (after.units_of_work or 0) - (before.units_of_work or 0)
    messages = (after.messages_in_units or 0) - (before.messages_in_units or 0)
    return messages / units if units else None


async def bare_hops(*, messages: int, in_flight: int) -> Figures:
    """The bare pipeline of bench/baseline.py (5 hops an order, consumers and load in this process)."""
    orders = max(messages // 5, 1)
    connection = await aio_pika.connect_robust(AMQP_URL, client_properties={"connection_name": "bench"})
    try:
        channel = await connection.channel()
        pipeline = BarePipeline()
        await pipeline.setup(channel)
        await pipeline.consume(connection)
        names = [f"{infra.DATABASE_PREFIX}bare_{service}" for service in pipeline.pools]
        backends_before: dict[int, float] = {}
        for name in names:
            backends_before |= await _backends(name)
        rabbitmq_before, own_before = _rabbitmq_cpu(), _own_cpu()
        result = await pipeline.run(channel, orders=orders, in_flight=in_flight, timeout=600)
        own, rabbitmq = _own_cpu() - own_before, _rabbitmq_cpu() - rabbitmq_before
        backends_after: dict[int, float] = {}
        for name in names:
            backends_after |= await _backends(name)
        await pipeline.close(channel)
    finally:
        await connection.close()
    handled = result["completed"] * 5
    return Figures(
        label="bare hop (bench/baseline.py)",
        messages=handled,
        worker_ms=own * 1000 / handled,
        postgres_ms=_backend_cpu(backends_before, backends_after) * 1000 / handled,
        rabbitmq_ms=rabbitmq * 1000 / handled,
        round_trips=None,
        seconds=result["seconds"],
    )


async def main(arguments: argparse.Namespace) -> list[Figures]:
    directory = infra.VAR / (f"runtime_hop_{infra.RUN}" if infra.RUN else "runtime_hop")  # two benches apart
    directory.mkdir(parents=True, exist_ok=True)
    variants: list[tuple[str, Path | None, str, int | None]] = [
        (f"runtime (this tree, batch {size})", None, "asyncio", size) for size in arguments.batch_sizes
    ] or [("runtime (this tree)", None, "asyncio", None)]
    if arguments.compare is not None or arguments.compare_loop != "asyncio":
        compared = (f"runtime ({arguments.compare_label})", arguments.compare, arguments.compare_loop, None)
        variants = [compared, *variants]
    results: list[Figures] = []
    print(
        f"{arguments.messages} messages, {arguments.hops} hops a chain, {arguments.in_flight} chains in flight; "
        "CPU ms per message handled",
        flush=True,
    )
    for round_number in range(arguments.rounds):
        for label, runtime, loop, batch_size in variants:
            run = HopRun(
                runtime=runtime,
                hops=arguments.hops,
                in_flight=arguments.in_flight,
                directory=directory,
                loop=loop,
                profile=arguments.profile if (runtime, loop) == (None, "asyncio") else None,
                batch_size=batch_size,
            )
            figures = await run.measure(label=f"{label} #{round_number + 1}", messages=arguments.messages)
            print(figures.line(), flush=True)
            results.append(figures)
        if not arguments.no_bare:
            figures = await bare_hops(messages=arguments.messages, in_flight=arguments.in_flight)
            figures.label = f"{figures.label} #{round_number + 1}"
            print(figures.line(), flush=True)
            results.append(figures)
    print(
        "  * rabbitmq is the whole server's CPU over the run (shared with anything else on the machine). The bare "
        "hop's 'worker' is this process (its three consumers and its load); its round trips are 5 a hop by "
        "construction (BEGIN, inbox, effect, outbox, COMMIT).",
        flush=True,
    )
    _rabbitmqctl("delete_vhost", VHOST, check=False)
    await _drop_databases(["runtime_hop", *(f"bare_{service}" for service in EFFECTS)])
    return results


async def _drop_databases(names: list[str]) -> None:
    """Drop this bench's databases only: another bench of the same run may be using the others."""
    admin = await asyncpg.connect(f"{infra.POSTGRES}/postgres")
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{infra.DATABASE_PREFIX}{name}" WITH (FORCE)')
    finally:
        await admin.close()


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.runtime_hop", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages handled per measurement")
    parser.add_argument("--hops", type=int, default=5, help="hops (messages) per chain")
    parser.add_argument("--in-flight", type=int, default=4, help="chains in flight at once")
    parser.add_argument("--rounds", type=int, default=1, help="measurements of each runtime, alternating")
    parser.add_argument(
        "--batch-sizes",
        type=lambda text: [int(size) for size in text.split(",")],
        default=[],
        help="run this tree's worker with each of these consumer batch sizes (e.g. 1,16), alternating",
    )
    parser.add_argument(
        "--compare", type=Path, help="also run the worker with the runtime package under PATH"
    )
    parser.add_argument(
        "--compare-loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the event loop of the compared worker (alone: this tree's runtime on that loop)",
    )
    parser.add_argument("--compare-label", default="compared", help="how the --compare runtime is named")
    parser.add_argument(
        "--profile", type=Path, help="profile this tree's worker (cProfile, CPU clock) into this file"
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare hop")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--amqp-url", help=argparse.SUPPRESS)
    parser.add_argument("--counters", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--loop", default="asyncio", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    parsed = parse()
    if parsed.serve:
        serve(parsed.database_url, parsed.amqp_url, parsed.counters, parsed.loop)
    else:
        asyncio.run(main(parsed))
