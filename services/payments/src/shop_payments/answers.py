"""What a PSP's answer becomes: the ledger's payment row for it, and the message that tells the other services."""

from __future__ import annotations

import uuid

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_payments.domain import BalanceAttempt, Card, Decline, Payment, PaymentKind, Refund
from shop_payments.psp import ChargeResult, Verification


def refund_issued(refund: Refund) -> contracts.RefundIssued:
    return contracts.RefundIssued(
        order_id=refund.order_id,
        refund_id=str(refund.id),
        amount=refund.amount,
        reason=refund.reason,
        idempotency_key=refund.idempotency_key,
        voided=refund.voided,
    )


def card_of(answer: ChargeResult | Verification) -> Card | None:
    if answer.card_brand and answer.card_last4:
        return Card(brand=answer.card_brand, last4=answer.card_last4)
    return None


def decline_of(answer: ChargeResult | Verification) -> Decline | None:
    if answer.approved:
        return None
    return Decline(
        code=answer.decline_code or "declined",
        message=answer.decline_message or "The card was declined.",
        requires_action=isinstance(answer, ChargeResult) and answer.requires_action,
    )


def payment_from(
    result: ChargeResult,
    *,
    order_id: str,
    step: str,
    amount: Money,
    balance: BalanceAttempt | None = None,
) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        order_id=order_id,
        step=step,
        amount=amount,
        psp_reference=result.psp_reference,
        decline=decline_of(result),
        card=card_of(result),
        balance=balance,
    )


def payment_from_verification(
    verification: Verification, *, order_id: str, step: str, amount: Money
) -> Payment:
    """A payment of 0: the method was verified (it succeeded) or not (it failed), and nothing moved."""
    return Payment(
        id=uuid.uuid4(),
        order_id=order_id,
        step=step,
        amount=amount,
        psp_reference=verification.psp_reference,
        decline=decline_of(verification),
        card=card_of(verification),
    )


def payment_outcome(
    payment: Payment, step: contracts.PaymentStep
) -> contracts.PaymentSucceeded | contracts.PaymentFailed:
    if payment.decline is None:
        return contracts.PaymentSucceeded(
            order_id=payment.order_id,
            payment_id=str(payment.id),
            step=step,
            amount=payment.amount,
            card_brand=payment.card.brand if payment.card else None,
            card_last4=payment.card.last4 if payment.card else None,
            authorized_only=payment.kind is PaymentKind.AUTHORIZATION,
        )
    return contracts.PaymentFailed(
        order_id=payment.order_id,
        payment_id=str(payment.id),
        step=step,
        amount=payment.amount,
        decline_code=payment.decline.code,
        message=payment.decline.message,
    )


def balance_outcome(
    payment: Payment, group_id: str
) -> contracts.BalanceCharged | contracts.BalanceChargeFailed:
    if payment.decline is None:
        return contracts.BalanceCharged(
            order_id=payment.order_id,
            group_id=group_id,
            payment_id=str(payment.id),
            amount=payment.amount,
        )
    return contracts.BalanceChargeFailed(
        order_id=payment.order_id,
        group_id=group_id,
        payment_id=str(payment.id),
        amount=payment.amount,
        decline_code=payment.decline.code,
        message=payment.decline.message,
        requires_action=payment.decline.requires_action,
    )
