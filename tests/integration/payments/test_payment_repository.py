"""Payments' repository against PostgreSQL: a payment is stored in one statement with the ledger entries of the
money it moved and, when asked, the order's method; every field reads back as it was written, and a method the
order already keeps stays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from shop_contracts.money import Money
from shop_payments import repository
from shop_payments.bootstrap import DEFINITION
from shop_payments.domain import Card, Decline, Payment, PaymentKind, SavedMethod
from shop_payments.tables import ledger_entries
from shop_runtime.database import Database
from tests.support import infra

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[Database]:
    settings = infra.service_settings(DEFINITION, suffix="_repository")
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    yield database
    await database.dispose()


async def test_a_hold_reads_back_as_written_and_keeps_the_orders_method(database: Database) -> None:
    hold = Payment(
        id=uuid.uuid4(),
        order_id="pay-rep-1",
        step="checkout",
        amount=Money(45000, "KRW"),
        psp_reference="auth_1",
        card=Card("visa", "4242"),
        kind=PaymentKind.AUTHORIZATION,
        expires_at=datetime(2026, 12, 12, 9, 0, tzinfo=UTC),
    )
    async with database.unit_of_work() as uow:
        await repository.add_payment(
            uow.session, hold, method=SavedMethod(order_id="pay-rep-1", token="tok_first", card=hold.card)
        )
        await uow.commit()

    async with database.unit_of_work() as uow:
        stored = await repository.payment_for_step(uow.session, order_id="pay-rep-1", step="checkout")
        method = await repository.saved_method(uow.session, order_id="pay-rep-1")
        entries = (
            await uow.session.execute(
                sa.select(ledger_entries).where(ledger_entries.c.order_id == "pay-rep-1")
            )
        ).all()

    assert stored is not None
    assert (stored.id, stored.amount, stored.psp_reference, stored.card) == (
        hold.id,
        hold.amount,
        "auth_1",
        Card("visa", "4242"),
    )
    assert (stored.kind, stored.expires_at, stored.decline) == (
        PaymentKind.AUTHORIZATION,
        hold.expires_at,
        None,
    )
    assert method == SavedMethod(order_id="pay-rep-1", token="tok_first", card=Card("visa", "4242"))
    assert [(entry.kind, entry.amount, entry.payment_id) for entry in entries] == [
        (entry.kind.value, entry.amount.amount, hold.id) for entry in hold.ledger_entries()
    ]


async def test_a_method_kept_before_stays_and_a_decline_reads_back_with_its_reason(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await repository.save_method(
            uow.session, SavedMethod(order_id="pay-rep-2", token="tok_kept", card=None), replace=False
        )
        charged = Payment(
            id=uuid.uuid4(),
            order_id="pay-rep-2",
            step="deposit",
            amount=Money(12000, "KRW"),
            psp_reference="ch_2",
            card=Card("mastercard", "5454"),
        )
        await repository.add_payment(
            uow.session,
            charged,
            method=SavedMethod(order_id="pay-rep-2", token="tok_new", card=charged.card),
        )
        declined = Payment(
            id=uuid.uuid4(),
            order_id="pay-rep-2",
            step="balance",
            amount=Money(30000, "KRW"),
            psp_reference=None,
            decline=Decline("authentication_required", "confirm the charge", requires_action=True),
        )
        await repository.add_payment(uow.session, declined)
        await uow.commit()

    async with database.unit_of_work() as uow:
        method = await repository.saved_method(uow.session, order_id="pay-rep-2")
        stored = await repository.payment_for_step(uow.session, order_id="pay-rep-2", step="balance")
        amounts = (
            await uow.session.scalars(
                sa.select(ledger_entries.c.amount)
                .where(ledger_entries.c.order_id == "pay-rep-2")
                .order_by(ledger_entries.c.id)
            )
        ).all()

    assert method is not None
    assert method.token == "tok_kept"
    assert stored is not None
    assert (stored.decline, stored.kind, stored.succeeded) == (
        Decline("authentication_required", "confirm the charge", requires_action=True),
        PaymentKind.CHARGE,
        False,
    )
    assert amounts == [entry.amount.amount for entry in charged.ledger_entries()]
