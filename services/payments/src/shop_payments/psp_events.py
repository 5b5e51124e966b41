"""The PSP's webhook events, each acted on once: a balance charge the customer confirmed later, and the events
about card holds (handed to ``hold_handlers``)."""

from __future__ import annotations

import logging
import uuid

from shop_payments import hold_handlers, repository
from shop_payments.answers import balance_outcome
from shop_payments.domain import (
    AUTHORIZATION_EXPIRED,
    CAPTURE_FAILED,
    CAPTURE_SUCCEEDED,
    CHARGE_SUCCEEDED,
    REFUND_OF_SECOND_CHARGE,
    Payment,
    PspEvent,
    PspEventOutcome,
    Refund,
    RefundPart,
    UnknownCharge,
    idempotency_key,
    payment_after_action,
    second_charge_step,
)
from shop_payments.psp import PaymentServiceProvider
from shop_runtime.database import UnitOfWork

log = logging.getLogger(__name__)


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
    uow.publish(balance_outcome(decided, decided.balance.group_id), subject=decided.order_id)
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
