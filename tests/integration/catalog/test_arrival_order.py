"""Catalog's stock messages in any arrival order, late and twice, through its real dispatcher and PostgreSQL.

Each message goes through the dispatcher the worker uses (inbox, unit of work, catalog's subscriptions as
bootstrap binds them), without a broker in between, so a test decides the order in which they arrive.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_catalog import queries
from shop_catalog.bootstrap import DEFINITION
from shop_catalog.handlers import preorders as preorder_handlers
from shop_catalog.handlers import products
from shop_catalog.handlers import stock as stock_handlers
from shop_catalog.tables import outbox, preorders, reservations
from shop_contracts import Envelope, Message, fulfillment
from shop_contracts import catalog as contracts
from shop_contracts.routing import service_queue
from shop_contracts.values import LocatedLine, PreorderPolicy, RequestedLine
from shop_runtime.clock import SystemClock
from shop_runtime.consumer import Dispatcher
from shop_runtime.database import Database
from shop_runtime.service import WorkerContext
from tests.support import infra

pytestmark = pytest.mark.integration

MessageT = TypeVar("MessageT", bound=Message)

SEOUL, BUSAN = "seoul-1", "busan-1"


@dataclass
class Catalog:
    database: Database
    dispatcher: Dispatcher

    async def deliver(self, message: Message, *, subject: str, message_id: uuid.UUID | None = None) -> bool:
        """Hand one message to catalog as its worker would; False when the inbox knew its id."""
        envelope = Envelope.wrap(message, subject=subject, correlation_id=subject)
        if message_id is not None:
            envelope = envelope.model_copy(update={"id": message_id})
        return await self.dispatcher.dispatch(envelope)

    async def product(self, *skus: str, stock: dict[tuple[str, str], int] | None = None) -> None:
        async with self.database.unit_of_work() as uow:
            await products.create_product(
                uow,
                title="Tee",
                description="",
                new_variants=[products.NewVariant(sku=sku, options={}, prices={"KRW": 1000}) for sku in skus],
            )
            await uow.commit()
        for (sku, location), units in (stock or {}).items():
            async with self.database.unit_of_work() as uow:
                await stock_handlers.adjust_inventory(
                    uow, sku=sku, location=location, delta=units, reason="counted"
                )
                await uow.commit()

    async def preorder_policy(self, sku: str) -> None:
        async with self.database.unit_of_work() as uow:
            await preorder_handlers.set_preorder_policy(
                uow, sku=sku, policy=PreorderPolicy(payment_mode="pay_now", cap=10), clock=SystemClock()
            )
            await uow.commit()

    async def stock(self, sku: str) -> dict[str, tuple[int, int, int]]:
        """``{location: (on hand, reserved, available)}``, as the inventory API shows it."""
        async with self.database.unit_of_work() as uow:
            levels = await queries.stock_at_locations(uow.session, sku)
        return {
            level["location"]: (level["on_hand"], level["reserved"], level["available"]) for level in levels
        }

    async def reservations(self, order_id: str) -> dict[tuple[str, str], tuple[int, int, str]]:
        """``{(sku, location): (held, committed, status)}`` of the order's reservation rows."""
        async with self.database.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(reservations).where(reservations.c.order_id == order_id)
            )
            return {(row.sku, row.location): (row.quantity, row.committed, row.status) for row in rows}

    async def preorders(self, order_id: str) -> list[tuple[int, str]]:
        async with self.database.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(preorders.c.quantity, preorders.c.status).where(preorders.c.order_id == order_id)
            )
            return [(row.quantity, row.status) for row in rows]

    async def published(self, message_class: type[MessageT], subject: str) -> list[MessageT]:
        """What catalog's outbox holds of one type about ``subject`` (no relay runs here)."""
        async with self.database.engine.connect() as connection:
            bodies = await connection.execute(
                sa.select(outbox.c.body)
                .where(
                    outbox.c.message_type == message_class.TYPE,
                    outbox.c.headers["correlation_id"].astext == subject,
                )
                .order_by(outbox.c.id)
            )
            envelopes = [Envelope.model_validate_json(body) for body in bodies.scalars()]
        return [message_class.model_validate(e.data) for e in envelopes if e.subject == subject]


