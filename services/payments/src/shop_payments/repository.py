"""Loading and saving payments, saved payment methods and refunds inside a unit of work."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.money import Money
from shop_payments.domain import (
    BalanceAttempt,
    Capture,
    Card,
    Decline,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentKind,
    PspEvent,
    PspEventOutcome,
    Refund,
    RefundPart,
    RefundRejection,
    SavedMethod,
)
from shop_payments.tables import (
    ledger_entries,
    payment_methods,
    payments,
    psp_events,
    refund_rejections,
    refunds,
)


async def lock(session: AsyncSession, *, order_id: str, what: str) -> None:
    """Serialise work on ``what`` of one order (a step, its refunds, its method) until the transaction ends,
    so two requests for it act once."""
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"payments:{order_id}:{what}", 0)))
    )


def _payment(row: Any) -> Payment:
    return Payment(
        id=row.id,
        order_id=row.order_id,
        step=row.step,
        amount=Money(row.amount, row.currency),
        psp_reference=row.psp_reference,
        decline=(
            Decline(row.decline_code, row.decline_message or "", requires_action=row.requires_action)
            if row.decline_code
            else None
        ),
        card=Card(row.card_brand, row.card_last4) if row.card_brand and row.card_last4 else None,
        balance=(
            BalanceAttempt(row.balance_group, row.balance_attempt) if row.balance_group is not None else None
        ),
        recorded_at=row.created_at,
        kind=PaymentKind(row.kind),
        authorization_id=row.authorization_id,
        expires_at=row.expires_at,
    )


def payment_of_row(row: Any) -> Payment:
    """A payment from a row of the payments table."""
    return _payment(row)


async def payment_for_step(session: AsyncSession, *, order_id: str, step: str) -> Payment | None:
    row = (
        await session.execute(
            sa.select(payments).where(payments.c.order_id == order_id, payments.c.step == step)
        )
    ).first()
    return None if row is None else _payment(row)


async def balance_attempts(session: AsyncSession, *, order_id: str, group_id: str) -> list[Payment]:
    """The attempts at charging one group's balance, first attempt first."""
    rows = (
        await session.execute(
            sa.select(payments)
            .where(payments.c.order_id == order_id, payments.c.balance_group == group_id)
            .order_by(payments.c.balance_attempt)
        )
    ).all()
    return [_payment(row) for row in rows]


async def add_ledger_entries(session: AsyncSession, entries: list[LedgerEntry]) -> None:
    if entries:
        await session.execute(sa.insert(ledger_entries), [_ledger_row(entry) for entry in entries])


def _ledger_row(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "order_id": entry.order_id,
        "payment_id": entry.payment_id,
        "refund_id": entry.refund_id,
        "kind": entry.kind.value,
        "amount": entry.amount.amount,
        "currency": entry.amount.currency,
        "psp_reference": entry.psp_reference,
    }


_PAYMENT_COLUMNS = [column.name for column in payments.columns if column.name != "created_at"]
_LEDGER_COLUMNS = ["order_id", "payment_id", "refund_id", "kind", "amount", "currency", "psp_reference"]
_METHOD_COLUMNS = ["id", "order_id", "psp_token", "card_brand", "card_last4"]


def _adding_payment() -> sa.Insert:
    """A payment, the ledger entries of the money it moved (a JSON array, in its order) and, when
    ``save_method``, the order's method unless one is kept already, in one statement built once."""
    entries = sa.func.jsonb_populate_recordset(
        sa.literal_column("NULL::ledger_entries"), sa.bindparam("entries", type_=postgresql.JSONB)
    ).table_valued(*_LEDGER_COLUMNS, with_ordinality="ordinality")
    method = sa.select(
        *(sa.bindparam(f"method_{name}", type_=payment_methods.c[name].type) for name in _METHOD_COLUMNS)
    ).where(sa.bindparam("save_method", type_=sa.Boolean))
    return (
        sa.insert(payments)
        .values({name: sa.bindparam(name, type_=payments.c[name].type) for name in _PAYMENT_COLUMNS})
        .add_cte(
            sa.insert(ledger_entries)
            .from_select(
                _LEDGER_COLUMNS,
                sa.select(*(entries.c[name] for name in _LEDGER_COLUMNS)).order_by(entries.c.ordinality),
            )
            .cte("added_entries")
        )
        .add_cte(
            insert(payment_methods)
            .from_select(_METHOD_COLUMNS, method)
            .on_conflict_do_nothing(index_elements=[payment_methods.c.order_id])
            .cte("kept_method")
        )
    )


