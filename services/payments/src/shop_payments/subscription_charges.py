"""Subscriptions' charges: each cycle charged off session with the subscription's card, once per cycle, under the
order id orders chose for it (so the cycle's order is refunded as any order), and a card verified, charging
nothing, before orders takes it for a subscription."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request

from shop_api.payments import PaymentMethodIn
from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_payments import repository
from shop_payments.domain import Card, Decline, Payment
from shop_payments.hold_handlers import HoldPolicy
from shop_payments.psp import PaymentServiceProvider, PspUnavailable
from shop_payments.tables import payments
from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter
from shop_runtime.problems import Problem

STEP_PREFIX = "subscription_cycle:"

CHARGED = business_counter(
    "shop_payments_subscription_charged_minor_units",
    "Money taken for subscription cycles, in minor units",
    ["currency"],
)


def cycle_step(attempt: int) -> str:
    """The ledger step of one attempt at a cycle (the cycle's order holds only that cycle's attempts)."""
    return f"{STEP_PREFIX}{attempt}"


def psp_key(*, subscription_id: str, cycle: int, attempt: int) -> str:
    """The PSP's idempotency key: one charge per subscription, cycle and attempt, however often it is asked."""
    return f"subscription:{subscription_id}:cycle:{cycle}:attempt:{attempt}"


async def attempts_of_cycle(uow: UnitOfWork, *, order_id: str) -> list[Payment]:
    rows = await uow.session.execute(
        sa.select(payments)
        .where(payments.c.order_id == order_id, payments.c.step.startswith(STEP_PREFIX))
        .order_by(payments.c.created_at)
    )
    return [repository.payment_of_row(row) for row in rows]


async def charge_cycle(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    subscription_id: str,
    cycle: int,
    attempt: int,
    order_id: str,
    amount: Money,
    payment_token: str,
) -> Payment | None:
    """Charge one attempt at a cycle off session and tell the outcome, from the transaction that records it. A
    cycle already charged is never charged again, and an attempt already made is a copy: neither is told
    again. None when nothing was charged now."""
    await repository.lock(uow.session, order_id=order_id, what="subscription_cycle")
    earlier = await attempts_of_cycle(uow, order_id=order_id)
    if any(payment.succeeded for payment in earlier):
        return None
    step = cycle_step(attempt)
    if any(payment.step == step for payment in earlier):
        return None
    result = await psp.charge(
        token=payment_token,
        amount=amount.amount,
        currency=amount.currency,
        idempotency_key=psp_key(subscription_id=subscription_id, cycle=cycle, attempt=attempt),
        off_session=True,
    )
    card = Card(result.card_brand, result.card_last4) if result.card_brand and result.card_last4 else None
    payment = Payment(
        id=uuid.uuid4(),
        order_id=order_id,
        step=step,
        amount=amount,
        psp_reference=result.psp_reference,
        decline=None
        if result.approved
        else Decline(
            result.decline_code or "declined",
            result.decline_message or "The card was declined.",
            requires_action=result.requires_action,
        ),
        card=card,
    )
    await repository.add_payment(uow.session, payment)
    told = dict(
        subscription_id=subscription_id,
        cycle=cycle,
        attempt=attempt,
        order_id=order_id,
        payment_id=str(payment.id),
        amount=amount,
    )
    if payment.decline is None:
        uow.publish(
            contracts.SubscriptionChargeSucceeded(
                **told, card_brand=card.brand if card else None, card_last4=card.last4 if card else None
            ),
            subject=subscription_id,
        )
        uow.after_commit(lambda: CHARGED.labels(amount.currency).inc(amount.amount))
    else:
        uow.publish(
            contracts.SubscriptionChargeFailed(
                **told,
                decline_code=payment.decline.code,
                message=payment.decline.message,
                requires_action=payment.decline.requires_action,
            ),
            subject=subscription_id,
        )
    return payment


async def on_charge_subscription_cycle(
    message: contracts.ChargeSubscriptionCycle,
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    policy: HoldPolicy,
) -> None:
    await charge_cycle(
        uow,
        psp=psp,
        subscription_id=message.subscription_id,
        cycle=message.cycle,
        attempt=message.attempt,
        order_id=message.order_id,
        amount=message.amount,
        payment_token=message.payment_token,
    )


router = APIRouter()


def _psp(request: Request) -> PaymentServiceProvider:
    return request.app.state.psp  # type: ignore[no-any-return]


@router.post("/payment-methods/verifications")
async def verify_payment_method(
    body: PaymentMethodIn, psp: Annotated[PaymentServiceProvider, Depends(_psp)]
) -> dict[str, Any]:
    """Check that a card can be charged later, charging nothing: its brand and last four, or 422 with why."""
    try:
        verification = await psp.verify(token=body.token)
    except PspUnavailable as error:
        raise Problem(
            503,
            "The payment provider did not answer",
            str(error),
            code="psp_unavailable",
            headers={"Retry-After": "5"},
        ) from error
    if not verification.approved:
        why = verification.decline_message or "The payment method could not be verified."
        raise Problem(
            422,
            why,
            code="payment_method_not_verified",
            errors=[{"field": "token", "message": f"{verification.decline_code or 'declined'}: {why}"}],
        )
    return {"brand": verification.card_brand, "last4": verification.card_last4}