@pytest.fixture(scope="module")
async def catalog(broker: AbstractRobustConnection) -> AsyncIterator[Catalog]:
    settings = infra.service_settings(DEFINITION, suffix="_arrival")
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    context = WorkerContext(settings=settings, database=database, broker=broker, clock=SystemClock())
    dispatcher = Dispatcher(
        database, consumer=service_queue(DEFINITION.name), subscriptions=DEFINITION.subscriptions(context)
    )
    try:
        yield Catalog(database, dispatcher)
    finally:
        await database.dispose()
        await infra.drop_database(settings.database_url)


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


# One order, shipped in two groups from the same reservation rows, the rest cancelled:
# A: 5 reserved at Seoul (Busan holds 1 more, untouched): 2 + 2 ship, 1 released.
# B: 3 reserved at Busan: 1 + 1 ship, 1 released.


def _order_messages(order_id: str, a: str, b: str) -> dict[str, Message]:
    def shipment(group: str) -> contracts.CommitStock:
        return contracts.CommitStock(
            order_id=order_id,
            lines=[
                LocatedLine(sku=a, quantity=2, location=SEOUL),
                LocatedLine(sku=b, quantity=1, location=BUSAN),
            ],
            shipment_id=group,
        )

    return {
        "reserve": contracts.ReserveStock(
            order_id=order_id, lines=[RequestedLine(sku=a, quantity=5), RequestedLine(sku=b, quantity=3)]
        ),
        "ship g1": shipment(f"{order_id}:g1"),
        "ship g2": shipment(f"{order_id}:g2"),
        "release rest": contracts.ReleaseStock(
            order_id=order_id,
            reason="changed_mind",
            lines=[
                LocatedLine(sku=a, quantity=1, location=SEOUL),
                LocatedLine(sku=b, quantity=1, location=BUSAN),
            ],
        ),
    }


async def _run(catalog: Catalog, arrival: Sequence[str]) -> str | None:
    """Deliver one order's messages in ``arrival`` order ("X copy": X again with a new message id, "X again":
    X redelivered with its own id) and say what is wrong with the end state, if anything."""
    a, b = _fresh("ARR-A"), _fresh("ARR-B")
    order_id = _fresh("arr")
    await catalog.product(a, b, stock={(a, SEOUL): 6, (a, BUSAN): 1, (b, BUSAN): 4})
    messages = _order_messages(order_id, a, b)
    first_ids = {name: uuid.uuid4() for name in messages}
    for step in arrival:
        name = step.removesuffix(" copy").removesuffix(" again")
        message_id = uuid.uuid4() if step.endswith(" copy") else first_ids[name]
        await catalog.deliver(messages[name], subject=order_id, message_id=message_id)
    state = {
        "A": await catalog.stock(a),
        "B": await catalog.stock(b),
        "rows": await catalog.reservations(order_id),
        "committed": _units(await catalog.published(contracts.StockCommitted, order_id)),
        "reserved answers": len(await catalog.published(contracts.StockReserved, order_id)),
        "released answers": len(await catalog.published(contracts.StockReleased, order_id)),
    }
    expected = {
        # on hand, reserved, available per location
        "A": {BUSAN: (1, 0, 1), SEOUL: (2, 0, 2)},
        "B": {BUSAN: (2, 0, 2)},
        # each row: nothing held, every shipped unit committed once
        "rows": {(a, SEOUL): (0, 4, "committed"), (b, BUSAN): (0, 2, "committed")},
        "committed": {(a, SEOUL): 4, (b, BUSAN): 2},
        "reserved answers": 1,
        "released answers": 1,
    }
    if state != expected:
        return f"{' -> '.join(arrival)}: {state}"
    return None


