"""Low-stock alerts against the real PostgreSQL: a reservation crossing the threshold alerts once from its own
transaction, a message delivered again alerts no more, a restock re-arms, and the staff routes.

Stock messages go through the dispatcher the worker uses (inbox, unit of work, catalog's subscriptions as bootstrap
binds them), without a broker in between, so a test decides what arrives and when; the outbox shows what was told.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_catalog.bootstrap import DEFINITION
from shop_catalog.domain.stock import RequestedLine as HeldLine
from shop_catalog.handlers import holds, low_stock
from shop_catalog.handlers import stock as stock_handlers
from shop_catalog.tables import low_stock_watches, outbox
from shop_contracts import Envelope
from shop_contracts import catalog as contracts
from shop_contracts.routing import service_queue
from shop_contracts.values import LocatedLine, RequestedLine
from shop_runtime.clock import SystemClock
from shop_runtime.consumer import Dispatcher
from shop_runtime.service import WorkerContext
from tests.integration.catalog.test_arrival_order import Catalog as ArrivalCatalog
from tests.integration.catalog.test_preorders import Catalog, catalog
from tests.support import infra

__all__ = ["catalog"]

pytestmark = pytest.mark.integration

SEOUL, BUSAN = "seoul-1", "busan-1"


class Watched(ArrivalCatalog):
    async def set_threshold(self, sku: str, threshold: int | None) -> low_stock.WatchState:
        async with self.database.unit_of_work() as uow:
            state = await low_stock.set_low_stock_threshold(uow, sku=sku, threshold=threshold)
            await uow.commit()
        return state

    async def count(self, sku: str, location: str, delta: int) -> None:
        async with self.database.unit_of_work() as uow:
            await stock_handlers.adjust_inventory(
                uow, sku=sku, location=location, delta=delta, reason="counted"
            )
            await uow.commit()

    async def reserve(
        self, order_id: str, sku: str, quantity: int, *, message_id: uuid.UUID | None = None
    ) -> bool:
        return await self.deliver(
            contracts.ReserveStock(order_id=order_id, lines=[RequestedLine(sku=sku, quantity=quantity)]),
            subject=order_id,
            message_id=message_id,
        )

    async def hold(self, order_id: str, lines: dict[str, int]) -> bool:
        """Hold at checkout as catalog's route does (committed when held); False when refused."""
        try:
            async with self.database.unit_of_work() as uow:
                await holds.hold_stock(
                    uow,
                    order_id=order_id,
                    lines=[HeldLine(sku=sku, quantity=quantity) for sku, quantity in lines.items()],
                    clock=SystemClock(),
                    hold_for=timedelta(minutes=15),
                )
                await uow.commit()
        except holds.StockHoldRefused:
            return False
        return True

    async def availability(self, sku: str) -> list[contracts.StockAvailabilityChanged]:
        """The availability changes catalog's outbox holds for ``sku``."""
        async with self.database.engine.connect() as connection:
            bodies = await connection.execute(
                sa.select(outbox.c.body)
                .where(outbox.c.message_type == contracts.StockAvailabilityChanged.TYPE)
                .order_by(outbox.c.id)
            )
            envelopes = [Envelope.model_validate_json(body) for body in bodies.scalars()]
        return [
            contracts.StockAvailabilityChanged.model_validate(e.data) for e in envelopes if e.subject == sku
        ]

    async def alerts(self, sku: str) -> list[contracts.StockLow]:
        """The low-stock alerts catalog's outbox holds for ``sku`` (no relay runs here)."""
        async with self.database.engine.connect() as connection:
            bodies = await connection.execute(
                sa.select(outbox.c.body)
                .where(outbox.c.message_type == contracts.StockLow.TYPE)
                .order_by(outbox.c.id)
            )
            envelopes = [Envelope.model_validate_json(body) for body in bodies.scalars()]
        return [contracts.StockLow.model_validate(e.data) for e in envelopes if e.subject == sku]

    async def alerted(self, sku: str) -> bool:
        async with self.database.engine.connect() as connection:
            alerted_at = await connection.scalar(
                sa.select(low_stock_watches.c.alerted_at).where(low_stock_watches.c.sku == sku)
            )
        return alerted_at is not None


