"""``python -m bench.saga_sql [--orders N]``: the SQL statements and messages one order costs, counted exactly.

Every service runs in this process on its own database (suffix ``_sql``), through its real dispatcher and
handlers; a small in-process broker carries each committed outbox row to the services that subscribe to its
type, as the relay and RabbitMQ would. Statements are counted on each service's engine (SQLAlchemy's
``before_cursor_execute``), per service and per message handled, so the figures do not depend on the
machine's load: they say where a placed order's database work goes, and whether a change cut it. Round trips
to PostgreSQL are counted too (each write to a database connection's socket): the statements plus what SQLAlchemy
and asyncpg send around them (BEGIN, COMMIT, the pool's pre-ping, statements prepared for the first time).

What is counted: placing the order (orders' use case, without its HTTP route), catalog's hold at checkout
(catalog's use case, without its HTTP route; ``--hold``), every message of the saga up to delivered, and the
warehouse's four reports (fulfillment's use case, without its HTTP route). What is not: the relay's own
claim-and-mark statements (one batch serves many orders), the email sender's batch (SMTP), and HTTP reads.

``--hold answer`` (the default) holds the lines in catalog at checkout and gives orders the hold's answer, as
catalog's ``POST /stock-holds`` does; ``--hold unread`` holds them but gives orders no answer (as on a checkout
whose hold answer orders does not take: the saga's reserve claims the hold and is told it; this also runs on a
tree whose checkout reads no answer); ``--hold none`` places without a hold (catalog down at checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event

from shop_catalog.bootstrap import DEFINITION as CATALOG
from shop_catalog.domain.stock import RequestedLine
from shop_catalog.handlers import holds, products, stock
from shop_contracts import Envelope
from shop_fulfillment import handlers as fulfillment
from shop_fulfillment.bootstrap import DEFINITION as FULFILLMENT
from shop_fulfillment.domain import FulfillmentStatus
from shop_notifications.bootstrap import DEFINITION as NOTIFICATIONS
from shop_orders.bootstrap import DEFINITION as ORDERS
from shop_orders.checkout import handlers as checkout
from shop_orders.core.pricing import CheckoutLine
from shop_orders.settings import OrdersSettings
from shop_payments.bootstrap import DEFINITION as PAYMENTS
from shop_runtime.clock import SystemClock
from shop_runtime.consumer import Dispatcher
from shop_runtime.database import Database
from shop_runtime.http import committed
from shop_runtime.service import ServiceDefinition, WorkerContext
from tests.support import infra

DEFINITIONS = (CATALOG, ORDERS, PAYMENTS, FULFILLMENT, NOTIFICATIONS)
SUFFIX = "_sql"
ADDRESS = {"name": "김민수", "line1": "테헤란로 1", "city": "Seoul", "postal_code": "06236", "country": "KR"}
step_var: contextvars.ContextVar[str] = contextvars.ContextVar("step", default="setup")


@dataclass
class Tally:
    """Statements per (service, step) and messages per type, while counting is on."""

    counting: bool = False
    statements: Counter[tuple[str, str]] = field(default_factory=Counter)
    round_trips: Counter[str] = field(default_factory=Counter)
    texts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        token = step_var.set(name)
        try:
            yield
        finally:
            step_var.reset(token)


@dataclass
class Service:
    definition: ServiceDefinition
    database: Database
    dispatcher: Dispatcher


async def start(tally: Tally) -> dict[str, Service]:
    services: dict[str, Service] = {}
    clock = SystemClock()
    for definition in DEFINITIONS:
        overrides: dict[str, Any] = {"balance_notice_hours": 0} if definition is ORDERS else {}
        settings = infra.service_settings(definition, suffix=SUFFIX, **overrides)
        await infra.fresh_database(definition, settings)
        database = definition.database(settings)
        name = definition.name

        def count(_conn: Any, _cursor: Any, statement: str, *_: Any, service: str = name) -> None:
            if tally.counting:
                tally.statements[(service, step_var.get())] += 1
                tally.texts[(service, step_var.get(), " ".join(statement.split())[:150])] += 1

        def count_round_trips(dbapi_connection: Any, _record: Any, service: str = name) -> None:
            transport = dbapi_connection.driver_connection._transport
            write = transport.write

            def counted_write(data: Any) -> None:
                if tally.counting:
                    tally.round_trips[service] += 1
                write(data)

            transport.write = counted_write

        event.listen(database.engine.sync_engine, "before_cursor_execute", count)
        event.listen(database.engine.sync_engine, "connect", count_round_trips)
        # Subscriptions use the settings and the clock; nothing here publishes to a broker.
        context = WorkerContext(settings=settings, database=database, broker=cast(Any, None), clock=clock)
        services[name] = Service(
            definition,
            database,
            Dispatcher(database, consumer=name, subscriptions=definition.subscriptions(context)),
        )
    return services


async def deliver(services: dict[str, Service], tally: Tally) -> int:
    """Carry committed outbox rows to their subscribers until none is left; how many were delivered."""
    delivered = 0
    while True:
        pending: list[tuple[str, Envelope]] = []
        for name, service in services.items():
            outbox = service.definition.metadata.tables["outbox"]
            previous, tally.counting = tally.counting, False  # the relay's round trips are not the order's
            try:
                async with service.database.engine.begin() as connection:
                    rows = (
                        await connection.execute(
                            sa.update(outbox)
                            .where(outbox.c.published_at.is_(None))
                            .values(published_at=sa.func.now())
                            .returning(outbox.c.id, outbox.c.body)
                        )
                    ).all()
            finally:
                tally.counting = previous
            pending += [(name, Envelope.model_validate_json(row.body)) for row in sorted(rows)]
        if not pending:
            return delivered
        for _, envelope in pending:
            if tally.counting:
                tally.messages[envelope.type] += 1
            for service in services.values():
                if envelope.type in service.dispatcher.message_types:
                    with tally.step(envelope.type):
                        await service.dispatcher.dispatch(envelope)
                    delivered += 1


async def fulfillment_ids(services: dict[str, Service], tally: Tally, order_id: str) -> list[uuid.UUID]:
    table = FULFILLMENT.metadata.tables["fulfillment_orders"]
    previous, tally.counting = tally.counting, False  # the warehouse knows its ids: not the order's work
    try:
        async with services["fulfillment"].database.engine.connect() as connection:
            rows = await connection.execute(sa.select(table.c.id).where(table.c.order_id == order_id))
            return [row.id for row in rows]
    finally:
        tally.counting = previous


class InProcessHolds:
    """Catalog's hold at checkout through its real handler, committed as its route commits it (counted as a
    step of its own); the answer given to orders only when ``answer``."""

    def __init__(self, catalog: Service, tally: Tally, *, answer: bool) -> None:
        self._catalog, self._tally, self._answer = catalog, tally, answer

    async def hold(
        self,
        *,
        order_id: str,
        lines: Sequence[CheckoutLine],
        customer_email: str,
        customer_segments: Sequence[str],
        only_at_one_of: list[str] | None,
    ) -> Any:
        with self._tally.step("hold at checkout (catalog's use case)"):
            async with self._catalog.database.unit_of_work() as uow:
                held = await committed(
                    uow,
                    holds.hold_stock(
                        uow,
                        order_id=order_id,
                        lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in lines],
                        clock=SystemClock(),
                        hold_for=timedelta(minutes=15),
                        customer_email=customer_email,
                        customer_segments=frozenset(customer_segments),
                        only_at_one_of=only_at_one_of,
                    ),
                )
        return held if self._answer else None


async def one_order(
    services: dict[str, Service], tally: Tally, *, sku: str, index: int, hold: str = "answer"
) -> None:
    orders = services["orders"]
    settings = cast(OrdersSettings, infra.service_settings(ORDERS, suffix=SUFFIX, balance_notice_hours=0))
    email = f"buyer-{index}@example.com"
    key = f"saga-sql-{uuid.uuid4()}"
    with tally.step("place order (orders' use case)"):
        async with orders.database.unit_of_work() as uow:
            placed = await committed(
                uow,
                checkout.place_order(
                    uow,
                    checkout=checkout.Checkout(
                        idempotency_key=key,
                        email=email,
                        locale="ko",
                        currency="KRW",
                        lines=[CheckoutLine(sku, 1)],
                        shipping_address=ADDRESS,
                        shipping_method="standard",
                        payment_token="tok_visa",
                        request={"key": key},
                    ),
                    shipping_rates=settings.shipping_rates,
                    now=datetime.now(UTC),
                    free_shipping_over=settings.free_shipping_over,
                    taxes=settings.tax_table(),
                    same_day_areas=settings.same_day_rules(),
                    holds=None
                    if hold == "none"
                    else InProcessHolds(services["catalog"], tally, answer=hold == "answer"),
                ),
            )
    await deliver(services, tally)
    for fulfillment_id in await fulfillment_ids(services, tally, placed.order_id):
        for reported in (
            FulfillmentStatus.PICKED,
            FulfillmentStatus.PACKED,
            FulfillmentStatus.SHIPPED,
            FulfillmentStatus.DELIVERED,
        ):
            with tally.step(f"warehouse reports {reported.value} (fulfillment's use case)"):
                async with services["fulfillment"].database.unit_of_work() as uow:
                    await committed(
                        uow,
                        fulfillment.report_fulfillment_event(
                            uow,
                            fulfillment_id=fulfillment_id,
                            reported=reported,
                            carrier="CJ" if reported is FulfillmentStatus.SHIPPED else None,
                            tracking_number="CJ0001" if reported is FulfillmentStatus.SHIPPED else None,
                        ),
                    )
            await deliver(services, tally)


async def measure(order_count: int, *, hold: str = "answer") -> Tally:
    tally = Tally()
    services = await start(tally)
    try:
        sku = f"SQL-{uuid.uuid4().hex[:8].upper()}"
        async with services["catalog"].database.unit_of_work() as uow:
            await committed(
                uow,
                products.create_product(
                    uow,
                    title="Linen shirt",
                    description="",
                    new_variants=[products.NewVariant(sku=sku, options={"size": "M"}, prices={"KRW": 39000})],
                ),
            )
        async with services["catalog"].database.unit_of_work() as uow:
            await committed(
                uow,
                stock.adjust_inventory(uow, sku=sku, location="seoul-1", delta=10_000, reason="received"),
            )
        await deliver(services, tally)
        await one_order(services, tally, sku=sku, index=0, hold=hold)  # warms caches; not counted
        tally.counting = True
        for index in range(1, order_count + 1):
            await one_order(services, tally, sku=sku, index=index, hold=hold)
        tally.counting = False
    finally:
        for service in services.values():
            await service.database.dispose()
    return tally


def statements_of(tally: Tally, order_count: int, step: str) -> list[str]:
    """The statements of the steps whose name contains ``step``, with how often each ran per order."""
    return [
        f"  {service} {count / order_count:.1f}x  {text}"
        for (service, name, text), count in sorted(tally.texts.items())
        if step in name
    ]


def report(tally: Tally, order_count: int) -> list[str]:
    per_order = {key: count / order_count for key, count in tally.statements.items()}
    total = sum(per_order.values())
    lines = [f"SQL statements per placed order, placed to delivered ({order_count} orders): {total:.1f}"]
    by_service = Counter[str]()
    for (service, _), count in per_order.items():
        by_service[service] += round(count, 2)  # type: ignore[assignment]
    lines.append(
        "  by service: " + ", ".join(f"{name} {count:.1f}" for name, count in by_service.most_common())
    )
    round_trips = Counter({name: count / order_count for name, count in tally.round_trips.items()})
    lines.append(
        f"round trips to PostgreSQL per order: {sum(round_trips.values()):.1f} ("
        + ", ".join(f"{name} {count:.1f}" for name, count in round_trips.most_common())
        + ")"
    )
    lines.append("  by step (service: statements):")
    steps: dict[str, list[str]] = {}
    for (service, step), count in sorted(per_order.items(), key=lambda item: -item[1]):
        steps.setdefault(step, []).append(f"{service} {count:.1f}")
    for step, parts in steps.items():
        lines.append(f"    {step}: {', '.join(parts)}")
    messages = sum(tally.messages.values()) / order_count
    lines.append(f"messages per order: {messages:.1f}")
    for message_type, count in tally.messages.most_common():
        lines.append(f"    {message_type}: {count / order_count:.1f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=5, help="orders counted (after one that warms up)")
    parser.add_argument(
        "--show", action="append", default=[], help="print the statements of steps naming this"
    )
    parser.add_argument(
        "--hold",
        choices=("answer", "unread", "none"),
        default="answer",
        help="catalog's hold at checkout: its answer taken by orders (default), held but not read, or none",
    )
    arguments = parser.parse_args()
    tally = asyncio.run(measure(arguments.orders, hold=arguments.hold))
    print("\n".join(report(tally, arguments.orders)))
    for step in arguments.show:
        print(f"statements of {step}:")
        print("\n".join(statements_of(tally, arguments.orders, step)))


if __name__ == "__main__":
    main()