def _units(committed: list[contracts.StockCommitted]) -> dict[tuple[str, str], int]:
    units: dict[tuple[str, str], int] = {}
    for message in committed:
        for line in message.lines:
            units[line.sku, line.location] = units.get((line.sku, line.location), 0) + line.quantity
    return units


BASE = ["reserve", "ship g1", "ship g1 copy", "ship g2", "release rest"]


async def test_every_arrival_order_of_an_order_shipped_in_two_parts_ends_the_same(catalog: Catalog) -> None:
    wrong = [problem for arrival in itertools.permutations(BASE) if (problem := await _run(catalog, arrival))]
    assert wrong == [], f"{len(wrong)} of 120 arrival orders went wrong, e.g.\n" + "\n".join(wrong[:5])


async def test_random_arrivals_with_copies_and_redeliveries_end_the_same(catalog: Catalog) -> None:
    chooser = random.Random(1107)
    extras = [
        "reserve copy",
        "reserve again",
        "ship g1 again",
        "ship g2 copy",
        "release rest copy",
        "release rest again",
    ]
    wrong = []
    for _ in range(80):
        arrival = BASE + chooser.sample(extras, chooser.randint(1, 4))
        chooser.shuffle(arrival)
        if problem := await _run(catalog, arrival):
            wrong.append(problem)
    assert wrong == [], f"{len(wrong)} of 80 arrivals went wrong, e.g.\n" + "\n".join(wrong[:5])


async def test_shipments_of_one_order_handled_at_once_by_several_workers_each_commit_once(
    catalog: Catalog,
) -> None:
    sku, order_id = _fresh("AT-ONCE"), _fresh("at-once")
    await catalog.product(sku, stock={(sku, SEOUL): 8})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=6)]),
        subject=order_id,
    )
    shipments = [
        contracts.CommitStock(
            order_id=order_id, lines=[LocatedLine(sku=sku, quantity=2, location=SEOUL)], shipment_id=group
        )
        for group in ("g1", "g2", "g3")
    ]
    await asyncio.gather(*(catalog.deliver(message, subject=order_id) for message in shipments * 2))
    assert await catalog.stock(sku) == {SEOUL: (2, 0, 2)}
    assert await catalog.reservations(order_id) == {(sku, SEOUL): (0, 6, "committed")}


async def test_a_reserve_delivered_twice_with_new_ids_reserves_once(catalog: Catalog) -> None:
    sku, order_id = _fresh("TWICE"), _fresh("twice")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    reserve = contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=2)])
    assert await catalog.deliver(reserve, subject=order_id)
    assert await catalog.deliver(reserve, subject=order_id)  # a new id: the inbox cannot tell
    assert await catalog.stock(sku) == {SEOUL: (5, 2, 3)}
    assert len(await catalog.published(contracts.StockReserved, order_id)) == 1


async def test_a_preorder_reserve_delivered_twice_takes_one_place(catalog: Catalog) -> None:
    sku, order_id = _fresh("PRE-TWICE"), _fresh("pre-twice")
    await catalog.product(sku)
    await catalog.preorder_policy(sku)
    reserve = contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=1)])
    await catalog.deliver(reserve, subject=order_id)
    await catalog.deliver(reserve, subject=order_id)
    assert await catalog.preorders(order_id) == [(1, "waiting")]


async def test_an_exchange_is_reserved_once_and_not_taken_by_what_a_release_could_not_take(
    catalog: Catalog,
) -> None:
    sku, order_id = _fresh("EXCHANGE"), _fresh("exchange")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=2)]),
        subject=order_id,
    )
    # Asks for more than the order holds: it gives back the 2 held, and the rest is nobody's to give.
    await catalog.deliver(
        contracts.ReleaseStock(
            order_id=order_id, reason="other", lines=[LocatedLine(sku=sku, quantity=4, location=SEOUL)]
        ),
        subject=order_id,
    )
    exchange = contracts.ReserveStock(
        order_id=order_id, lines=[RequestedLine(sku=sku, quantity=1)], exchange_id="rma-1"
    )
    await catalog.deliver(exchange, subject=order_id)
    await catalog.deliver(exchange, subject=order_id)
    assert await catalog.stock(sku) == {SEOUL: (5, 1, 4)}
    answers = await catalog.published(contracts.StockReserved, order_id)
    assert [answer.exchange_id for answer in answers] == [None, "rma-1"]


