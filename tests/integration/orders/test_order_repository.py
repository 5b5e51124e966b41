"""Orders' repository against PostgreSQL: an order loads whole (its lines and groups typed as the columns are),
saves only what its steps changed, and a load that waited for another transaction's lock sees everything that
transaction wrote, not only the order row."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from shop_contracts.money import CurrencyMismatch, Money
from shop_contracts.values import LocatedLine
from shop_orders.bootstrap import DEFINITION
from shop_orders.core import groups
from shop_orders.core.domain import GroupStatus, OrderStatus
from shop_orders.core.repository import SqlOrders
from shop_orders.core.tables import order_lines, order_timeline, orders, shipment_groups
from shop_runtime.database import Database
from tests.support import infra

pytestmark = pytest.mark.integration


def KRW(amount: int) -> Money:
    return Money(amount, "KRW")


ADDRESS = {"name": "Kim", "line1": "1 Teheran-ro", "city": "Seoul", "postal_code": "06236", "country": "KR"}


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[Database]:
    settings = infra.service_settings(DEFINITION, suffix="_repository")
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    yield database
    await database.dispose()


async def placed(database: Database, order_id: str) -> None:
    """An order with one pre-order line and one reserved group, written as checkout and catalog left it."""
    async with database.unit_of_work() as uow:
        await uow.session.execute(
            sa.insert(orders).values(
                id=order_id, status="reserved", email="kim@example.com", locale="ko", currency="KRW",
                subtotal=30000, shipping=3000, total=33000, shipping_address=ADDRESS,
                shipping_method="standard", idempotency_key=f"key-{order_id}", request_fingerprint="fp",
            )
        )  # fmt: skip
        await uow.session.execute(
            sa.insert(order_lines).values(
                order_id=order_id, position=0, sku="TEE", title="Tee", quantity=2, unit_price=15000,
                line_total=30000, kind="preorder", expected_ship_date=date(2027, 1, 15),
                balance_reminded_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
            )
        )  # fmt: skip
        await uow.session.execute(
            sa.insert(shipment_groups).values(
                id=f"{order_id}-g1", order_id=order_id, kind="in_stock", location="seoul-1",
                status="reserved", lines=[{"sku": "TEE", "quantity": 2, "location": "seoul-1"}],
            )
        )  # fmt: skip
        await uow.commit()


async def test_an_order_loads_with_its_lines_and_groups_typed_as_their_columns(database: Database) -> None:
    await placed(database, "rep-1")

    async with database.unit_of_work() as uow:
        order = await SqlOrders(uow.session).get("rep-1")

    assert (order.status, order.total, order.shipping_address["city"]) == (
        OrderStatus.RESERVED,
        KRW(33000),
        "Seoul",
    )
    [line] = order.lines
    assert (line.sku, line.kind, line.expected_ship_date) == ("TEE", "preorder", date(2027, 1, 15))
    assert line.balance_reminded_at == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    [group] = order.groups
    assert (group.status, group.location, group.lines) == (
        GroupStatus.RESERVED,
        "seoul-1",
        [{"sku": "TEE", "quantity": 2, "location": "seoul-1"}],
    )
    assert isinstance(group.created_at, datetime)


async def test_saving_writes_what_the_steps_changed_and_adds_new_groups_and_timeline_events(
    database: Database,
) -> None:
    await placed(database, "rep-2")

    async with database.unit_of_work() as uow:
        repository = SqlOrders(uow.session)
        order = await repository.get("rep-2")
        order.move_to(OrderStatus.CONFIRMED)
        order.line("TEE").paid_now = KRW(30000)
        order.release(order.groups[0])
        order.add_group(
            "rep-2-g2",
            kind="preorder",
            location="",
            lines=[LocatedLine(sku="TEE", quantity=1, location="")],
            status=GroupStatus.BALANCE_SCHEDULED,
            balance_amount=KRW(5000),
        )
        order.record("confirmed", by="test")
        await repository.save(order)
        await uow.commit()

    async with database.unit_of_work() as uow:
        again = await SqlOrders(uow.session).get("rep-2")
        events = (
            await uow.session.execute(
                sa.select(order_timeline.c.event, order_timeline.c.detail).where(
                    order_timeline.c.order_id == "rep-2"
                )
            )
        ).all()
    assert again.status is OrderStatus.CONFIRMED
    assert again.line("TEE").paid_now == KRW(30000)
    assert [(group.id, group.status, group.balance_amount) for group in again.groups] == [
        ("rep-2-g1", GroupStatus.RELEASED, KRW(0)),
        ("rep-2-g2", GroupStatus.BALANCE_SCHEDULED, KRW(5000)),
    ]
    assert [tuple(event) for event in events] == [("confirmed", {"by": "test"})]
    assert not again.changed


async def test_money_loads_in_the_orders_currency_and_is_written_as_its_amount(database: Database) -> None:
    await placed(database, "rep-5")

    async with database.unit_of_work() as uow:
        repository = SqlOrders(uow.session)
        order = await repository.get("rep-5")
        assert (order.subtotal, order.shipping, order.captured, order.charged_now) == (
            KRW(30000),
            KRW(3000),
            KRW(0),
            None,
        )
        assert (order.line("TEE").unit_price, order.line("TEE").balance) == (KRW(15000), KRW(0))
        order.captured += KRW(33000)
        order.line("TEE").paid_now = KRW(30000)
        await repository.save(order)
        await uow.commit()

    async with database.unit_of_work() as uow:
        stored = (
            await uow.session.execute(
                sa.select(orders.c.captured, order_lines.c.paid_now)
                .join(order_lines, order_lines.c.order_id == orders.c.id)
                .where(orders.c.id == "rep-5")
            )
        ).one()
    assert tuple(stored) == (33000, 30000)


async def test_money_in_another_currency_than_the_orders_is_never_written(database: Database) -> None:
    await placed(database, "rep-6")

    async with database.unit_of_work() as uow:
        repository = SqlOrders(uow.session)
        order = await repository.get("rep-6")
        order.line("TEE").paid_now = Money(30000, "USD")
        with pytest.raises(CurrencyMismatch):
            await repository.save(order)


async def test_a_load_that_waited_for_the_lock_sees_the_groups_the_holder_changed(database: Database) -> None:
    await placed(database, "rep-3")

    async with database.unit_of_work() as holder:
        repository = SqlOrders(holder.session)
        order = await repository.get("rep-3")
        order.release(order.groups[0])
        await repository.save(order)

        async def load_when_free() -> GroupStatus:
            async with database.unit_of_work() as waiter:
                return (await SqlOrders(waiter.session).get("rep-3")).groups[0].status

        waiting = asyncio.create_task(load_when_free())
        await _until_a_statement_waits_for_a_lock()
        await holder.commit()

    assert await asyncio.wait_for(waiting, timeout=10) is GroupStatus.RELEASED


async def test_a_load_that_waited_sees_a_line_the_holder_changed_when_the_order_row_did_not(
    database: Database,
) -> None:
    """The load reads the lines in the statement that waits for the lock, and reads them again when the row it
    locked is newer than its snapshot's: a save that changes only a line must still leave the row newer."""
    await placed(database, "rep-7")

    async with database.unit_of_work() as holder:
        repository = SqlOrders(holder.session)
        order = await repository.get("rep-7")
        order.line("TEE").paid_now = KRW(30000)
        assert not order.changed  # only the line changed
        await repository.save(order)

        async def load_when_free() -> Money:
            async with database.unit_of_work() as waiter:
                return (await SqlOrders(waiter.session).get("rep-7")).line("TEE").paid_now

        waiting = asyncio.create_task(load_when_free())
        await _until_a_statement_waits_for_a_lock()
        await holder.commit()

    assert await asyncio.wait_for(waiting, timeout=10) == KRW(30000)


