"""Loading and saving payments inside a unit of work."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_payments.domain import Card, Decline, Money, Payment
from shop_payments.tables import ledger_entries, payments


async def lock_order_step(session: AsyncSession, *, order_id: str, step: str) -> None:
    """Serialise work on one step of one order until the transaction ends, so two commands charge once."""
    await session.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"payments:{order_id}:{step}", 0)))
    )


async def payment_for_step(session: AsyncSession, *, order_id: str, step: str) -> Payment | None:
    row = (
        await session.execute(
            sa.select(payments).where(payments.c.order_id == order_id, payments.c.step == step)
        )
    ).first()
    if row is None:
        return None
    return Payment(
        id=row.id,
        order_id=row.order_id,
        step=row.step,
        amount=Money(row.amount, row.currency),
        psp_reference=row.psp_reference,
        decline=Decline(row.decline_code, row.decline_message or "") if row.decline_code else None,
        card=Card(row.card_brand, row.card_last4) if row.card_brand and row.card_last4 else None,
    )


async def add_payment(session: AsyncSession, payment: Payment) -> None:
    """Insert the payment and the ledger entries of the money it moved."""
    await session.execute(
        sa.insert(payments).values(
            id=payment.id,
            order_id=payment.order_id,
            step=payment.step,
            amount=payment.amount.amount,
            currency=payment.amount.currency,
            status=payment.status.value,
            psp_reference=payment.psp_reference,
            decline_code=payment.decline.code if payment.decline else None,
            decline_message=payment.decline.message if payment.decline else None,
            card_brand=payment.card.brand if payment.card else None,
            card_last4=payment.card.last4 if payment.card else None,
        )
    )
    entries = payment.ledger_entries()
    if entries:
        await session.execute(
            sa.insert(ledger_entries),
            [
                {
                    "order_id": entry.order_id,
                    "payment_id": entry.payment_id,
                    "kind": entry.kind.value,
                    "amount": entry.amount.amount,
                    "currency": entry.amount.currency,
                }
                for entry in entries
            ],
        )
