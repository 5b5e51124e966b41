"""``python -m bench.amqp_settle [--messages N] [--group G] [--rounds R]``: RabbitMQ's CPU per message by how
publishes are confirmed and deliveries acked, on a quorum queue of this machine's server.

Each round publishes ``--messages`` persistent messages of about an envelope's size with publisher confirms, first
one at a time (each confirm awaited before the next publish) and then ``--group`` at a time (their confirms
awaited together); and consumes them (prefetch 64) acking each delivery alone, then acking every ``--group``-th
with ``multiple``. It prints the broker's CPU ms per message (from /proc: the whole server, shared with anything
else on the machine, so rounds alternate) and this process's. It never passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import subprocess
from collections.abc import Coroutine, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from bench import infra

VHOST = f"{infra.VHOST}_settle"
AMQP_URL = f"{infra.RABBITMQ}/{VHOST}"
QUEUE = "bench.amqp_settle"
BODY = b'{"id": "00000000-0000-0000-0000-000000000000", "data": {' + b'"x": "' + b"y" * 600 + b'"}}'


def _rabbitmqctl(*arguments: str, check: bool = True) -> None:
    ctl = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"
    subprocess.run([ctl, "-q", *arguments], capture_output=True, check=check)


def _broker_cpu() -> float:
    return sum(infra.cpu_seconds(pid) or 0.0 for pid in infra.pids_named("beam.smp"))


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _message() -> aio_pika.Message:
    return aio_pika.Message(
        BODY, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT
    )


async def publish(channel: AbstractChannel, *, messages: int, group: int) -> None:
    """``messages`` publishes, ``group`` of them at a time with their confirms awaited together."""
    exchange = channel.default_exchange
    for start in range(0, messages, group):
        count = min(group, messages - start)
        await asyncio.gather(*(exchange.publish(_message(), routing_key=QUEUE) for _ in range(count)))


async def consume(channel: AbstractChannel, *, messages: int, group: int) -> None:
    """Take ``messages`` deliveries; ack each alone (``group`` 1) or every ``group``-th with ``multiple``."""
    queue = await channel.get_queue(QUEUE)
    done = asyncio.Event()
    received = 0

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal received
        received += 1
        if group == 1:
            await message.ack()
        elif received % group == 0 or received == messages:
            await message.ack(multiple=True)
        if received == messages:
            done.set()

    tag = await queue.consume(on_message)
    await asyncio.wait_for(done.wait(), timeout=300)
    await queue.cancel(tag)


async def measure(label: str, step: Coroutine[Any, Any, None], messages: int) -> None:
    broker, own = _broker_cpu(), _own_cpu()
    await step
    broker, own = _broker_cpu() - broker, _own_cpu() - own
    print(
        f"  {label:<44} rabbitmq {broker * 1000 / messages:5.3f}  this process {own * 1000 / messages:5.3f}  ms/msg",
        flush=True,
    )


async def main(arguments: argparse.Namespace) -> None:
    _rabbitmqctl("delete_vhost", VHOST, check=False)
    _rabbitmqctl("add_vhost", VHOST)
    _rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    connection = await aio_pika.connect_robust(AMQP_URL)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.set_qos(prefetch_count=64)
        await channel.declare_queue(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        count, group = arguments.messages, arguments.group
        print(f"{count} messages a measurement, groups of {group}; CPU ms per message", flush=True)
        for round_number in range(1, arguments.rounds + 1):
            for size in (1, group):
                await measure(
                    f"publish, confirms awaited {size} at a time #{round_number}",
                    publish(channel, messages=count, group=size),
                    count,
                )
                await measure(
                    f"consume, {'each acked alone' if size == 1 else f'acked {size} a frame'} #{round_number}",
                    consume(channel, messages=count, group=size),
                    count,
                )
    finally:
        await connection.close()
        _rabbitmqctl("delete_vhost", VHOST, check=False)


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.amqp_settle", description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="messages per measurement")
    parser.add_argument(
        "--group", type=int, default=16, help="publishes confirmed together, deliveries per ack"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each measuring every variant")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
