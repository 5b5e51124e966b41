"""An order's payments as the gateway shows them are read in one snapshot: a charge that commits while they are
being read shows in all of them or in none (its money captured with its payment, never without it)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import event
from sqlalchemy.util import await_only

from shop_payments import queries
from shop_payments.bootstrap import service_definition
from shop_payments.psp import SandboxPsp
from shop_payments.tables import ledger_entries, payments
from shop_runtime.database import Database
from tests.support import infra
from tests.support.services import running_service

pytestmark = pytest.mark.integration


@pytest.fixture
async def database(broker: AbstractRobustConnection) -> AsyncIterator[Database]:
    sandbox = SandboxPsp()
    definition = service_definition(lambda settings: sandbox)
    async with running_service(definition, infra.service_settings(definition), broker) as service:
        yield service.app.state.database


async def charge(database: Database, order_id: str, amount: int, step: str) -> None:
    """A card charge as payments records it: the payment and its capture in the ledger, in one transaction."""
    payment_id = uuid.uuid4()
    async with database.unit_of_work() as uow:
        await uow.session.execute(
            sa.insert(payments).values(
                id=payment_id,
                order_id=order_id,
                step=step,
                amount=amount,
                currency="KRW",
                status="succeeded",
            )
        )
        await uow.session.execute(
            sa.insert(ledger_entries).values(
                order_id=order_id, payment_id=payment_id, kind="capture", amount=amount, currency="KRW"
            )
        )
        await uow.commit()


async def test_a_charge_committed_between_the_views_reads_shows_in_all_of_them_or_in_none(
    database: Database,
) -> None:
    order_id = f"order-{uuid.uuid4()}"
    await charge(database, order_id, 10000, "full")
    charged_between = False

    def charge_before_the_ledger_is_read(
        connection: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        # Runs in the view's greenlet, between its read of the payments and its read of the ledger.
        nonlocal charged_between
        if not charged_between and "FROM ledger_entries" in statement:
            charged_between = True
            await_only(charge(database, order_id, 5000, "balance"))

    event.listen(database.engine.sync_engine, "before_cursor_execute", charge_before_the_ledger_is_read)
    try:
        async with database.unit_of_work() as uow:
            view = await queries.payments_of_order(uow.session, order_id)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", charge_before_the_ledger_is_read)

    assert charged_between
    # The view's snapshot began before the second charge: it shows the first alone, consistently.
    assert [item["amount"] for item in view["items"]] == [10000]
    assert view["captured"] == 10000
    async with database.unit_of_work() as uow:
        after = await queries.payments_of_order(uow.session, order_id)
    assert sorted(item["amount"] for item in after["items"]) == [5000, 10000]
    assert after["captured"] == 15000
