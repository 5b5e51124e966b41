"""Payments' use cases: each is one async function that runs in one unit of work and commits it."""

from __future__ import annotations

import logging
import uuid

from shop_contracts import payments as contracts
from shop_payments import repository
from shop_payments.domain import Card, Decline, Money, Payment, idempotency_key
from shop_payments.psp import ChargeResult, PaymentServiceProvider
from shop_runtime.database import UnitOfWork

log = logging.getLogger(__name__)


async def capture_payment(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    order_id: str,
    step: contracts.PaymentStep,
    amount: Money,
    payment_token: str,
) -> Payment:
    """Charge one step of an order and record the outcome; a step asked for again is told, not charged.

    The PSP is called inside the transaction: if the commit then fails, the retry charges with the same
    idempotency key and the PSP answers as before, so the customer is still charged once.
    """
    await repository.lock_order_step(uow.session, order_id=order_id, step=step)
    payment = await repository.payment_for_step(uow.session, order_id=order_id, step=step)
    if payment is None:
        result = await psp.charge(
            token=payment_token,
            amount=amount.amount,
            currency=amount.currency,
            idempotency_key=idempotency_key(order_id=order_id, step=step),
        )
        payment = _payment_from(result, order_id=order_id, step=step, amount=amount)
        await repository.add_payment(uow.session, payment)
    elif payment.amount != amount:
        log.warning(
            "order %s step %s was already charged %s; a request for %s re-tells that outcome",
            order_id,
            step,
            payment.amount,
            amount,
        )
    uow.publish(_outcome(payment, step), subject=order_id)
    await uow.commit()
    return payment


def _payment_from(result: ChargeResult, *, order_id: str, step: str, amount: Money) -> Payment:
    decline = None
    if not result.approved:
        decline = Decline(
            code=result.decline_code or "declined", message=result.decline_message or "The card was declined."
        )
    card = None
    if result.card_brand and result.card_last4:
        card = Card(brand=result.card_brand, last4=result.card_last4)
    return Payment(
        id=uuid.uuid4(),
        order_id=order_id,
        step=step,
        amount=amount,
        psp_reference=result.psp_reference,
        decline=decline,
        card=card,
    )


def _outcome(
    payment: Payment, step: contracts.PaymentStep
) -> contracts.PaymentSucceeded | contracts.PaymentFailed:
    if payment.decline is None:
        return contracts.PaymentSucceeded(
            order_id=payment.order_id,
            payment_id=str(payment.id),
            step=step,
            amount=payment.amount.amount,
            currency=payment.amount.currency,
            card_brand=payment.card.brand if payment.card else None,
            card_last4=payment.card.last4 if payment.card else None,
        )
    return contracts.PaymentFailed(
        order_id=payment.order_id,
        payment_id=str(payment.id),
        step=step,
        amount=payment.amount.amount,
        currency=payment.amount.currency,
        decline_code=payment.decline.code,
        message=payment.decline.message,
    )
