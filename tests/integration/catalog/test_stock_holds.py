"""Holds at checkout: the units an order will get are held before the order exists, its reserve claims them
through the real dispatcher, and a hold nobody claims comes back; against PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_catalog.bootstrap import DEFINITION
from shop_catalog.domain.stock import RequestedLine
from shop_catalog.handlers import holds
from shop_catalog.handlers.stock import hold_expiry_key
from shop_catalog.tables import scheduled_jobs
from shop_contracts import catalog as contracts
from shop_contracts.routing import service_queue
from shop_contracts.values import LocatedLine
from shop_contracts.values import RequestedLine as WantedLine
from shop_runtime.clock import SystemClock
from shop_runtime.consumer import Dispatcher
from shop_runtime.scheduling import Scheduler
from shop_runtime.service import WorkerContext
from tests.integration.catalog.test_arrival_order import SEOUL, Catalog
from tests.support import infra

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def catalog(broker: AbstractRobustConnection) -> AsyncIterator[Catalog]:
    settings = infra.service_settings(DEFINITION, suffix="_holds")
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


async def hold(catalog: Catalog, order_id: str, sku: str, quantity: int) -> contracts.StockReserved:
    """Hold as catalog's route does: commit when held; a refusal rolls everything back."""
    return await hold_lines(catalog, order_id, {sku: quantity})


async def hold_lines(catalog: Catalog, order_id: str, lines: dict[str, int]) -> contracts.StockReserved:
    async with catalog.database.unit_of_work() as uow:
        held = await holds.hold_stock(
            uow,
            order_id=order_id,
            lines=[RequestedLine(sku=sku, quantity=quantity) for sku, quantity in lines.items()],
            clock=SystemClock(),
            hold_for=timedelta(minutes=15),
        )
        await uow.commit()
    return held


async def expire(catalog: Catalog, order_id: str) -> None:
    async with catalog.database.unit_of_work() as uow:
        await holds.expire_stock_hold(uow, order_id=order_id)
        await uow.commit()


def reserve(order_id: str, sku: str, quantity: int, *, claim_hold: bool = False) -> contracts.ReserveStock:
    return contracts.ReserveStock(
        order_id=order_id, lines=[WantedLine(sku=sku, quantity=quantity)], claim_hold=claim_hold
    )


async def expiry_waiting(catalog: Catalog, order_id: str) -> bool:
    """Whether the job that gives the order's hold back unclaimed is still waiting to run."""
    async with catalog.database.engine.connect() as connection:
        row = (
            await connection.execute(
                sa.select(scheduled_jobs.c.done_at, scheduled_jobs.c.cancelled).where(
                    scheduled_jobs.c.key == hold_expiry_key(order_id)
                )
            )
        ).one()
    return row.done_at is None and not row.cancelled


def fresh(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8].upper()}"


async def test_the_reserve_claims_the_hold_and_answers_as_it_did_once(catalog: Catalog) -> None:
    sku, order_id = fresh("HOLD"), fresh("held")
    await catalog.product(sku, stock={(sku, SEOUL): 3})

    held = await hold(catalog, order_id, sku, 2)

    assert [(line.sku, line.location, line.quantity) for line in held.lines] == [(sku, SEOUL, 2)]
    assert await catalog.stock(sku) == {SEOUL: (3, 2, 1)}
    assert await catalog.published(contracts.StockReserved, order_id) == []  # orders has not asked yet
    await catalog.deliver(reserve(order_id, sku, 2), subject=order_id)
    await catalog.deliver(reserve(order_id, sku, 2), subject=order_id)  # a copy with another id
    assert await catalog.published(contracts.StockReserved, order_id) == [held]
    assert await catalog.stock(sku) == {SEOUL: (3, 2, 1)}
    await expire(catalog, order_id)  # claimed: the expiry finds nothing to give back
    assert await catalog.stock(sku) == {SEOUL: (3, 2, 1)}


async def test_a_claim_of_a_live_hold_takes_it_once_publishes_nothing_and_cancels_its_expiry(
    catalog: Catalog,
) -> None:
    sku, order_id = fresh("CLAIM"), fresh("claimed")
    await catalog.product(sku, stock={(sku, SEOUL): 3})
    await hold(catalog, order_id, sku, 2)
    assert await expiry_waiting(catalog, order_id)

    # orders took the hold's answer as the reservation: the claim is answered only if it fails
    await catalog.deliver(reserve(order_id, sku, 2, claim_hold=True), subject=order_id)
    await catalog.deliver(reserve(order_id, sku, 2, claim_hold=True), subject=order_id)  # a copy

    assert await catalog.published(contracts.StockReserved, order_id) == []
    assert await catalog.published(contracts.StockRejected, order_id) == []
    assert not await expiry_waiting(catalog, order_id)
    assert await catalog.stock(sku) == {SEOUL: (3, 2, 1)}
    await expire(catalog, order_id)  # claimed: an expiry that ran anyway finds nothing to give back
    assert await catalog.stock(sku) == {SEOUL: (3, 2, 1)}
    # the units stay the order's: shipping them takes them off hand
    await catalog.deliver(
        contracts.CommitStock(order_id=order_id, lines=[LocatedLine(sku=sku, quantity=2, location=SEOUL)]),
        subject=order_id,
    )
    assert await catalog.stock(sku) == {SEOUL: (1, 0, 1)}


