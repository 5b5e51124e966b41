"""The unit of work against the real PostgreSQL: what waits for its commit runs once it committed, and never
when it rolled back, whoever commits it."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