async def test_a_release_that_overtakes_its_reserve_leaves_nothing_held(catalog: Catalog) -> None:
    sku, order_id = _fresh("OVERTAKEN"), _fresh("overtaken")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(contracts.ReleaseStock(order_id=order_id, reason="cancelled"), subject=order_id)
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=2)]),
        subject=order_id,
    )
    assert await catalog.stock(sku) == {SEOUL: (5, 0, 5)}
    assert await catalog.published(contracts.StockReserved, order_id) == []


async def test_a_late_copy_of_a_reserve_does_not_revive_a_released_preorder(catalog: Catalog) -> None:
    sku, order_id = _fresh("REVIVE"), _fresh("revive")
    await catalog.product(sku)
    await catalog.preorder_policy(sku)
    reserve = contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=2)])
    await catalog.deliver(reserve, subject=order_id)
    await catalog.deliver(contracts.ReleaseStock(order_id=order_id, reason="cancelled"), subject=order_id)
    await catalog.deliver(reserve, subject=order_id)
    assert await catalog.preorders(order_id) == [(2, "released")]
    # Units received later go to nobody: the place stays given back.
    async with catalog.database.unit_of_work() as uow:
        await stock_handlers.adjust_inventory(uow, sku=sku, location=SEOUL, delta=2, reason="counted")
        await uow.commit()
    assert await catalog.stock(sku) == {SEOUL: (2, 0, 2)}


async def test_a_copy_of_a_partial_release_does_not_take_the_units_of_a_shipment(catalog: Catalog) -> None:
    sku, order_id = _fresh("PART"), _fresh("part")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=3)]),
        subject=order_id,
    )
    release = contracts.ReleaseStock(
        order_id=order_id, reason="changed_mind", lines=[LocatedLine(sku=sku, quantity=1, location=SEOUL)]
    )
    await catalog.deliver(release, subject=order_id)
    await catalog.deliver(release, subject=order_id)  # a new message id
    assert await catalog.stock(sku) == {SEOUL: (5, 2, 3)}
    await catalog.deliver(
        contracts.CommitStock(
            order_id=order_id, lines=[LocatedLine(sku=sku, quantity=2, location=SEOUL)], shipment_id="g1"
        ),
        subject=order_id,
    )
    assert await catalog.stock(sku) == {SEOUL: (3, 0, 3)}
    assert len(await catalog.published(contracts.StockReleased, order_id)) == 1


async def test_a_release_after_part_shipped_gives_back_only_what_is_still_reserved(catalog: Catalog) -> None:
    sku, order_id = _fresh("AFTER"), _fresh("after")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=3)]),
        subject=order_id,
    )
    await catalog.deliver(
        contracts.CommitStock(order_id=order_id, lines=[LocatedLine(sku=sku, quantity=2, location=SEOUL)]),
        subject=order_id,
    )
    await catalog.deliver(contracts.ReleaseStock(order_id=order_id, reason="short_pick"), subject=order_id)
    assert await catalog.stock(sku) == {SEOUL: (3, 0, 3)}
    assert await catalog.reservations(order_id) == {(sku, SEOUL): (0, 2, "committed")}


async def test_a_commit_without_shipment_id_takes_only_what_is_still_reserved(catalog: Catalog) -> None:
    sku, order_id = _fresh("LEGACY"), _fresh("legacy")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=3)]),
        subject=order_id,
    )
    commit = contracts.CommitStock(
        order_id=order_id, lines=[LocatedLine(sku=sku, quantity=2, location=SEOUL)]
    )
    await catalog.deliver(commit, subject=order_id)
    assert await catalog.stock(sku) == {SEOUL: (3, 1, 2)}
    await catalog.deliver(commit, subject=order_id)  # no id to know it by: it takes the 1 unit still held
    assert await catalog.stock(sku) == {SEOUL: (2, 0, 2)}
    assert await catalog.reservations(order_id) == {(sku, SEOUL): (0, 3, "committed")}