_ADDING_PAYMENT = _adding_payment()


async def add_payment(session: AsyncSession, payment: Payment, *, method: SavedMethod | None = None) -> None:
    """Insert the payment and the ledger entries of the money it moved, and keep ``method`` for the order
    unless it has one (``save_method`` without ``replace``), in one statement."""
    await session.execute(
        _ADDING_PAYMENT,
        {
            "id": payment.id,
            "order_id": payment.order_id,
            "step": payment.step,
            "amount": payment.amount.amount,
            "currency": payment.amount.currency,
            "status": payment.status.value,
            "psp_reference": payment.psp_reference,
            "decline_code": payment.decline.code if payment.decline else None,
            "decline_message": payment.decline.message if payment.decline else None,
            "requires_action": payment.decline.requires_action if payment.decline else False,
            "card_brand": payment.card.brand if payment.card else None,
            "card_last4": payment.card.last4 if payment.card else None,
            "balance_group": payment.balance.group_id if payment.balance else None,
            "balance_attempt": payment.balance.number if payment.balance else None,
            "kind": payment.kind.value,
            "authorization_id": payment.authorization_id,
            "expires_at": payment.expires_at,
            "entries": [
                _ledger_row(entry)
                | {
                    "payment_id": str(entry.payment_id),
                    "refund_id": None if entry.refund_id is None else str(entry.refund_id),
                }
                for entry in payment.ledger_entries()
            ],
            "save_method": method is not None,
            "method_id": uuid.uuid4(),
            "method_order_id": payment.order_id if method is None else method.order_id,
            "method_psp_token": None if method is None else method.token,
            "method_card_brand": method.card.brand if method and method.card else None,
            "method_card_last4": method.card.last4 if method and method.card else None,
        },
    )


async def saved_method(session: AsyncSession, *, order_id: str) -> SavedMethod | None:
    row = (
        await session.execute(sa.select(payment_methods).where(payment_methods.c.order_id == order_id))
    ).first()
    if row is None:
        return None
    card = Card(row.card_brand, row.card_last4) if row.card_brand and row.card_last4 else None
    return SavedMethod(order_id=row.order_id, token=row.psp_token, card=card)


async def save_method(session: AsyncSession, method: SavedMethod, *, replace: bool) -> None:
    """Keep the order's method; with ``replace`` a method already kept gives way, otherwise it stays."""
    values = {
        "psp_token": method.token,
        "card_brand": method.card.brand if method.card else None,
        "card_last4": method.card.last4 if method.card else None,
    }
    statement = insert(payment_methods).values(id=uuid.uuid4(), order_id=method.order_id, **values)
    if replace:
        statement = statement.on_conflict_do_update(
            index_elements=[payment_methods.c.order_id], set_={**values, "updated_at": sa.func.now()}
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=[payment_methods.c.order_id])
    await session.execute(statement)


async def captures_of_order(session: AsyncSession, *, order_id: str) -> list[Capture]:
    """The order's captures, oldest first, each with what is already refunded of it."""
    entries = ledger_entries.alias("refund_entries")
    refunded = (
        sa.select(sa.func.coalesce(sa.func.sum(entries.c.amount), 0))
        .where(entries.c.payment_id == ledger_entries.c.payment_id, entries.c.kind == LedgerKind.REFUND.value)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            sa.select(ledger_entries, refunded.label("refunded"))
            .where(ledger_entries.c.order_id == order_id, ledger_entries.c.kind == LedgerKind.CAPTURE.value)
            .order_by(ledger_entries.c.id)
        )
    ).all()
    return [
        Capture(
            payment_id=row.payment_id,
            psp_reference=row.psp_reference or "",
            amount=Money(row.amount, row.currency),
            refunded=Money(int(row.refunded), row.currency),
        )
        for row in rows
    ]


