"""Dunning of a lapsed card hold: when the off-session charge that replaces a hold fails (declined, or no saved
method), payments tells the customer why and where to replace the card, charges the saved method again after
``dunning_retry_after`` (at once when the customer replaces the card), and stops at the end of
``dunning_period``, leaving the order to staff (the audit's ``money.holds_paid`` lists it).

Payments owns it rather than orders: an in-stock order's shipment group was handed to the warehouse at
confirmation, so orders has no unpaid state to hold it in, and the charge, its attempts and the saved method
are payments' own. Each attempt is one step of the order (``replacement``, ``replacement:2``, ...), charged once
under its own PSP idempotency key; the dunning itself is one row, begun once and ended once.
"""

from __future__ import annotations

import logging

from shop_contracts import payments as contracts
from shop_contracts.values import Customer
from shop_payments import hold_repository
from shop_payments.domain import Payment
from shop_payments.hold_handlers import BeginHoldDunning, HoldPolicy, charge_saved_method
from shop_payments.holds import Dunning, OrderTerms, replacement_step
from shop_payments.psp import PaymentServiceProvider
from shop_runtime import scheduling
from shop_runtime.database import UnitOfWork

log = logging.getLogger(__name__)


class RetryHoldCharge(scheduling.Job):
    """Charge a lapsed hold off session again: ``attempt`` is the attempt this retry makes."""

    KIND = "payments.retry_hold_charge"
    order_id: str
    attempt: int


class EndHoldDunning(scheduling.Job):
    """The dunning period of a lapsed hold ends: stop trying, and leave an unpaid order to staff."""

    KIND = "payments.end_hold_dunning"
    order_id: str


class ConfirmationNotRecorded(Exception):
    """Raised from the job that begins dunning to run it again later: whom to tell comes with the confirmation
    (recording it runs the job again at once)."""


def retry_key(order_id: str, attempt: int) -> str:
    return f"{RetryHoldCharge.KIND}:{order_id}:{attempt}"


def end_key(order_id: str) -> str:
    return f"{EndHoldDunning.KIND}:{order_id}"


async def begin_dunning(uow: UnitOfWork, *, policy: HoldPolicy, order_id: str) -> None:
    """The first off-session charge of the order's lapsed hold failed: begin dunning once (the period starts
    now), tell the customer and schedule the next attempt and the period's end."""
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    if await hold_repository.dunning_of(uow.session, order_id=order_id) is not None:
        return
    attempts = await hold_repository.replacements_of_order(uow.session, order_id=order_id)
    if not attempts or any(attempt.succeeded for attempt in attempts):
        return
    terms = await hold_repository.terms_of(uow.session, order_id=order_id)
    if terms is None:
        raise ConfirmationNotRecorded(f"order {order_id}: its confirmation is not recorded yet")
    failed = attempts[-1]
    assert failed.authorization_id is not None  # a replacement belongs to a hold
    now = policy.clock.now()
    dunning = Dunning(
        order_id=order_id,
        authorization_id=failed.authorization_id,
        owed=failed.amount,
        began_at=now,
        give_up_at=now + policy.dunning_period,
    )
    await hold_repository.begin_dunning(uow.session, dunning)
    await uow.jobs.schedule(
        EndHoldDunning(order_id=order_id), key=end_key(order_id), due_at=dunning.give_up_at
    )
    await _after_failure(uow, policy, dunning, terms, failed, attempt=len(attempts))