async def test_a_commit_after_the_order_was_released_takes_nothing(catalog: Catalog) -> None:
    sku, order_id = _fresh("GONE"), _fresh("gone")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=2)]),
        subject=order_id,
    )
    await catalog.deliver(contracts.ReleaseStock(order_id=order_id, reason="cancelled"), subject=order_id)
    await catalog.deliver(
        contracts.CommitStock(
            order_id=order_id, lines=[LocatedLine(sku=sku, quantity=2, location=SEOUL)], shipment_id="g1"
        ),
        subject=order_id,
    )
    assert await catalog.stock(sku) == {SEOUL: (5, 0, 5)}
    assert [m.lines for m in await catalog.published(contracts.StockCommitted, order_id)] == [[]]


async def test_a_release_delivered_twice_says_released_once(catalog: Catalog) -> None:
    sku, order_id = _fresh("REL-TWICE"), _fresh("rel-twice")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=2)]),
        subject=order_id,
    )
    release = contracts.ReleaseStock(order_id=order_id, reason="cancelled")
    await catalog.deliver(release, subject=order_id)
    await catalog.deliver(release, subject=order_id)
    assert await catalog.stock(sku) == {SEOUL: (5, 0, 5)}
    assert len(await catalog.published(contracts.StockReleased, order_id)) == 1


async def test_a_return_received_twice_is_counted_in_once(catalog: Catalog) -> None:
    sku = _fresh("RETURNED")
    await catalog.product(sku, stock={(sku, SEOUL): 1})
    received = fulfillment.ReturnReceived(
        return_id=_fresh("rma"),
        order_id="returned-order",
        lines=[
            fulfillment.ReturnedLine(sku=sku, quantity=2, location=SEOUL, condition="resellable"),
            fulfillment.ReturnedLine(sku=sku, quantity=1, location=SEOUL, condition="damaged"),
        ],
    )
    await catalog.deliver(received, subject="returned-order")
    await catalog.deliver(received, subject="returned-order")  # re-published with a new id
    assert await catalog.stock(sku) == {SEOUL: (3, 0, 3)}


async def test_a_partial_release_of_only_a_waiting_place_gives_it_back_once(catalog: Catalog) -> None:
    """Part of an order cancelled while the rest shipped: its waiting pre-order is the only thing released
    (no located units), told twice."""
    sku, order_id = _fresh("PLACE-ONLY"), _fresh("place-only")
    await catalog.product(sku)
    await catalog.preorder_policy(sku)
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=1)]),
        subject=order_id,
    )
    release = contracts.ReleaseStock(order_id=order_id, reason="delivery_time", lines=[])
    await catalog.deliver(release, subject=order_id)
    await catalog.deliver(release, subject=order_id)
    assert await catalog.preorders(order_id) == [(1, "released")]
    assert len(await catalog.published(contracts.StockReleased, order_id)) == 1


async def test_partial_releases_are_told_apart_by_their_ids_and_a_copy_of_one_changes_nothing(
    catalog: Catalog,
) -> None:
    """Two partial releases of the same units for the same reason are two releases when their ids differ."""
    sku, order_id = _fresh("REL-ID"), _fresh("rel-id")
    await catalog.product(sku, stock={(sku, SEOUL): 5})
    await catalog.deliver(
        contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=3)]),
        subject=order_id,
    )
    one_unit = [LocatedLine(sku=sku, quantity=1, location=SEOUL)]
    first = contracts.ReleaseStock(order_id=order_id, reason="other", lines=one_unit, release_id="r-1")
    second = contracts.ReleaseStock(order_id=order_id, reason="other", lines=one_unit, release_id="r-2")
    for release in (first, second, first, second):
        await catalog.deliver(release, subject=order_id)
    assert await catalog.stock(sku) == {SEOUL: (5, 1, 4)}
