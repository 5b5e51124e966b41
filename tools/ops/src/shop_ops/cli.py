"""``shop-ops``: the operators' command line. It parses, calls the ops modules and prints; nothing more."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO

import aio_pika
from sqlalchemy.exc import SQLAlchemyError

from shop_ops import jobs, queries
from shop_ops.audit import AuditOptions, audit
from shop_ops.databases import read_only_snapshots
from shop_ops.deadlines import DEFAULT_STEP_DEADLINE, find_stuck
from shop_ops.durations import parse_duration
from shop_ops.formatting import (
    audit_lines,
    order_lines,
    parked_job_lines,
    parked_list_lines,
    parked_message_lines,
    stuck_lines,
)
from shop_ops.settings import BROKER_SERVICES, OpsSettings
from shop_ops.timeline import order_view
from shop_runtime import dead_letters

USAGE_ERROR = 2


def _duration(text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shop-ops", description="Operators' tools for the shop.")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser(
        "audit",
        help="check the invariants across every service database (read-only)",
        description="Exit 0 when every invariant holds, 1 on a violation, 2 when a check could not run.",
    )
    check.add_argument(
        "--outbox-max-age", type=_duration, help="unpublished outbox rows older are violations"
    )
    check.add_argument(
        "--fulfillment-grace", type=_duration, help="confirmed orders may lack fulfillment this long"
    )
    check.add_argument(
        "--waiting-after", type=_duration, help="report paid orders unshipped longer as waiting"
    )

    letters = commands.add_parser("dead-letters", help="parked messages").add_subparsers(
        dest="action", required=True
    )
    listing = letters.add_parser("list", help="parked counts and messages per service")
    listing.add_argument("--service", choices=BROKER_SERVICES)
    show = letters.add_parser("show", help="one parked message: error, traceback, route, headers, body")
    show.add_argument("service", choices=BROKER_SERVICES)
    show.add_argument("message_id")
    replay = letters.add_parser("replay", help="re-publish to the original exchange and unpark")
    replay.add_argument("service", choices=BROKER_SERVICES)
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("message_id", nargs="?")
    which.add_argument("--all", action="store_true", help="every message parked when the replay starts")
    purge = letters.add_parser("purge", help="delete every parked message of a service")
    purge.add_argument("service", choices=BROKER_SERVICES)
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    scheduled = commands.add_parser("jobs", help="parked scheduled jobs").add_subparsers(
        dest="action", required=True
    )
    parked = scheduled.add_parser("list", help="parked jobs per service: key, kind, attempts, error")
    parked.add_argument("--service", choices=jobs.JOB_SERVICES)
    again = scheduled.add_parser("run-again", help="give a parked job a fresh set of attempts, due now")
    again.add_argument("service", choices=jobs.JOB_SERVICES)
    again.add_argument("key")

    order = commands.add_parser("order", help="one order's timeline across every service and its saga step")
    order.add_argument("order_id")

    stuck = commands.add_parser("stuck", help="orders past a saga step's deadline, with the reason")
    stuck.add_argument("--older-than", type=_duration, default=DEFAULT_STEP_DEADLINE, help="default 5m")
    return parser


class Cli:
    def __init__(self, settings: OpsSettings, stdout: TextIO, stdin: TextIO) -> None:
        self.settings = settings
        self.stdout = stdout
        self.stdin = stdin

    def print(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.stdout)

    async def audit(self, args: argparse.Namespace) -> int:
        settings = self.settings
        options = AuditOptions(
            now=datetime.now(UTC),
            outbox_max_age=args.outbox_max_age or timedelta(seconds=settings.outbox_max_age_seconds),
            fulfillment_grace=args.fulfillment_grace or timedelta(seconds=settings.fulfillment_grace_seconds),
            waiting_after=args.waiting_after or timedelta(seconds=settings.waiting_after_seconds),
        )
        report = await audit(settings.database_urls(), options)
        self.print(*audit_lines(report))
        return report.exit_code

    async def order(self, args: argparse.Namespace) -> int:
        async with read_only_snapshots(self.settings.database_urls()) as snapshots:
            view = await order_view(snapshots, args.order_id)
        self.print(*order_lines(view, now=datetime.now(UTC), trace_url=self.settings.jaeger_url or None))
        return 0 if view.found else 1

    async def stuck(self, args: argparse.Namespace) -> int:
        now = datetime.now(UTC)
        urls = self.settings.database_urls()
        async with read_only_snapshots({name: urls[name] for name in ("orders", "fulfillment")}) as snapshots:
            waiting = await queries.order_states(
                snapshots.connection("orders"),
                statuses=("pending", "reserved", "confirmed"),
                changed_before=now - args.older_than,
            )
            confirmed = [order.order_id for order in waiting if order.status == "confirmed"]
            shipments = await queries.fulfillment_orders(
                snapshots.connection("fulfillment"), order_ids=confirmed
            )
        stuck = find_stuck(
            waiting, with_fulfillment={s.order_id for s in shipments}, now=now, deadline=args.older_than
        )
        self.print(*stuck_lines(stuck, now=now, deadline=args.older_than))
        return 0

    async def jobs(self, args: argparse.Namespace) -> int:
        urls = self.settings.database_urls()
        if args.action == "run-again":
            if await jobs.run_again(urls[args.service], args.key, now=datetime.now(UTC)):
                self.print(f"{args.service}: {args.key} runs again now")
                return 0
            self.print(f"{args.service}: no parked job {args.key}")
            return 1
        services = [args.service] if args.service else list(jobs.JOB_SERVICES)
        async with read_only_snapshots({service: urls[service] for service in services}) as snapshots:
            for service in services:
                self.print(*parked_job_lines(service, await jobs.parked_jobs(snapshots.connection(service))))
        return 0

    async def dead_letters(self, args: argparse.Namespace) -> int:
        if args.action == "purge" and not args.yes and not self.stdin.isatty():
            self.print(
                f"refusing to purge the parked messages of {args.service} without a terminal; pass --yes"
            )
            return USAGE_ERROR
        connection = await aio_pika.connect(self.settings.amqp_url)
        try:
            match args.action:
                case "list":
                    return await self._list(
                        connection, [args.service] if args.service else list(BROKER_SERVICES)
                    )
                case "show":
                    return await self._show(connection, args.service, args.message_id)
                case "replay":
                    return await self._replay(connection, args.service, None if args.all else args.message_id)
                case _:
                    return await self._purge(connection, args.service, confirmed=args.yes)
        except dead_letters.ParkingQueueMissing as error:
            self.print(f"{args.service}: {error}")
            return 1
        finally:
            await connection.close()

    async def _list(self, connection: aio_pika.abc.AbstractConnection, services: list[str]) -> int:
        for service in services:
            try:
                messages = await dead_letters.list_parked(connection, service)
            except dead_letters.ParkingQueueMissing as error:
                self.print(*parked_list_lines(service, None, [], str(error)))
                continue
            self.print(*parked_list_lines(service, len(messages), messages, None))
        return 0

    async def _show(self, connection: aio_pika.abc.AbstractConnection, service: str, message_id: str) -> int:
        message = await dead_letters.find_parked(connection, service, message_id)
        if message is None:
            self.print(f"no parked message {message_id} in {service}")
            return 1
        self.print(*parked_message_lines(message))
        return 0

    async def _replay(
        self, connection: aio_pika.abc.AbstractConnection, service: str, message_id: str | None
    ) -> int:
        outcome = await dead_letters.replay(connection, service, message_id=message_id)
        for replayed in outcome.replayed:
            self.print(f"replayed {replayed}")
        for failed, reason in outcome.failed.items():
            self.print(f"FAILED {failed}: {reason} (still parked)")
        if message_id is not None and not outcome.replayed and not outcome.failed:
            self.print(f"no parked message {message_id} in {service}")
            return 1
        self.print(f"{len(outcome.replayed)} replayed, {len(outcome.failed)} failed")
        return 1 if outcome.failed else 0

    async def _purge(
        self, connection: aio_pika.abc.AbstractConnection, service: str, *, confirmed: bool
    ) -> int:
        if not confirmed:
            count = await dead_letters.parked_count(connection, service)
            print(
                f"Delete {count} parked message(s) of {service} for good? Type the service name to confirm: ",
                end="",
                file=self.stdout,
                flush=True,
            )
            if self.stdin.readline().strip() != service:
                self.print("not purged")
                return 1
        purged = await dead_letters.purge(connection, service)
        self.print(f"purged {purged} parked message(s) of {service}")
        return 0


async def run(
    argv: Sequence[str] | None = None,
    *,
    settings: OpsSettings | None = None,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    cli = Cli(settings or OpsSettings(), stdout or sys.stdout, stdin or sys.stdin)
    match args.command:
        case "audit":
            return await cli.audit(args)
        case "dead-letters":
            return await cli.dead_letters(args)
        case "order":
            return await cli.order(args)
        case "jobs":
            return await cli.jobs(args)
        case _:
            return await cli.stuck(args)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return asyncio.run(run(argv))
    except (OSError, aio_pika.exceptions.AMQPError, SQLAlchemyError) as error:
        # A broker or database that cannot be reached, or a schema older than the services' tables.
        print(f"shop-ops: {type(error).__name__}: {str(error).splitlines()[0]}", file=sys.stderr)
        return USAGE_ERROR