@pytest.fixture(scope="module")
async def watched(broker: AbstractRobustConnection) -> AsyncIterator[Watched]:
    settings = infra.service_settings(DEFINITION, suffix="_low_stock")
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    context = WorkerContext(settings=settings, database=database, broker=broker, clock=SystemClock())
    dispatcher = Dispatcher(
        database, consumer=service_queue(DEFINITION.name), subscriptions=DEFINITION.subscriptions(context)
    )
    try:
        yield Watched(database, dispatcher)
    finally:
        await database.dispose()
        await infra.drop_database(settings.database_url)


def _fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def test_a_reservation_crossing_the_threshold_alerts_once_and_a_restock_re_arms(
    watched: Watched,
) -> None:
    sku = _fresh("LOW")
    await watched.product(sku, stock={(sku, SEOUL): 8, (sku, BUSAN): 2})
    state = await watched.set_threshold(sku, 5)
    assert (state.threshold, state.available, state.alerted) == (5, 10, False)

    await watched.reserve(_fresh("o"), sku, 4)  # 6 left: above
    assert await watched.alerts(sku) == []
    crossing_order, crossing_id = _fresh("o"), uuid.uuid4()
    assert await watched.reserve(crossing_order, sku, 1, message_id=crossing_id)  # 5 left: at the threshold
    [alert] = await watched.alerts(sku)
    assert (alert.sku, alert.available, alert.threshold, alert.alert_number) == (sku, 5, 5, 1)
    assert alert.title == "Tee"
    assert {place.location: place.available for place in alert.locations} == {SEOUL: 3, BUSAN: 2}
    assert sum(place.reserved for place in alert.locations) == 5

    # The same reservation again, with its own id (the inbox drops it) and with a new one (catalog knows the order).
    assert not await watched.reserve(crossing_order, sku, 1, message_id=crossing_id)
    await watched.reserve(crossing_order, sku, 1)
    await watched.reserve(_fresh("o"), sku, 2)  # further down: still the same crossing
    assert len(await watched.alerts(sku)) == 1

    await watched.count(sku, SEOUL, 1)  # 4 left: up, but not above
    assert await watched.alerted(sku)
    await watched.count(sku, SEOUL, 6)  # 10 left: above, re-armed
    assert not await watched.alerted(sku)
    assert len(await watched.alerts(sku)) == 1

    await watched.reserve(_fresh("o"), sku, 6)  # 4 left: the second crossing
    alerts = await watched.alerts(sku)
    assert [(a.available, a.alert_number) for a in alerts] == [(5, 1), (4, 2)]


async def test_a_release_above_the_threshold_re_arms(watched: Watched) -> None:
    sku, order_id = _fresh("REL"), _fresh("o")
    await watched.product(sku, stock={(sku, SEOUL): 5})
    await watched.set_threshold(sku, 2)
    await watched.reserve(order_id, sku, 3)
    assert [a.available for a in await watched.alerts(sku)] == [2]
    await watched.deliver(
        contracts.ReleaseStock(
            order_id=order_id, reason="changed_mind", lines=[LocatedLine(sku=sku, location=SEOUL, quantity=3)]
        ),
        subject=order_id,
    )
    assert not await watched.alerted(sku)