async def test_a_claim_of_an_expired_hold_is_refused_and_takes_nothing(catalog: Catalog) -> None:
    sku, order_id = fresh("LATE"), fresh("late")
    await catalog.product(sku, stock={(sku, SEOUL): 2})
    await hold(catalog, order_id, sku, 2)
    await expire(catalog, order_id)

    await catalog.deliver(reserve(order_id, sku, 2, claim_hold=True), subject=order_id)
    await catalog.deliver(reserve(order_id, sku, 2, claim_hold=True), subject=order_id)  # a copy

    rejected = await catalog.published(contracts.StockRejected, order_id)
    assert {(r.reason, tuple((s.sku, s.reason) for s in r.shortages)) for r in rejected} == {
        ("hold_expired", ((sku, "hold_expired"),))
    }
    assert await catalog.published(contracts.StockReserved, order_id) == []
    assert await catalog.stock(sku) == {SEOUL: (2, 0, 2)}


async def test_a_claim_with_no_hold_to_take_decides_and_answers_as_a_reserve_does(catalog: Catalog) -> None:
    sku, order_id = fresh("NOHOLD"), fresh("nohold")
    await catalog.product(sku, stock={(sku, SEOUL): 2})

    await catalog.deliver(reserve(order_id, sku, 1, claim_hold=True), subject=order_id)

    [reserved] = await catalog.published(contracts.StockReserved, order_id)
    assert [(line.sku, line.location, line.quantity) for line in reserved.lines] == [(sku, SEOUL, 1)]
    assert await catalog.stock(sku) == {SEOUL: (2, 1, 1)}


async def test_a_refused_hold_leaves_nothing_behind(catalog: Catalog) -> None:
    sku, order_id = fresh("SHORT"), fresh("short")
    await catalog.product(sku, stock={(sku, SEOUL): 1})

    with pytest.raises(holds.StockHoldRefused) as refused:
        await hold(catalog, order_id, sku, 2)

    assert [(s.sku, s.requested, s.available, s.reason) for s in refused.value.rejected.shortages] == [
        (sku, 2, 1, "out_of_stock")
    ]
    assert await catalog.stock(sku) == {SEOUL: (1, 0, 1)}
    # The order id is not known to catalog: had orders stored it anyway, its reserve decides afresh.
    await catalog.deliver(reserve(order_id, sku, 1), subject=order_id)
    assert len(await catalog.published(contracts.StockReserved, order_id)) == 1


async def test_a_hold_nobody_claims_comes_back_and_a_late_reserve_is_refused(catalog: Catalog) -> None:
    sku, order_id = fresh("LOST"), fresh("lost")
    await catalog.product(sku, stock={(sku, SEOUL): 2})
    await hold(catalog, order_id, sku, 2)
    assert await catalog.stock(sku) == {SEOUL: (2, 2, 0)}

    await expire(catalog, order_id)
    await expire(catalog, order_id)

    assert await catalog.stock(sku) == {SEOUL: (2, 0, 2)}
    await catalog.deliver(reserve(order_id, sku, 2), subject=order_id)
    rejected = await catalog.published(contracts.StockRejected, order_id)
    assert [(r.reason, [(s.sku, s.reason) for s in r.shortages]) for r in rejected] == [
        ("hold_expired", [(sku, "hold_expired")])
    ]
    assert await catalog.published(contracts.StockReserved, order_id) == []
    assert await catalog.stock(sku) == {SEOUL: (2, 0, 2)}


async def test_the_scheduler_gives_back_a_hold_nobody_claimed_and_leaves_a_claimed_one(
    catalog: Catalog, broker: AbstractRobustConnection
) -> None:
    sku, lost, kept = fresh("DUE"), fresh("due-lost"), fresh("due-kept")
    await catalog.product(sku, stock={(sku, SEOUL): 3})
    for order_id in (lost, kept):
        async with catalog.database.unit_of_work() as uow:
            await holds.hold_stock(
                uow,
                order_id=order_id,
                lines=[RequestedLine(sku=sku, quantity=1)],
                clock=SystemClock(),
                hold_for=timedelta(0),  # due at once: the scheduler's next run finds both expiries
            )
            await uow.commit()
    await catalog.deliver(reserve(kept, sku, 1), subject=kept)
    assert await catalog.stock(sku) == {SEOUL: (3, 2, 1)}

    settings = infra.service_settings(DEFINITION, suffix="_holds")
    context = WorkerContext(settings=settings, database=catalog.database, broker=broker, clock=SystemClock())
    scheduler = Scheduler(
        catalog.database, scheduled_jobs, DEFINITION.jobs(context), clock=SystemClock(), poll_seconds=0.1
    )
    await scheduler.run_due()

    assert await catalog.stock(sku) == {SEOUL: (3, 1, 2)}
    await catalog.deliver(reserve(lost, sku, 1), subject=lost)
    assert [r.reason for r in await catalog.published(contracts.StockRejected, lost)] == ["hold_expired"]
    assert len(await catalog.published(contracts.StockReserved, kept)) == 1


