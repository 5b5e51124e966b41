"""Payments' use cases: each is one async function that works in the unit of work it is given; the edge that
calls it (the dispatcher, an HTTP route through ``committed``) commits that unit of work once."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from datetime import datetime

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_payments import hold_handlers, hold_repository, repository
from shop_payments.domain import (
    AUTHORIZATION_EXPIRED,
    CAPTURE_FAILED,
    CAPTURE_SUCCEEDED,
    CHARGE_SUCCEEDED,
    NO_SAVED_METHOD,
    REFUND_OF_SECOND_CHARGE,
    BalanceAttempt,
    Card,
    Decline,
    InvalidAmount,
    MethodNotVerified,
    NoSavedMethod,
    Payment,
    PaymentKind,
    PspEvent,
    PspEventOutcome,
    Refund,
    RefundExceedsCaptured,
    RefundKeyReused,
    RefundPart,
    RefundRefusedBefore,
    RefundRejection,
    SavedMethod,
    UnknownCharge,
    answer_to_balance_ask,
    balance_step,
    idempotency_key,
    payment_after_action,
    second_charge_step,
)
from shop_payments.hold_handlers import HoldPolicy
from shop_payments.holds import money_back_parts
from shop_payments.psp import ChargeResult, PaymentServiceProvider, Verification
from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter

log = logging.getLogger(__name__)

# Business counters, counted once the unit of work committed (the revenue dashboard reads them).
CAPTURED = business_counter(
    "shop_payments_captured_minor_units",
    "Money captured, in minor units, by kind: checkout (paid in full), deposit (a balance follows), balance",
    ["currency", "kind"],
)
REFUNDED = business_counter(
    "shop_payments_refunded_minor_units", "Money refunded, in minor units", ["currency"]
)
REFUNDS = business_counter("shop_payments_refunds", "Refunds issued", ["reason"])


BANK_TRANSFER_PREFIX = "bank-transfer:"
"""How a capture that came by bank transfer is told apart in the ledger (its PSP reference column)."""


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
        payment = _payment_from_verification(verification, order_id=order_id, step=step, amount=amount)
    else:
        result = await psp.charge(
            token=payment_token,
            amount=amount.amount,
            currency=amount.currency,
            idempotency_key=idempotency_key(order_id=order_id, step=step),
            off_session=False,
        )
        payment = _payment_from(result, order_id=order_id, step=step, amount=amount)
    await repository.add_payment(uow.session, payment)
    if save_method and payment.succeeded and bank_transfer_reference is None:
        await repository.save_method(
            uow.session,
            SavedMethod(order_id=order_id, token=payment_token, card=payment.card),
            replace=False,
        )
    uow.publish(_outcome(payment, step), subject=order_id)
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
        payment = _payment_from(result, order_id=order_id, step=step, amount=amount, balance=made)
    await repository.add_payment(uow.session, payment)
    uow.publish(_balance_outcome(payment, group_id), subject=order_id)
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
    method = SavedMethod(order_id=order_id, token=token, card=_card(verification))
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
        uow.publish(_refund_issued(refund), subject=order_id)
        uow.after_commit(lambda: _count_refund(refund))
    return refund


async def refund_as_asked(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    order_id: str,
    amount: int,
    currency: str,
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
                uow, psp=psp, order_id=order_id, amount=amount, reason=reason, idempotency_key=idempotency_key
            )
    except RefundRefusedBefore:
        return
    except (RefundExceedsCaptured, RefundKeyReused, InvalidAmount) as error:
        rejection = RefundRejection(
            order_id=order_id,
            idempotency_key=idempotency_key,
            amount=amount,
            currency=currency,
            reason=reason,
            error=f"{type(error).__name__}: {error}",
        )
        if await repository.add_refund_rejection(uow.session, rejection):
            uow.publish(
                contracts.RefundRejected(
                    order_id=order_id,
                    amount=amount,
                    currency=currency,
                    reason=reason,
                    idempotency_key=idempotency_key,
                    error=rejection.error,
                ),
                subject=order_id,
            )
        return
    if created:
        uow.publish(_refund_issued(refund), subject=order_id)
        uow.after_commit(lambda: _count_refund(refund))


def _count_capture(payment: Payment, *, kind: str) -> None:
    """Count money a committed charge took (a decline, a verification of 0 or a hold took none)."""
    if payment.succeeded and payment.amount.amount > 0 and payment.kind is PaymentKind.CHARGE:
        CAPTURED.labels(payment.amount.currency, kind).inc(payment.amount.amount)


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


async def apply_psp_event(
    uow: UnitOfWork, *, psp: PaymentServiceProvider, event: PspEvent
) -> PspEventOutcome:
    """Act on a PSP webhook event once: its id is recorded in the transaction of its effect, so a replay
    (the PSP delivers at least once) is answered ``duplicate`` and changes nothing.

    ``charge.succeeded`` for a balance charge declined because the customer had to confirm it (3-D Secure):
    the customer did, so the group's balance is paid and ``BalanceCharged`` flows as for any charge. When
    another attempt paid the group meanwhile, the customer paid twice: that charge is recorded and refunded
    at once. Another event about a charge already recorded tells nothing new. Events about holds and their
    captures go to ``hold_handlers.apply_hold_event``.
    """
    if not await repository.claim_psp_event(uow.session, event):
        return PspEventOutcome.DUPLICATE
    outcome = PspEventOutcome.IGNORED
    if event.type == CHARGE_SUCCEEDED and event.charge_reference:
        outcome = await _charge_succeeded(uow, psp, event, event.charge_reference)
    elif event.type in (AUTHORIZATION_EXPIRED, CAPTURE_SUCCEEDED, CAPTURE_FAILED):
        outcome = await hold_handlers.apply_hold_event(uow, psp=psp, event=event)
    await repository.set_psp_event_outcome(uow.session, event.id, outcome)
    return outcome


async def _charge_succeeded(
    uow: UnitOfWork, psp: PaymentServiceProvider, event: PspEvent, charge_reference: str
) -> PspEventOutcome:
    declined = await repository.payment_by_reference(uow.session, psp_reference=charge_reference)
    if declined is None:
        raise UnknownCharge(f"no charge {charge_reference} is recorded", field="data.charge")
    if declined.balance is not None:
        await repository.lock(
            uow.session, order_id=declined.order_id, what=f"balance:{declined.balance.group_id}"
        )
        attempts = await repository.balance_attempts(
            uow.session, order_id=declined.order_id, group_id=declined.balance.group_id
        )
    else:
        attempts = []
    decided = payment_after_action(declined, attempts, event=event, payment_id=uuid.uuid4())
    if decided is PspEventOutcome.ALREADY_PAID:
        return await _refund_second_charge(uow, psp, event, declined)
    if not isinstance(decided, Payment):
        return decided
    assert decided.balance is not None
    await repository.add_payment(uow.session, decided)
    uow.publish(_balance_outcome(decided, decided.balance.group_id), subject=decided.order_id)
    return PspEventOutcome.BALANCE_CHARGED


async def _refund_second_charge(
    uow: UnitOfWork, psp: PaymentServiceProvider, event: PspEvent, declined: Payment
) -> PspEventOutcome:
    """The customer confirmed a declined balance charge after another attempt paid the group: the PSP took
    the money twice. Record that charge and give it back in the same transaction, under keys of the charge
    itself, so an event about it told again (or a retry after a failed commit) records and refunds nothing more.
    """
    assert declined.psp_reference is not None  # found by it
    step = second_charge_step(declined.psp_reference)
    if await repository.payment_for_step(uow.session, order_id=declined.order_id, step=step) is not None:
        return PspEventOutcome.NO_CHANGE
    charged = Payment(
        id=uuid.uuid4(),
        order_id=declined.order_id,
        step=step,
        amount=declined.amount,
        psp_reference=declined.psp_reference,
        card=declined.card,
    )
    key = idempotency_key(order_id=declined.order_id, step=step)
    refunded = await psp.refund(
        psp_reference=declined.psp_reference, amount=declined.amount.amount, idempotency_key=key
    )
    refund = Refund(
        id=uuid.uuid4(),
        order_id=declined.order_id,
        idempotency_key=key,
        amount=declined.amount,
        reason=REFUND_OF_SECOND_CHARGE,
        parts=(
            RefundPart(
                payment_id=charged.id,
                charge_reference=declined.psp_reference,
                amount=declined.amount,
                refund_reference=refunded.psp_reference,
            ),
        ),
    )
    await repository.add_payment(uow.session, charged)
    await repository.add_refund(uow.session, refund)
    log.warning(
        "PSP event %s: charge %s of order %s went through after its group was paid by another attempt; "
        "recorded and refunded",
        event.id,
        declined.psp_reference,
        declined.order_id,
    )
    return PspEventOutcome.ALREADY_PAID


def _refund_issued(refund: Refund) -> contracts.RefundIssued:
    return contracts.RefundIssued(
        order_id=refund.order_id,
        refund_id=str(refund.id),
        amount=refund.amount.amount,
        currency=refund.amount.currency,
        reason=refund.reason,
        idempotency_key=refund.idempotency_key,
        voided=refund.voided.amount,
    )


def _card(answer: ChargeResult | Verification) -> Card | None:
    if answer.card_brand and answer.card_last4:
        return Card(brand=answer.card_brand, last4=answer.card_last4)
    return None


def _decline(answer: ChargeResult | Verification) -> Decline | None:
    if answer.approved:
        return None
    return Decline(
        code=answer.decline_code or "declined",
        message=answer.decline_message or "The card was declined.",
        requires_action=isinstance(answer, ChargeResult) and answer.requires_action,
    )


def _payment_from(
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
        decline=_decline(result),
        card=_card(result),
        balance=balance,
    )


def _payment_from_verification(
    verification: Verification, *, order_id: str, step: str, amount: Money
) -> Payment:
    """A payment of 0: the method was verified (it succeeded) or not (it failed), and nothing moved."""
    return Payment(
        id=uuid.uuid4(),
        order_id=order_id,
        step=step,
        amount=amount,
        psp_reference=verification.psp_reference,
        decline=_decline(verification),
        card=_card(verification),
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
            authorized_only=payment.kind is PaymentKind.AUTHORIZATION,
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


def _balance_outcome(
    payment: Payment, group_id: str
) -> contracts.BalanceCharged | contracts.BalanceChargeFailed:
    if payment.decline is None:
        return contracts.BalanceCharged(
            order_id=payment.order_id,
            group_id=group_id,
            payment_id=str(payment.id),
            amount=payment.amount.amount,
            currency=payment.amount.currency,
        )
    return contracts.BalanceChargeFailed(
        order_id=payment.order_id,
        group_id=group_id,
        payment_id=str(payment.id),
        amount=payment.amount.amount,
        currency=payment.amount.currency,
        decline_code=payment.decline.code,
        message=payment.decline.message,
        requires_action=payment.decline.requires_action,
    )