async def test_a_threshold_raised_over_the_available_units_alerts_and_lowered_under_them_re_arms(
    watched: Watched,
) -> None:
    sku = _fresh("THR")
    await watched.product(sku, stock={(sku, SEOUL): 4})
    assert (await watched.set_threshold(sku, 3)).alerted is False
    raised = await watched.set_threshold(sku, 4)
    assert raised.alerted is True
    assert [a.threshold for a in await watched.alerts(sku)] == [4]
    assert (await watched.set_threshold(sku, 4)).alerted is True  # the same again: nothing new
    assert (await watched.set_threshold(sku, 1)).alerted is False
    assert len(await watched.alerts(sku)) == 1
    assert (await watched.set_threshold(sku, None)).threshold is None


async def test_the_shop_default_watches_skus_without_their_own_threshold(watched: Watched) -> None:
    own, defaulted = _fresh("OWN"), _fresh("DEF")
    await watched.product(own, defaulted, stock={(own, SEOUL): 5, (defaulted, SEOUL): 5})
    await watched.set_threshold(own, 1)
    low_stock.configure_low_stock(3)
    try:
        await watched.reserve(_fresh("o"), own, 2)
        await watched.reserve(_fresh("o"), defaulted, 2)
    finally:
        low_stock.configure_low_stock(None)
    assert await watched.alerts(own) == []
    assert [(a.available, a.threshold) for a in await watched.alerts(defaulted)] == [(3, 3)]


async def test_staff_set_a_threshold_and_list_the_skus_at_or_below_it(catalog: Catalog) -> None:
    low, plenty = _fresh("API-LOW"), _fresh("API-OK")
    await catalog.product(low, units=3)
    await catalog.product(plenty, units=30)
    answer = await catalog.client.put(f"/inventory/{low}/low-stock-threshold", json={"threshold": 3})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sku": low, "threshold": 3, "own_threshold": 3, "available": 3, "alerted": True}
    assert (
        await catalog.client.put(f"/inventory/{plenty}/low-stock-threshold", json={"threshold": 3})
    ).json()["alerted"] is False
    listed = (await catalog.client.get("/inventory/low-stock")).json()["items"]
    [item] = [entry for entry in listed if entry["sku"] in (low, plenty)]
    assert (item["sku"], item["available"], item["threshold"]) == (low, 3, 3)
    assert item["alerted_at"] is not None

    refused = await catalog.client.put(f"/inventory/{low}/low-stock-threshold", json={"threshold": -1})
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["threshold"]
    unknown = await catalog.client.put("/inventory/NO-SUCH-SKU/low-stock-threshold", json={"threshold": 1})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "unknown_sku"


async def test_a_hold_crossing_the_threshold_alerts_once_and_one_selling_out_tells_the_availability(
    watched: Watched,
) -> None:
    sku = _fresh("HOLDLOW")
    await watched.product(sku, stock={(sku, SEOUL): 4})
    await watched.set_threshold(sku, 2)
    told = len(await watched.availability(sku))  # the stock counted in

    assert await watched.hold(_fresh("h"), {sku: 1})  # 3 left: above
    assert await watched.alerts(sku) == []
    assert await watched.hold(_fresh("h"), {sku: 1})  # 2 left: the crossing, told by the hold's own statement
    [alert] = await watched.alerts(sku)
    assert (alert.available, alert.threshold, alert.alert_number) == (2, 2, 1)
    assert {place.location: (place.reserved, place.available) for place in alert.locations} == {SEOUL: (2, 2)}
    assert len(await watched.availability(sku)) == told

    assert await watched.hold(_fresh("h"), {sku: 2})  # 0 left: sold out, still the same crossing
    assert not await watched.hold(_fresh("h"), {sku: 1})  # refused: nothing held, nothing told
    assert len(await watched.alerts(sku)) == 1
    changes = await watched.availability(sku)
    assert [change.in_stock_units for change in changes[told:]] == [0]
    assert changes[-1].version == max(change.version for change in changes)
    assert await watched.stock(sku) == {SEOUL: (4, 4, 0)}