async def test_a_save_keeps_the_columns_it_did_not_change_and_the_timeline_in_order(
    database: Database,
) -> None:
    await placed(database, "rep-8")

    async with database.unit_of_work() as uow:
        repository = SqlOrders(uow.session)
        order = await repository.get("rep-8")
        order.line("TEE").balance = KRW(12000)
        order.groups[0].carrier = "cj"
        for step in ("first", "second", "third"):
            order.record(step, at=step)
        await repository.save(order)
        await uow.commit()

    async with database.unit_of_work() as uow:
        again = await SqlOrders(uow.session).get("rep-8")
        events = (
            await uow.session.scalars(
                sa.select(order_timeline.c.event)
                .where(order_timeline.c.order_id == "rep-8")
                .order_by(order_timeline.c.id)
            )
        ).all()
    line, group = again.line("TEE"), again.groups[0]
    assert (line.balance, line.expected_ship_date, line.quantity) == (KRW(12000), date(2027, 1, 15), 2)
    assert line.balance_reminded_at == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert (group.carrier, group.status, group.lines) == (
        "cj",
        GroupStatus.RESERVED,
        [{"sku": "TEE", "quantity": 2, "location": "seoul-1"}],
    )
    assert (again.status, again.total, again.shipping_address) == (OrderStatus.RESERVED, KRW(33000), ADDRESS)
    assert events == ["first", "second", "third"]


async def _until_a_statement_waits_for_a_lock(deadline_s: float = 10.0) -> None:
    """Poll pg_stat_activity (from a connection of its own) until another backend waits for a row lock."""
    engine = DEFINITION.database(infra.service_settings(DEFINITION, suffix="_repository"))
    try:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            async with engine.unit_of_work() as probe:
                waiting = await probe.session.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("no statement waited for the order's lock")
    finally:
        await engine.dispose()


async def test_an_email_about_an_order_is_on_its_timeline_and_one_about_no_order_is_left_alone(
    database: Database,
) -> None:
    await placed(database, "rep-4")

    async with database.unit_of_work() as uow:
        await groups.record_notification(uow, order_id="rep-4", template="order_confirmed", channel="email")
        await groups.record_notification(
            uow, order_id="waitlist:42", template="waitlist_back", channel="email"
        )
        await groups.record_notification(
            uow, order_id="low_stock:TEE", template="staff_low_stock", channel="email"
        )
        await uow.commit()

    async with database.unit_of_work() as uow:
        told = (
            await uow.session.execute(
                sa.select(order_timeline.c.order_id, order_timeline.c.event, order_timeline.c.detail).where(
                    order_timeline.c.event == "customer_notified"
                )
            )
        ).all()
    assert [tuple(row) for row in told] == [
        ("rep-4", "customer_notified", {"template": "order_confirmed", "channel": "email"})
    ]
