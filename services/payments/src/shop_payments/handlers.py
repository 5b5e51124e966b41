"""Payments' use cases: each is one async function that works in the unit of work it is given; the edge that
calls it (the dispatcher, an HTTP route through ``committed``) commits that unit of work once."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_payments import hold_handlers, repository
from shop_payments.answers import (
    balance_outcome,
    card_of,
    payment_from,
    payment_from_verification,
    payment_outcome,
)
from shop_payments.domain import (
    BANK_TRANSFER_PREFIX,
    NO_SAVED_METHOD,
    BalanceAttempt,
    Decline,
    MethodNotVerified,
    NoSavedMethod,
    Payment,
    PaymentKind,
    SavedMethod,
    answer_to_balance_ask,
    balance_step,
    idempotency_key,
)
from shop_payments.hold_handlers import HoldPolicy
from shop_payments.psp import PaymentServiceProvider
from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter

log = logging.getLogger(__name__)

# Business counters, counted once the unit of work committed (the revenue dashboard reads them).
CAPTURED = business_counter(
    "shop_payments_captured_minor_units",
    "Money captured, in minor units, by kind: checkout (paid in full), deposit (a balance follows), balance",
    ["currency", "kind"],
)


async def capture_payment(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    order_id: str,
    step: contracts.PaymentStep,
    amount: Money,
    payment_token: str,
    save_method: bool = False,
    bank_transfer_reference: str | None = None,
    balance_later: bool = False,
    policy: HoldPolicy | None = None,
) -> Payment:
    """Charge one step of an order, record the outcome and tell it; a step asked for again (a copy of the
    command under another message id, a late redelivery) is neither charged nor told again: its outcome was
    told from the transaction that recorded it.

    With ``bank_transfer_reference`` the money already arrived by bank transfer (staff marked a draft order as
    paid): the capture is recorded in the ledger under that reference and the PSP is not called.

    An amount of 0 charges nothing: the token is only verified. With ``save_method`` the token is kept
    for off-session balance charges once the charge (or the verification) succeeded.

    The PSP is called inside the transaction: if the commit then fails, the retry charges with the same
    idempotency key and the PSP answers as before, so the customer is still charged once.

    With a ``policy`` that captures at shipment, money by card for the whole order is authorised instead (a
    hold): the order is confirmed as for a charge, and each shipment captures its share (``hold_handlers``).
    """
    await repository.lock(uow.session, order_id=order_id, what=step)
    payment = await repository.payment_for_step(uow.session, order_id=order_id, step=step)
    if payment is not None:
        if payment.amount != amount:
            log.warning(
                "order %s step %s was already charged %s; a request for %s changes nothing",
                order_id,
                step,
                payment.amount,
                amount,
            )
        return payment
    if bank_transfer_reference is not None:
        payment = Payment(
            id=uuid.uuid4(),
            order_id=order_id,
            step=step,
            amount=amount,
            psp_reference=f"{BANK_TRANSFER_PREFIX}{bank_transfer_reference}",
        )
    elif policy is not None and policy.holds(amount=amount, balance_later=balance_later, bank_transfer=False):
        payment = await hold_handlers.authorise(
            uow,
            psp=psp,
            policy=policy,
            order_id=order_id,
            step=step,
            amount=amount,
            payment_token=payment_token,
        )
    elif amount.amount == 0:
        verification = await psp.verify(token=payment_token)
        payment = payment_from_verification(verification, order_id=order_id, step=step, amount=amount)
    else:
        result = await psp.charge(
            token=payment_token,
            amount=amount.amount,
            currency=amount.currency,
            idempotency_key=idempotency_key(order_id=order_id, step=step),
            off_session=False,
        )
        payment = payment_from(result, order_id=order_id, step=step, amount=amount)
    keep = save_method and payment.succeeded and bank_transfer_reference is None
    await repository.add_payment(
        uow.session,
        payment,
        method=SavedMethod(order_id=order_id, token=payment_token, card=payment.card) if keep else None,
    )
    uow.publish(payment_outcome(payment, step), subject=order_id)
    uow.after_commit(lambda: _count_capture(payment, kind="deposit" if balance_later else "checkout"))
    return payment


async def charge_balance(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    order_id: str,
    group_id: str,
    amount: Money,
    attempt: int | None = None,
    asked_at: datetime | None = None,
) -> Payment:
    """Charge a shipment group's balance off-session with the order's saved method, a new charge per attempt.

    A group that was charged is never charged, nor told, again. After a decline, an ask for a later
    ``attempt`` than payments made is a new attempt with its own step and PSP key (dunning retries, a method
    the customer replaced); an ask for one it made already is a copy and changes nothing. An ask without
    an attempt number (an older producer) is told apart by when it was made, ``asked_at`` (see
    ``answer_to_balance_ask``).
    """
    await repository.lock(uow.session, order_id=order_id, what=f"balance:{group_id}")
    attempts = await repository.balance_attempts(uow.session, order_id=order_id, group_id=group_id)
    decided = answer_to_balance_ask(attempts, attempt=attempt, asked_at=asked_at)
    if isinstance(decided, Payment):
        if decided.amount != amount:
            log.warning(
                "order %s group %s was already charged %s; a request for %s changes nothing",
                order_id,
                group_id,
                decided.amount,
                amount,
            )
        return decided
    made = BalanceAttempt(group_id=group_id, number=decided)
    step = balance_step(group_id=group_id, attempt=made.number)
    method = await repository.saved_method(uow.session, order_id=order_id)
    if method is None:
        payment = Payment(
            id=uuid.uuid4(),
            order_id=order_id,
            step=step,
            amount=amount,
            psp_reference=None,
            decline=Decline(NO_SAVED_METHOD, "The order has no saved payment method to charge."),
            balance=made,
        )
    else:
        result = await psp.charge(
            token=method.token,
            amount=amount.amount,
            currency=amount.currency,
            idempotency_key=idempotency_key(order_id=order_id, step=step),
            off_session=True,
        )
        payment = payment_from(result, order_id=order_id, step=step, amount=amount, balance=made)
    await repository.add_payment(uow.session, payment)
    uow.publish(balance_outcome(payment, group_id), subject=order_id)
    uow.after_commit(lambda: _count_capture(payment, kind="balance"))
    return payment


async def replace_payment_method(
    uow: UnitOfWork, *, psp: PaymentServiceProvider, order_id: str, token: str
) -> SavedMethod:
    """Verify ``token`` and make it the order's saved method in place of the one it had, and say so (orders
    then charges a failed balance again at once)."""
    await repository.lock(uow.session, order_id=order_id, what="payment_method")
    if await repository.saved_method(uow.session, order_id=order_id) is None:
        raise NoSavedMethod(f"order {order_id} has no saved payment method")
    verification = await psp.verify(token=token)
    if not verification.approved:
        raise MethodNotVerified(
            verification.decline_message or "The payment method could not be verified.",
            code=verification.decline_code or "declined",
        )
    method = SavedMethod(order_id=order_id, token=token, card=card_of(verification))
    await repository.save_method(uow.session, method, replace=True)
    uow.publish(
        contracts.PaymentMethodUpdated(
            order_id=order_id,
            card_brand=method.card.brand if method.card else None,
            card_last4=method.card.last4 if method.card else None,
        ),
        subject=order_id,
    )
    return method


def _count_capture(payment: Payment, *, kind: str) -> None:
    """Count money a committed charge took (a decline, a verification of 0 or a hold took none)."""
    if payment.succeeded and payment.amount.amount > 0 and payment.kind is PaymentKind.CHARGE:
        CAPTURED.labels(payment.amount.currency, kind).inc(payment.amount.amount)