async def test_a_hold_of_several_watched_skus_alerts_each_and_the_shop_default_watches_a_new_one(
    watched: Watched,
) -> None:
    own, defaulted = _fresh("HOLDOWN"), _fresh("HOLDDEF")
    await watched.product(own, defaulted, stock={(own, SEOUL): 3, (defaulted, BUSAN): 5})
    await watched.set_threshold(own, 2)
    low_stock.configure_low_stock(4)
    try:
        assert await watched.hold(_fresh("h"), {defaulted: 1, own: 1})
    finally:
        low_stock.configure_low_stock(None)
    assert [(a.available, a.threshold) for a in await watched.alerts(own)] == [(2, 2)]
    assert [(a.available, a.threshold) for a in await watched.alerts(defaulted)] == [(4, 4)]
    assert await watched.alerted(defaulted)


async def test_buyers_racing_for_the_last_units_of_two_watched_skus_hold_exactly_them_and_alert_once_each(
    watched: Watched,
) -> None:
    first, second = _fresh("RACE-A"), _fresh("RACE-B")
    await watched.product(first, second, stock={(first, SEOUL): 5, (second, SEOUL): 2, (second, BUSAN): 2})
    await watched.set_threshold(first, 3)
    await watched.set_threshold(second, 1)
    # Orders of both SKUs and of one race each other: stock rows, then watches, each in SKU order, never deadlock.
    # (The first SKU is at one location: an order that took one location of a SKU and then needs the locking path
    # for a later SKU locks that SKU's other locations after it, which two such orders can deadlock on, as before.)
    orders = [{first: 1, second: 1}, {second: 1}, {first: 1}] * 6

    held = await asyncio.gather(*(watched.hold(_fresh("r"), lines) for lines in orders))

    units = {first: 0, second: 0}
    for lines, placed in zip(orders, held, strict=True):
        for sku, quantity in lines.items():
            units[sku] += quantity if placed else 0
    assert units[second] == 4  # every unit of the scarcer SKU, never one more
    assert units[first] <= 5
    assert (await watched.stock(first))[SEOUL][1] == units[first]
    assert sum(reserved for _, reserved, _ in (await watched.stock(second)).values()) == units[second]
    assert [a.alert_number for a in await watched.alerts(second)] == [1]
    assert [a.alert_number for a in await watched.alerts(first)] == ([1] if units[first] >= 2 else [])
    assert [change.in_stock_units for change in await watched.availability(second)][-1:] == [0]


async def test_a_hold_locks_the_watch_only_once_it_took_the_units(watched: Watched) -> None:
    sku = _fresh("HOLDLOCK")
    await watched.product(sku, stock={(sku, SEOUL): 2})
    await watched.set_threshold(sku, 1)
    async with watched.database.engine.connect() as staff:
        await staff.execute(
            sa.select(low_stock_watches.c.sku).where(low_stock_watches.c.sku == sku).with_for_update()
        )
        # the watch is locked elsewhere: a refused hold takes no unit, so it never waits for the watch
        assert not await asyncio.wait_for(watched.hold(_fresh("h"), {sku: 3}), timeout=30)
        placed = asyncio.create_task(watched.hold(_fresh("h"), {sku: 1}))
        # a placed hold waits for the watch once it took its unit: the stock row stays its own meanwhile
        await _until_one_waits_for_a_lock(watched)
        assert not placed.done()
        assert await watched.stock(sku) == {SEOUL: (2, 0, 2)}  # uncommitted: nothing shows yet
        await staff.rollback()
    assert await asyncio.wait_for(placed, timeout=30)
    assert [a.available for a in await watched.alerts(sku)] == [1]


async def _until_one_waits_for_a_lock(watched: Watched) -> None:
    """Poll, with a deadline, until a session of the catalog's database waits for a row lock."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        async with watched.database.engine.connect() as connection:
            waiting = await connection.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        assert asyncio.get_running_loop().time() < deadline, "no session waited for the watch's lock"
        await asyncio.sleep(0.05)
