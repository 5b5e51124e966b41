"""The unit of work against the real PostgreSQL: what waits for its commit runs once it committed, and never
when it rolled back, whoever commits it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import sqlalchemy as sa

from shop_runtime.database import Database
from shop_runtime.messaging_tables import add_messaging_tables
from shop_runtime.settings import ServiceSettings
from tests.integration.runtime.probe import probe_database
from tests.support import infra

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
add_messaging_tables(metadata)
counted = sa.Table("counted", metadata, sa.Column("label", sa.Text, primary_key=True))


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