async def refund_by_key(session: AsyncSession, *, idempotency_key: str) -> Refund | None:
    row = (
        await session.execute(sa.select(refunds).where(refunds.c.idempotency_key == idempotency_key))
    ).first()
    if row is None:
        return None
    entry_rows = (
        await session.execute(
            sa.select(ledger_entries, payments.c.psp_reference.label("charge_reference"))
            .join(payments, payments.c.id == ledger_entries.c.payment_id)
            .where(ledger_entries.c.refund_id == row.id)
            .order_by(ledger_entries.c.id)
        )
    ).all()
    return Refund(
        id=row.id,
        order_id=row.order_id,
        idempotency_key=row.idempotency_key,
        amount=Money(row.amount, row.currency),
        reason=row.reason,
        parts=tuple(
            RefundPart(
                payment_id=entry.payment_id,
                charge_reference=entry.charge_reference or "",
                amount=Money(entry.amount, entry.currency),
                refund_reference=entry.psp_reference,
                voided=entry.kind == LedgerKind.VOID.value,
            )
            for entry in entry_rows
        ),
    )


async def add_refund(session: AsyncSession, refund: Refund) -> None:
    """Insert the refund and a ledger entry for each capture it gives money back from."""
    await session.execute(
        sa.insert(refunds).values(
            id=refund.id,
            order_id=refund.order_id,
            idempotency_key=refund.idempotency_key,
            amount=refund.amount.amount,
            currency=refund.amount.currency,
            reason=refund.reason,
        )
    )
    await add_ledger_entries(session, refund.ledger_entries())


async def refund_rejections_of_key(session: AsyncSession, *, idempotency_key: str) -> list[RefundRejection]:
    """The refused requests under ``idempotency_key``, first refused first."""
    rows = (
        await session.execute(
            sa.select(refund_rejections)
            .where(refund_rejections.c.idempotency_key == idempotency_key)
            .order_by(refund_rejections.c.created_at)
        )
    ).all()
    return [
        RefundRejection(
            order_id=row.order_id,
            idempotency_key=row.idempotency_key,
            amount=row.amount,
            currency=row.currency,
            reason=row.reason,
            error=row.error,
        )
        for row in rows
    ]


async def add_refund_rejection(session: AsyncSession, rejection: RefundRejection) -> bool:
    """Record a refused refund request; False when that request was refused before."""
    inserted = await session.execute(
        insert(refund_rejections)
        .values(
            idempotency_key=rejection.idempotency_key,
            order_id=rejection.order_id,
            amount=rejection.amount,
            currency=rejection.currency,
            reason=rejection.reason,
            error=rejection.error,
        )
        .on_conflict_do_nothing()
        .returning(refund_rejections.c.idempotency_key)
    )
    return inserted.first() is not None


async def payment_by_reference(session: AsyncSession, *, psp_reference: str) -> Payment | None:
    """The first payment recorded with the PSP's charge reference (a later one re-uses it after an action)."""
    row = (
        await session.execute(
            sa.select(payments)
            .where(payments.c.psp_reference == psp_reference)
            .order_by(payments.c.created_at, payments.c.balance_attempt)
            .limit(1)
        )
    ).first()
    return None if row is None else _payment(row)


async def claim_psp_event(session: AsyncSession, event: PspEvent) -> bool:
    """Record the event id (its outcome set once known); False when it was recorded before: a replay.

    A concurrent delivery of the same event waits on the key until this transaction ends, then finds it.
    """
    inserted = await session.execute(
        insert(psp_events)
        .values(
            event_id=event.id,
            type=event.type,
            outcome="pending",
            charge_reference=event.reference,
        )
        .on_conflict_do_nothing(index_elements=[psp_events.c.event_id])
        .returning(psp_events.c.event_id)
    )
    return inserted.first() is not None


async def set_psp_event_outcome(session: AsyncSession, event_id: str, outcome: PspEventOutcome) -> None:
    await session.execute(
        sa.update(psp_events).where(psp_events.c.event_id == event_id).values(outcome=outcome.value)
    )


async def money_back_answered(session: AsyncSession, *, order_id: str, reason: str) -> int:
    """How many asks for money back of the order, for ``reason``, were answered: given back or refused (one per
    idempotency key)."""
    given = sa.select(refunds.c.idempotency_key).where(
        refunds.c.order_id == order_id, refunds.c.reason == reason
    )
    refused = sa.select(refund_rejections.c.idempotency_key).where(
        refund_rejections.c.order_id == order_id, refund_rejections.c.reason == reason
    )
    keys = sa.union(given, refused).subquery()
    return int((await session.execute(sa.select(sa.func.count()).select_from(keys))).scalar_one())
