"""Read-only views of payments for the gateway and operators: an order's payments and its ledger balance."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_payments.domain import LedgerEntry, LedgerKind, Money, balance_of
from shop_payments.tables import ledger_entries, payments


async def payments_of_order(session: AsyncSession, order_id: str) -> dict[str, Any]:
    """The order's payments, oldest first, and what its ledger adds up to (in minor units)."""
    payment_rows = (
        await session.execute(
            sa.select(payments)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.created_at, payments.c.id)
        )
    ).all()
    entry_rows = (
        await session.execute(sa.select(ledger_entries).where(ledger_entries.c.order_id == order_id))
    ).all()
    currency = (payment_rows[0].currency if payment_rows else None) or (
        entry_rows[0].currency if entry_rows else None
    )
    captured = refunded = 0
    if currency is not None:
        balance = balance_of(
            (
                LedgerEntry(
                    order_id=row.order_id,
                    payment_id=row.payment_id,
                    kind=LedgerKind(row.kind),
                    amount=Money(row.amount, row.currency),
                )
                for row in entry_rows
            ),
            currency=currency,
        )
        captured, refunded = balance.captured.amount, balance.refunded.amount
    return {
        "items": [
            {
                "id": row.id,
                "order_id": row.order_id,
                "step": row.step,
                "amount": row.amount,
                "currency": row.currency,
                "status": row.status,
                "psp_reference": row.psp_reference,
                "decline_code": row.decline_code,
                "decline_message": row.decline_message,
                "card_brand": row.card_brand,
                "card_last4": row.card_last4,
                "created_at": row.created_at,
            }
            for row in payment_rows
        ],
        "captured": captured,
        "refunded": refunded,
        "currency": currency,
    }
