"""Refunds: money given back from an order's captures (money still held on the card is released first), once
per idempotency key, whether staff asked through the API or another service asked by message."""

from __future__ import annotations

import dataclasses
import uuid

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_payments import hold_handlers, hold_repository, repository
from shop_payments.answers import refund_issued
from shop_payments.domain import (
    BANK_TRANSFER_PREFIX,
    InvalidAmount,
    Refund,
    RefundExceedsCaptured,
    RefundKeyReused,
    RefundRefusedBefore,
    RefundRejection,
)
from shop_payments.holds import money_back_parts
from shop_payments.psp import PaymentServiceProvider
from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter

# Business counters, counted once the unit of work committed (the revenue dashboard reads them).
REFUNDED = business_counter(
    "shop_payments_refunded_minor_units", "Money refunded, in minor units", ["currency"]
)
REFUNDS = business_counter("shop_payments_refunds", "Refunds issued", ["reason"])


async def refund_payment(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    order_id: str,
    amount: int,
    reason: str,
    idempotency_key: str,
) -> Refund:
    """Give ``amount`` back from the order's captures, latest first; the same key is the same refund.

    The PSP refunds each part under a key derived from the caller's, so a retry after a failed commit
    gives nothing back twice.
    """
    refund, created = await _refund(
        uow, psp=psp, order_id=order_id, amount=amount, reason=reason, idempotency_key=idempotency_key
    )
    if created:
        uow.publish(refund_issued(refund), subject=order_id)
        uow.after_commit(lambda: _count_refund(refund))
    return refund


async def refund_as_asked(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    order_id: str,
    amount: Money,
    reason: str,
    idempotency_key: str,
) -> None:
    """A refund another service asked for: issued, or refused with why; each told once, from the transaction
    that records it. Asked again (a copy under another message id, a late redelivery) it changes nothing and
    is not told again, and a refused request stays refused."""
    try:
        # A savepoint: a refused refund leaves nothing of its own, only the rejection recorded below.
        async with uow.session.begin_nested():
            refund, created = await _refund(
                uow,
                psp=psp,
                order_id=order_id,
                amount=amount.amount,
                reason=reason,
                idempotency_key=idempotency_key,
            )
    except RefundRefusedBefore:
        return
    except (RefundExceedsCaptured, RefundKeyReused, InvalidAmount) as error:
        rejection = RefundRejection(
            order_id=order_id,
            idempotency_key=idempotency_key,
            amount=amount.amount,
            currency=amount.currency,
            reason=reason,
            error=f"{type(error).__name__}: {error}",
        )
        if await repository.add_refund_rejection(uow.session, rejection):
            uow.publish(
                contracts.RefundRejected(
                    order_id=order_id,
                    amount=amount,
                    reason=reason,
                    idempotency_key=idempotency_key,
                    error=rejection.error,
                ),
                subject=order_id,
            )
            await _after_short_pick(uow, psp, order_id=order_id, reason=reason)
        return
    if created:
        uow.publish(refund_issued(refund), subject=order_id)
        uow.after_commit(lambda: _count_refund(refund))
        await _after_short_pick(uow, psp, order_id=order_id, reason=reason)


async def _after_short_pick(
    uow: UnitOfWork, psp: PaymentServiceProvider, *, order_id: str, reason: str
) -> None:
    """Orders answered for units found short: a shipment that waited for it takes its capture now."""
    if reason == hold_handlers.SHORT_PICK:
        await hold_handlers.capture_due(uow, psp, order_id=order_id)


def _count_refund(refund: Refund) -> None:
    REFUNDS.labels(refund.reason).inc()
    voided = refund.voided.amount
    if refund.amount.amount > voided:
        REFUNDED.labels(refund.amount.currency).inc(refund.amount.amount - voided)
    if voided:
        hold_handlers.VOIDED.labels(refund.amount.currency).inc(voided)


async def _refund(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    order_id: str,
    amount: int,
    reason: str,
    idempotency_key: str,
) -> tuple[Refund, bool]:
    """The refund under ``idempotency_key``, made now (True) or found (False); nothing committed.

    A key belongs to the first request made with it: that request, issued or refused, is answered the same
    way however often it comes (``RefundRefusedBefore`` for a refused one), and another request under the key
    is refused.
    """
    await repository.lock(uow.session, order_id=order_id, what="refunds")
    earlier = await repository.refund_by_key(uow.session, idempotency_key=idempotency_key)
    if earlier is not None:
        if not earlier.answers(order_id=order_id, amount=amount):
            raise RefundKeyReused(
                f"idempotency key {idempotency_key!r} was used for another refund", field="idempotency_key"
            )
        return earlier, False
    refused = await repository.refund_rejections_of_key(uow.session, idempotency_key=idempotency_key)
    for rejection in refused:
        if rejection.answers(order_id=order_id, amount=amount):
            raise RefundRefusedBefore(rejection)
    if refused:
        raise RefundKeyReused(
            f"idempotency key {idempotency_key!r} was used for another refund", field="idempotency_key"
        )
    # Money still held on the card is released before any capture is refunded: the lock keeps captures out.
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    holds = await hold_repository.holds_of_order(uow.session, order_id=order_id)
    captures = await repository.captures_of_order(uow.session, order_id=order_id)
    # With nothing captured or held there is nothing to refund; 'XXX' (no currency) lets the rule say so.
    currency = holds[0].currency if holds else captures[0].amount.currency if captures else "XXX"
    parts = money_back_parts(holds, captures, Money(amount, currency))
    refunded = []
    for part in parts:
        if part.voided:
            released = await psp.void(
                authorization_reference=part.charge_reference,
                amount=part.amount.amount,
                idempotency_key=f"{idempotency_key}:{part.payment_id}",
            )
            refunded.append(dataclasses.replace(part, refund_reference=released.psp_reference))
            continue
        if part.charge_reference.startswith(BANK_TRANSFER_PREFIX):
            # Money that came by bank transfer goes back the same way, by staff: the ledger records what is owed.
            reference = f"{BANK_TRANSFER_PREFIX}refund:{idempotency_key}:{part.payment_id}"
            refunded.append(dataclasses.replace(part, refund_reference=reference))
            continue
        result = await psp.refund(
            psp_reference=part.charge_reference,
            amount=part.amount.amount,
            idempotency_key=f"{idempotency_key}:{part.payment_id}",
        )
        refunded.append(dataclasses.replace(part, refund_reference=result.psp_reference))
    refund = Refund(
        id=uuid.uuid4(),
        order_id=order_id,
        idempotency_key=idempotency_key,
        amount=Money(amount, currency),
        reason=reason,
        parts=tuple(refunded),
    )
    await repository.add_refund(uow.session, refund)
    return refund, True