async def charge_again(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    policy: HoldPolicy,
    order_id: str,
    attempt: int | None = None,
) -> Payment | None:
    """Charge the saved method again for a lapsed hold in dunning: as the retry ``attempt`` scheduled (nothing
    when that attempt was made already), or, with ``attempt`` None, at once because the customer replaced the
    card (the retry scheduled next gives way). Paid: the dunning ends. Declined: the customer is told again and
    the next attempt scheduled, while the period lasts."""
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    dunning = await hold_repository.dunning_of(uow.session, order_id=order_id)
    if dunning is None or not dunning.running:
        return None
    attempts = await hold_repository.replacements_of_order(uow.session, order_id=order_id)
    if any(made.succeeded for made in attempts):
        return None
    number = len(attempts) + 1
    if attempt is not None and attempt != number:
        return None  # made already (the customer replaced the card before it came due)
    now = policy.clock.now()
    if now >= dunning.give_up_at:
        return None  # the period's end decides
    if attempt is None:
        await uow.jobs.cancel(key=retry_key(order_id, number), now=now)
    payment = await charge_saved_method(
        uow,
        psp,
        order_id=order_id,
        authorization_id=dunning.authorization_id,
        step=replacement_step(number),
        owed=dunning.owed,
    )
    if payment.succeeded:
        log.info("order %s: attempt %d at its lapsed hold's charge succeeded", order_id, number)
        await hold_repository.end_dunning(uow.session, order_id=order_id, outcome="paid", at=now)
        await uow.jobs.cancel(key=end_key(order_id), now=now)
        return payment
    terms = await hold_repository.terms_of(uow.session, order_id=order_id)
    assert terms is not None  # dunning begins only once the confirmation is recorded
    await _after_failure(uow, policy, dunning, terms, payment, attempt=number)
    return payment


async def end_dunning(uow: UnitOfWork, *, policy: HoldPolicy, order_id: str) -> None:
    """The period ended: an order still unpaid waits for staff (charged again only when the customer replaces
    the card before this runs)."""
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    dunning = await hold_repository.dunning_of(uow.session, order_id=order_id)
    if dunning is None or not dunning.running:
        return
    attempts = await hold_repository.replacements_of_order(uow.session, order_id=order_id)
    paid = any(made.succeeded for made in attempts)
    await hold_repository.end_dunning(
        uow.session, order_id=order_id, outcome="paid" if paid else "unpaid", at=policy.clock.now()
    )
    if not paid:
        log.warning(
            "order %s: its lapsed hold (%s) is still unpaid after %d attempts; staff follow it up",
            order_id,
            dunning.owed,
            len(attempts),
        )


async def _after_failure(
    uow: UnitOfWork, policy: HoldPolicy, dunning: Dunning, terms: OrderTerms, failed: Payment, *, attempt: int
) -> None:
    now = policy.clock.now()
    retry_at = dunning.next_retry(now=now, retry_after=policy.dunning_retry_after)
    if retry_at is not None:
        await uow.jobs.schedule(
            RetryHoldCharge(order_id=dunning.order_id, attempt=attempt + 1),
            key=retry_key(dunning.order_id, attempt + 1),
            due_at=retry_at,
        )
    if terms.customer_email is None or terms.customer_locale not in ("ko", "en"):
        log.warning("order %s: no customer recorded to tell of its unpaid hold", dunning.order_id)
        return
    decline = failed.decline
    uow.publish(
        contracts.HoldChargeFailed(
            order_id=dunning.order_id,
            customer=Customer.model_validate(
                {"email": terms.customer_email, "locale": terms.customer_locale}
            ),
            payment_id=str(failed.id),
            amount=dunning.owed,
            attempt=attempt,
            decline_code=decline.code if decline else "declined",
            message=decline.message if decline else "The card was declined.",
            requires_action=decline.requires_action if decline else False,
            retry_at=retry_at,
            give_up_at=dunning.give_up_at,
        ),
        subject=dunning.order_id,
    )


async def on_begin_hold_dunning(job: BeginHoldDunning, uow: UnitOfWork, *, policy: HoldPolicy) -> None:
    await begin_dunning(uow, policy=policy, order_id=job.order_id)


async def on_retry_hold_charge(
    job: RetryHoldCharge, uow: UnitOfWork, *, psp: PaymentServiceProvider, policy: HoldPolicy
) -> None:
    await charge_again(uow, psp=psp, policy=policy, order_id=job.order_id, attempt=job.attempt)


async def on_end_hold_dunning(job: EndHoldDunning, uow: UnitOfWork, *, policy: HoldPolicy) -> None:
    await end_dunning(uow, policy=policy, order_id=job.order_id)