async def test_an_order_released_before_its_reserve_gives_its_hold_back(catalog: Catalog) -> None:
    sku, order_id = fresh("GONE"), fresh("gone")
    await catalog.product(sku, stock={(sku, SEOUL): 2})
    await hold(catalog, order_id, sku, 1)

    await catalog.deliver(contracts.ReleaseStock(order_id=order_id, reason="changed_mind"), subject=order_id)
    await catalog.deliver(reserve(order_id, sku, 1), subject=order_id)
    await expire(catalog, order_id)

    assert await catalog.stock(sku) == {SEOUL: (2, 0, 2)}
    assert await catalog.published(contracts.StockReserved, order_id) == []
    assert await catalog.published(contracts.StockRejected, order_id) == []


async def test_buyers_racing_for_a_drop_hold_exactly_the_units_there_are(catalog: Catalog) -> None:
    sku = fresh("DROP")
    await catalog.product(sku, stock={(sku, SEOUL): 5})

    async def buyer(n: int) -> bool:
        try:
            await hold(catalog, fresh(f"buyer{n}"), sku, 1)
        except holds.StockHoldRefused:
            return False
        return True

    outcomes = await asyncio.gather(*(buyer(n) for n in range(12)))

    assert outcomes.count(True) == 5
    assert await catalog.stock(sku) == {SEOUL: (5, 5, 0)}


async def test_a_hold_is_only_for_an_order_catalog_has_not_seen(catalog: Catalog) -> None:
    sku, order_id = fresh("SEEN"), fresh("seen")
    await catalog.product(sku, stock={(sku, SEOUL): 3})
    await hold(catalog, order_id, sku, 1)

    with pytest.raises(holds.OrderAlreadyKnown):
        await hold(catalog, order_id, sku, 1)

    assert await catalog.stock(sku) == {SEOUL: (3, 1, 2)}


async def test_a_hold_of_several_skus_reserves_each_for_the_order_and_a_release_gives_all_back(
    catalog: Catalog,
) -> None:
    first, second, order_id = fresh("PAIR-A"), fresh("PAIR-B"), fresh("pair")
    await catalog.product(first, second, stock={(first, SEOUL): 4, (second, SEOUL): 3})

    held = await hold_lines(catalog, order_id, {second: 2, first: 1})

    assert sorted((line.sku, line.location, line.quantity) for line in held.lines) == [
        (first, SEOUL, 1),
        (second, SEOUL, 2),
    ]
    assert await catalog.reservations(order_id) == {
        (first, SEOUL): (1, 0, "reserved"),
        (second, SEOUL): (2, 0, "reserved"),
    }
    assert (await catalog.stock(first), await catalog.stock(second)) == (
        {SEOUL: (4, 1, 3)},
        {SEOUL: (3, 2, 1)},
    )
    await catalog.deliver(contracts.ReleaseStock(order_id=order_id, reason="cancelled"), subject=order_id)
    assert (await catalog.stock(first), await catalog.stock(second)) == (
        {SEOUL: (4, 0, 4)},
        {SEOUL: (3, 0, 3)},
    )


async def test_a_hold_short_of_a_later_sku_holds_none_of_the_order(catalog: Catalog) -> None:
    plenty, scarce, order_id = fresh("MANY"), fresh("ONLY"), fresh("later")
    assert plenty < scarce  # the SKU with units is reserved first, then given back
    await catalog.product(plenty, scarce, stock={(plenty, SEOUL): 5, (scarce, SEOUL): 1})

    with pytest.raises(holds.StockHoldRefused) as refused:
        await hold_lines(catalog, order_id, {plenty: 2, scarce: 2})

    assert [(s.sku, s.requested, s.available, s.reason) for s in refused.value.rejected.shortages] == [
        (scarce, 2, 1, "out_of_stock")
    ]
    assert (await catalog.stock(plenty), await catalog.stock(scarce)) == (
        {SEOUL: (5, 0, 5)},
        {SEOUL: (1, 0, 1)},
    )
    assert await catalog.reservations(order_id) == {}


async def test_a_refused_hold_names_every_sku_it_cannot_cover(catalog: Catalog) -> None:
    first, second, third, order_id = fresh("SHORT-A"), fresh("SHORT-B"), fresh("SHORT-C"), fresh("shorts")
    await catalog.product(first, second, third, stock={(first, SEOUL): 1, (third, SEOUL): 9})

    with pytest.raises(holds.StockHoldRefused) as refused:
        await hold_lines(catalog, order_id, {first: 2, second: 1, third: 3})

    assert sorted((s.sku, s.requested, s.available, s.reason) for s in refused.value.rejected.shortages) == [
        (first, 2, 1, "out_of_stock"),
        (second, 1, 0, "out_of_stock"),
    ]
    assert await catalog.stock(third) == {SEOUL: (9, 0, 9)}
