"""Read-only views for the gateway and operators: an order's payments, refunds, ledger and saved method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.money import Money
from shop_payments.domain import LedgerEntry, LedgerKind, NoSavedMethod, PaymentKind, balance_of
from shop_payments.tables import ledger_entries, payment_methods, payments, refunds


async def payment_method_of_order(session: AsyncSession, order_id: str) -> dict[str, Any]:
    """The brand and last four digits of the order's saved method; its token never leaves the service."""
    row = (
        await session.execute(
            sa.select(payment_methods.c.card_brand, payment_methods.c.card_last4).where(
                payment_methods.c.order_id == order_id
            )
        )
    ).first()
    if row is None:
        raise NoSavedMethod(f"order {order_id} has no saved payment method")
    return {"brand": row.card_brand, "last4": row.card_last4}


async def payments_of_order(session: AsyncSession, order_id: str) -> dict[str, Any]:
    """The order's payments and refunds, oldest first, and what its ledger adds up to (in minor units).

    The three reads see one snapshot, so the first statement of ``session``'s transaction must be this one's: a
    charge committed between two reads of read committed showed its money captured without its payment.
    """
    await session.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    payment_rows = (
        await session.execute(
            sa.select(payments)
            .where(payments.c.order_id == order_id)
            .order_by(payments.c.created_at, payments.c.id)
        )
    ).all()
    entry_rows = (
        await session.execute(
            sa.select(ledger_entries)
            .where(ledger_entries.c.order_id == order_id)
            .order_by(ledger_entries.c.id)
        )
    ).all()
    refund_rows = (
        await session.execute(
            sa.select(refunds)
            .where(refunds.c.order_id == order_id)
            .order_by(refunds.c.created_at, refunds.c.id)
        )
    ).all()
    refunded_of_payment: dict[Any, int] = {}
    parts_of_refund: dict[Any, list[dict[str, Any]]] = {}
    held = {kind: 0 for kind in HOLD_KINDS}
    for entry in entry_rows:
        if entry.kind in HOLD_KINDS:
            held[entry.kind] += entry.amount
        if entry.kind == LedgerKind.REFUND.value:
            refunded_of_payment[entry.payment_id] = (
                refunded_of_payment.get(entry.payment_id, 0) + entry.amount
            )
        if entry.refund_id is not None:
            part = {
                "payment_id": entry.payment_id,
                "amount": entry.amount,
                "psp_reference": entry.psp_reference,
            }
            if entry.kind == LedgerKind.VOID.value:
                part["voided"] = True  # released from a hold that was never captured, not refunded
            parts_of_refund.setdefault(entry.refund_id, []).append(part)
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
                "requires_action": row.requires_action,
                "card_brand": row.card_brand,
                "card_last4": row.card_last4,
                "balance_group": row.balance_group,
                "balance_attempt": row.balance_attempt,
                "kind": row.kind,
                "authorization_id": row.authorization_id,
                "expires_at": row.expires_at,
                "refunded": refunded_of_payment.get(row.id, 0),
                "created_at": row.created_at,
            }
            for row in payment_rows
        ],
        "refunds": [
            {
                "id": row.id,
                "amount": row.amount,
                "currency": row.currency,
                "reason": row.reason,
                "idempotency_key": row.idempotency_key,
                "parts": parts_of_refund.get(row.id, []),
                "created_at": row.created_at,
            }
            for row in refund_rows
        ],
        "captured": captured,
        "refunded": refunded,
        "currency": currency,
        **_hold_totals(held, payment_rows),
    }


HOLD_KINDS = (LedgerKind.AUTHORIZATION.value, LedgerKind.VOID.value, LedgerKind.EXPIRY.value)


def _hold_totals(held: dict[str, int], payment_rows: Sequence[Any]) -> dict[str, Any]:
    """An order's card holds: authorised, released (voided), lapsed (expired), and what is still held; only
    for an order that had one."""
    if not any(row.kind == PaymentKind.AUTHORIZATION.value for row in payment_rows):
        return {}
    captured_of_holds = sum(
        row.amount
        for row in payment_rows
        if row.kind == PaymentKind.CAPTURE.value and row.status == "succeeded"
    )
    authorised = held[LedgerKind.AUTHORIZATION.value]
    voided, expired = held[LedgerKind.VOID.value], held[LedgerKind.EXPIRY.value]
    return {
        "authorised": authorised,
        "voided": voided,
        "expired": expired,
        "held": authorised - captured_of_holds - voided - expired,
    }
