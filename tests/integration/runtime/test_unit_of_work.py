"""The unit of work against the real PostgreSQL: what waits for its commit runs once it committed, and never
when it rolled back, whoever commits it; a last statement carries the outbox rows, alone in autocommit when it is
the only one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from shop_contracts import catalog as contracts
from shop_runtime.database import OUTBOX_CHANNEL, Database
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.settings import ServiceSettings
from tests.integration.runtime.probe import probe_database
from tests.support import infra
from tests.support.messages import eventually

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
add_messaging_tables(metadata)
counted = sa.Table("counted", metadata, sa.Column("label", sa.Text, primary_key=True))
outbox = metadata.tables["outbox"]
COUNT = sa.insert(counted).values(label=sa.bindparam("label"))


class Settings(ServiceSettings):
    service_name = "unit_of_work_probe"
    database_url: str = infra.database_url("unit_of_work_probe")
    http_port: int = 0


@pytest.fixture
async def database() -> AsyncIterator[Database]:
    async with probe_database(Settings(), metadata) as database:
        yield database


async def test_an_action_after_commit_runs_once_the_work_committed_and_never_after_a_rollback(
    database: Database,
) -> None:
    ran: list[str] = []
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.insert(counted).values(label="kept"))
        uow.after_commit(lambda: ran.append("kept"))
        assert ran == []  # not before the commit
        await uow.commit()
        await uow.commit()  # a second commit has nothing left to commit, nor to run
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.insert(counted).values(label="rolled back"))
        uow.after_commit(lambda: ran.append("rolled back"))
        await uow.rollback()
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.insert(counted).values(label="left"))
        uow.after_commit(lambda: ran.append("left"))  # the unit of work ends without a commit
    async with database.engine.connect() as connection:
        labels = list((await connection.execute(sa.select(counted.c.label))).scalars())
    assert (labels, ran) == (["kept"], ["kept"])


async def test_a_pooled_connection_the_database_closed_is_replaced_when_a_unit_of_work_begins(
    database: Database,
) -> None:
    """The pool's pre-ping is the unit of work's BEGIN: a connection that died while pooled is found at checkout,
    the pool renewed, and the unit of work runs on a new connection instead of failing."""
    async with database.unit_of_work() as uow:
        pid = (await uow.session.execute(sa.select(sa.func.pg_backend_pid()))).scalar_one()
        await uow.commit()
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    other = await asyncpg.connect(url)  # outside the pool, which keeps the connection to terminate
    try:
        assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await other.close()
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.insert(counted).values(label="after the restart"))
        now_pid = (await uow.session.execute(sa.select(sa.func.pg_backend_pid()))).scalar_one()
        await uow.commit()
    async with database.engine.connect() as connection:
        labels = list((await connection.execute(sa.select(counted.c.label))).scalars())
    assert now_pid != pid
    assert labels == ["after the restart"]


async def test_a_unit_of_work_begins_its_transaction_when_it_takes_a_pooled_connection(
    database: Database,
) -> None:
    """A reused connection begins at checkout (the ping), and every statement of the unit of work runs in that
    one transaction, which a rollback undoes (``python -m bench.saga_sql`` counts the round trips it saves)."""
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.select(1))
        await uow.commit()
    async with database.unit_of_work() as uow:
        await uow.session.execute(sa.insert(counted).values(label="one"))
        # Both statements in one transaction begun before the first: the same transaction id.
        first = (await uow.session.execute(sa.select(sa.func.txid_current()))).scalar_one()
        second = (await uow.session.execute(sa.select(sa.func.txid_current()))).scalar_one()
        await uow.rollback()
    assert first == second
    async with database.engine.connect() as connection:
        assert list((await connection.execute(sa.select(counted.c.label))).scalars()) == []


class RoundTrips:
    """Each write to a pooled connection's socket (a round trip to PostgreSQL), counted while ``counting``."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        self.counting = False
        event.listen(database.engine.sync_engine, "checkout", self._wrap)

    def _wrap(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        transport = dbapi_connection.driver_connection._transport
        if getattr(transport, "counted", False):
            return
        write = transport.write

        def counted_write(data: Any) -> None:
            if self.counting:
                self.count += 1
            write(data)

        transport.write = counted_write
        transport.counted = True


async def labels_and_messages(database: Database) -> tuple[list[str], list[str]]:
    async with database.engine.connect() as connection:
        labels = (await connection.execute(sa.select(counted.c.label).order_by(counted.c.label))).scalars()
        types = (await connection.execute(sa.select(outbox.c.message_type).order_by(outbox.c.id))).scalars()
        return list(labels), list(types)


async def test_a_last_statement_alone_is_its_own_transaction_with_its_outbox_rows_in_one_round_trip(
    database: Database,
) -> None:
    """No BEGIN and no COMMIT: the statement and the rows of the messages published before it go in one round
    trip, the relay's NOTIFY is sent as it commits, and what waits for the commit runs."""
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    relay = await asyncpg.connect(url)
    woken = asyncio.Event()
    await relay.add_listener(OUTBOX_CHANNEL, lambda *_: woken.set())
    round_trips = RoundTrips(database)
    ran: list[str] = []
    try:
        for label in ("warm-up", "counted"):  # the first prepares the statement on the connection
            woken.clear()
            round_trips.counting = label == "counted"
            async with database.unit_of_work() as uow:
                uow.publish(contracts.StockReleased(order_id=label), subject=label)
                uow.publish(contracts.ReleaseStock(order_id=label, reason="test"), subject=label)
                await uow.execute_last(COUNT, {"label": label})
                uow.after_commit(lambda label=label: ran.append(label))  # type: ignore[misc]
                await uow.commit()
            round_trips.counting = False
            await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        await relay.close()
    assert round_trips.count == 1
    assert ran == ["warm-up", "counted"]
    assert await labels_and_messages(database) == (
        ["counted", "warm-up"],
        [contracts.StockReleased.TYPE, contracts.ReleaseStock.TYPE] * 2,
    )


async def test_a_failing_last_statement_leaves_neither_its_rows_nor_its_messages(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.execute_last(COUNT, {"label": "taken"})
        await uow.commit()
    ran: list[str] = []
    both = sa.insert(counted).from_select(
        ["label"], sa.select(sa.literal("new")).union_all(sa.select(sa.literal("taken")))
    )
    async with database.unit_of_work() as uow:
        uow.publish(contracts.StockReleased(order_id="taken"), subject="taken")
        uow.after_commit(lambda: ran.append("taken again"))
        with pytest.raises(IntegrityError):
            await uow.execute_last(both, {})
        with pytest.raises(RuntimeError):  # in autocommit, a statement after it would commit on its own
            uow.session  # noqa: B018
    assert ran == []
    assert await labels_and_messages(database) == (["taken"], [])
    async with database.unit_of_work() as uow:  # the pool's connection is fine for the next one
        uow.publish(contracts.StockReleased(order_id="next"), subject="next")
        await uow.execute_last(COUNT, {"label": "next"})
        await uow.commit()
    assert await labels_and_messages(database) == (["next", "taken"], [contracts.StockReleased.TYPE])


async def test_a_last_statement_after_others_runs_in_their_transaction(database: Database) -> None:
    """It carries the outbox rows all the same, and a rollback (or no commit) undoes them with the rest."""
    async with database.unit_of_work() as uow:
        await uow.session.execute(COUNT, {"label": "first"})
        uow.publish(contracts.StockReleased(order_id="first"), subject="first")
        await uow.execute_last(COUNT, {"label": "last"})
        await uow.rollback()
    async with database.unit_of_work() as uow:
        await uow.session.execute(COUNT, {"label": "left"})
        uow.publish(contracts.StockReleased(order_id="left"), subject="left")
        await uow.execute_last(COUNT, {"label": "left too"})  # the unit of work ends without a commit
    assert await labels_and_messages(database) == ([], [])
    async with database.unit_of_work() as uow:
        await uow.session.execute(COUNT, {"label": "first"})
        uow.publish(contracts.StockReleased(order_id="first"), subject="first")
        await uow.execute_last(COUNT, {"label": "last"})
        await uow.commit()
    assert await labels_and_messages(database) == (["first", "last"], [contracts.StockReleased.TYPE])


async def test_nothing_runs_or_is_published_after_the_last_statement(database: Database) -> None:
    """Alone in autocommit, a statement after it would be a transaction of its own: it is refused, as is a
    message that could no longer travel with it."""
    async with database.unit_of_work() as uow:
        await uow.execute_last(COUNT, {"label": "last"})
        with pytest.raises(RuntimeError):
            uow.session  # noqa: B018
        with pytest.raises(RuntimeError):
            uow.publish(contracts.StockReleased(order_id="late"), subject="late")
        await uow.commit()
    assert await labels_and_messages(database) == (["last"], [])


async def test_a_closed_pooled_connection_is_replaced_for_a_last_statement_alone(database: Database) -> None:
    """Checked out for a statement in autocommit, a connection is tested without a round trip: one the database
    closed while it was pooled is replaced once the client has seen it close."""
    async with database.unit_of_work() as uow:
        pid = (await uow.session.execute(sa.select(sa.func.pg_backend_pid()))).scalar_one()
        pooled = (await (await uow.session.connection()).get_raw_connection()).driver_connection
        assert pooled is not None
        await uow.commit()
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    other = await asyncpg.connect(url)
    try:
        assert await other.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await other.close()

    def closed() -> None:
        assert pooled.is_closed()

    await eventually(closed)
    async with database.unit_of_work() as uow:
        uow.publish(contracts.StockReleased(order_id="after"), subject="after")
        await uow.execute_last(COUNT, {"label": "after the restart"})
        await uow.commit()
    assert await labels_and_messages(database) == (["after the restart"], [contracts.StockReleased.TYPE])


async def test_a_connection_given_back_after_a_statement_alone_begins_transactions_again() -> None:
    """The pool's one connection ran a statement in autocommit; the next unit of work on it is one transaction
    again, which a rollback undoes."""
    async with probe_database(Settings(database_pool_size=1), metadata) as database:
        async with database.unit_of_work() as uow:
            await uow.execute_last(COUNT, {"label": "alone"})
            await uow.commit()
        async with database.unit_of_work() as uow:
            await uow.session.execute(COUNT, {"label": "rolled back"})
            first = (await uow.session.execute(sa.select(sa.func.txid_current()))).scalar_one()
            second = (await uow.session.execute(sa.select(sa.func.txid_current()))).scalar_one()
            await uow.rollback()
        assert first == second
        assert await labels_and_messages(database) == (["alone"], [])


async def test_in_a_shared_unit_of_work_a_last_statement_leaves_the_transaction_to_the_next_handler(
    database: Database,
) -> None:
    """A consumer's batch: the first handler's last statement carries its message, the next handler writes and
    publishes in the same transaction, and the batch commits (or rolls back) both."""
    for outcome in ("rolled back", "committed"):
        async with database.unit_of_work(shared=True) as uow:
            uow.publish(contracts.StockReleased(order_id="first"), subject="first")
            await uow.execute_last(COUNT, {"label": f"first, {outcome}"})
            await uow.commit()  # a handler's commit in a shared unit of work commits nothing
            await uow.session.execute(COUNT, {"label": f"second, {outcome}"})
            uow.publish(contracts.ReleaseStock(order_id="second", reason="test"), subject="second")
            if outcome == "committed":
                await uow.commit_shared()
    assert await labels_and_messages(database) == (
        ["first, committed", "second, committed"],
        [contracts.StockReleased.TYPE, contracts.ReleaseStock.TYPE],
    )
