"""Card holds' use cases: authorise at checkout, capture as the order ships, settle a hold before it lapses
(capture what is left when nothing more will ship, otherwise release it and charge the saved method off
session), and the PSP's word on holds and captures. Each works in the unit of work it is given and never
commits; the edge that calls it does (the dispatcher, the scheduler, an HTTP route through ``committed``).

Captures follow facts payments records once (the order's confirmation terms, each shipment fulfillment
reported), so they come out the same whatever order the facts arrive in; each capture is one step of the
order, charged once under its own PSP idempotency key.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts.money import Money
from shop_payments import hold_repository, repository
from shop_payments.domain import (
    AUTHORIZATION_EXPIRED,
    CAPTURE_SUCCEEDED,
    NO_SAVED_METHOD,
    Card,
    Decline,
    LedgerKind,
    Payment,
    PaymentKind,
    PspEvent,
    PspEventOutcome,
    UnknownCharge,
    idempotency_key,
)
from shop_payments.holds import (
    CHECKOUT_CAPTURE,
    REPLACEMENT_STEP,
    SETTLE_CAPTURE,
    Hold,
    OrderTerms,
    ShipmentFact,
    capture_step,
    new_capture,
    nothing_left_to_ship,
    settle_at,
    shipment_captures,
)
from shop_payments.psp import PaymentServiceProvider
from shop_payments.tables import scheduled_jobs
from shop_runtime import scheduling
from shop_runtime.clock import Clock, SystemClock
from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter

log = logging.getLogger(__name__)

SHORT_PICK = "short_pick"
"""The reason orders gives when it asks back the money of units found short at the pick."""

AUTHORISED = business_counter(
    "shop_payments_authorised_minor_units",
    "Money held on cards at checkout (authorised), in minor units",
    ["currency"],
)
HOLD_CAPTURED = business_counter(
    "shop_payments_hold_captured_minor_units",
    "Money captured from card holds as orders ship, in minor units",
    ["currency"],
)
VOIDED = business_counter(
    "shop_payments_voided_minor_units",
    "Money released from card holds without being taken, in minor units",
    ["currency"],
)
EXPIRED = business_counter(
    "shop_payments_expired_minor_units",
    "Money card holds still held when they lapsed (or were released because they were about to), in minor units",
    ["currency"],
)
# The revenue counter handlers declare: captures of holds and their replacements are revenue too.
CAPTURED = business_counter(
    "shop_payments_captured_minor_units",
    "Money captured, in minor units, by kind: checkout (paid in full), deposit (a balance follows), balance",
    ["currency", "kind"],
)


class SettleHold(scheduling.Job):
    """Settle an order's hold shortly before it lapses."""

    KIND = "payments.settle_hold"
    order_id: str
    authorization_id: str


class BeginHoldDunning(scheduling.Job):
    """The off-session charge replacing an order's hold failed: tell the customer and charge again later
    (``hold_dunning``)."""

    KIND = "payments.begin_hold_dunning"
    order_id: str


AT_ONCE = datetime(2000, 1, 1, tzinfo=UTC)
"""A job's due time that is past whatever the clock says (a test clock included): it runs at once."""


@dataclass(frozen=True)
class HoldPolicy:
    """When money is taken for in-stock goods, and how long before a hold lapses payments settles it."""

    capture_mode: Literal["at_checkout", "at_shipment"] = "at_checkout"
    settle_margin: timedelta = timedelta(hours=24)
    clock: Clock = field(default_factory=SystemClock)
    dunning_retry_after: timedelta = timedelta(hours=24)
    """How long after a failed off-session charge of a lapsed hold it is tried again."""
    dunning_period: timedelta = timedelta(days=10)
    """How long after the first failure payments stops trying and leaves the order to staff."""

    def holds(self, *, amount: Money, balance_later: bool, bank_transfer: bool) -> bool:
        """Whether a checkout step is authorised rather than captured: money by card, in full, at shipment."""
        return (
            self.capture_mode == "at_shipment"
            and amount.amount > 0
            and not balance_later
            and not bank_transfer
        )


def _card(payment: Payment) -> Card | None:
    return payment.card


async def authorise(
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    policy: HoldPolicy,
    order_id: str,
    step: str,
    amount: Money,
    payment_token: str,
) -> Payment:
    """Hold ``amount`` on the card for one step of an order and schedule its settling; nothing is taken.

    The caller holds the step's lock and found it not done yet; it records the payment and publishes the outcome.
    """
    result = await psp.authorize(
        token=payment_token,
        amount=amount.amount,
        currency=amount.currency,
        idempotency_key=idempotency_key(order_id=order_id, step=step),
    )
    payment = Payment(
        id=uuid.uuid4(),
        order_id=order_id,
        step=step,
        amount=amount,
        psp_reference=result.psp_reference,
        decline=(
            None
            if result.approved
            else Decline(
                result.decline_code or "declined", result.decline_message or "The card was declined."
            )
        ),
        card=Card(result.card_brand, result.card_last4) if result.card_brand and result.card_last4 else None,
        kind=PaymentKind.AUTHORIZATION,
        expires_at=result.expires_at if result.approved else None,
    )
    if payment.succeeded:
        due = settle_at(
            authorised_at=policy.clock.now(), expires_at=payment.expires_at, margin=policy.settle_margin
        )
        if due is not None:
            await scheduling.schedule(
                uow.session,
                scheduled_jobs,
                SettleHold(order_id=order_id, authorization_id=str(payment.id)),
                key=f"settle-hold:{payment.id}",
                due_at=due,
            )
        uow.after_commit(lambda: AUTHORISED.labels(amount.currency).inc(amount.amount))
    return payment


async def order_is_held(session: AsyncSession, *, order_id: str) -> bool:
    """Whether orders' confirmation of the order, or a shipment or delivery of it, can change anything here:
    whether it has an approved hold. One statement, without the lock; the consumers' probe (``Probed``), asked
    before the message is claimed, so a message for an order without a hold (captured at checkout: most
    orders) is acked with no inbox row and no transaction.

    False is final by the time any of these messages exists, which is what lets it skip the claim. An order's
    hold is approved in the transaction that publishes ``payments.payment.succeeded`` (``authorized_only``);
    orders confirms the order and hands its groups to fulfillment only once it handled that outcome, and
    fulfillment ships only what it was handed: a confirmation, shipment or delivery of a held order cannot
    reach payments before its hold is committed, whichever of them arrives first, twice, or again after a
    redelivery. Only the checkout step is ever held (a deposit, a balance, a bank transfer, a replacement of a
    lapsed hold are charges), so no hold appears later for an order that had none. A message found without a
    hold is therefore one that ``record_confirmation`` and ``record_shipment`` would never let change anything,
    and any copy of it is found so again: nothing is written, nothing published, nothing needs remembering.
    A held order's messages are claimed and handled as before, once each (the claim tells copies apart).
    What would break it: a hold approved after orders confirmed (a flow that authorises a later step); such
    a flow must keep the claim for these messages (drop their probe)."""
    return await hold_repository.has_holds(session, order_id=order_id)


async def record_confirmation(
    uow: UnitOfWork, *, psp: PaymentServiceProvider, order_id: str, terms: Callable[[], OrderTerms]
) -> None:
    """Orders confirmed a held order: keep what its shipments' shares are computed from, and capture what is
    due already (all of it for an order with pre-order lines; shipments recorded before, if any). An order
    without a hold (captured at checkout) is not kept, and its ``terms`` are not even built from the message;
    its consumer does not even get here (``order_is_held``)."""
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    if not await hold_repository.holds_of_order(uow.session, order_id=order_id):
        return
    if await hold_repository.record_terms(uow.session, terms()):
        await _begin_dunning_waiting_for(uow, order_id=order_id)
    await _capture_due(uow, psp, order_id=order_id)


async def _begin_dunning_waiting_for(uow: UnitOfWork, *, order_id: str) -> None:
    """The confirmation (and whom to tell) was just recorded: a dunning waiting for it begins now."""
    attempts = await hold_repository.replacements_of_order(uow.session, order_id=order_id)
    if attempts and not any(attempt.succeeded for attempt in attempts):
        await uow.jobs.reschedule(
            BeginHoldDunning(order_id=order_id), key=begin_dunning_key(order_id), due_at=AT_ONCE
        )


def begin_dunning_key(order_id: str) -> str:
    return f"{BeginHoldDunning.KIND}:{order_id}"


async def record_shipment(
    uow: UnitOfWork, *, psp: PaymentServiceProvider, order_id: str, shipment: Callable[[], ShipmentFact]
) -> None:
    """A shipment of a held order left: keep it once and capture its share (all that is left of the hold
    when nothing more will ship). An order without a hold is not kept (``shipment`` is not built).

    Most orders hold nothing (they were captured at checkout), and they are answered before the message is
    claimed, without the lock (``order_is_held``, its consumer's probe). An order with a hold is locked and
    read again under the lock."""
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    if not await hold_repository.holds_of_order(uow.session, order_id=order_id):
        return
    await hold_repository.record_shipment(uow.session, order_id=order_id, shipment=shipment())
    await _capture_due(uow, psp, order_id=order_id)


async def capture_due(uow: UnitOfWork, psp: PaymentServiceProvider, *, order_id: str) -> None:
    """Take what the order's shipments are due of its holds, once orders answered for their short units (a
    give-back it asked for after the shipment arrived lets the last shipment's capture go ahead)."""
    if not await hold_repository.has_holds(uow.session, order_id=order_id):
        return
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    await _capture_due(uow, psp, order_id=order_id)


async def _capture_due(uow: UnitOfWork, psp: PaymentServiceProvider, *, order_id: str) -> None:
    terms = await hold_repository.terms_of(uow.session, order_id=order_id)
    if terms is None:
        return  # shipments wait for the confirmation's terms
    for hold in await hold_repository.holds_of_order(uow.session, order_id=order_id):
        if terms.has_preorder_lines:
            step = capture_step(CHECKOUT_CAPTURE)
            if step not in hold.steps_done() and hold.open.amount > 0:
                await _capture_or_replace(uow, psp, hold, step=step, amount=hold.open)
            continue
        shipments = await hold_repository.shipments_of(uow.session, order_id=order_id)
        answered = await repository.money_back_answered(uow.session, order_id=order_id, reason=SHORT_PICK)
        for planned in shipment_captures(terms, shipments, hold, shorts_answered=answered):
            if not await _capture_or_replace(uow, psp, hold, step=planned.step, amount=planned.amount):
                break  # the hold was replaced: later shipments take nothing more of it
            reloaded = await hold_repository.hold(uow.session, authorization_id=hold.authorization.id)
            assert reloaded is not None
            hold = reloaded


async def _capture_or_replace(
    uow: UnitOfWork, psp: PaymentServiceProvider, hold: Hold, *, step: str, amount: Money
) -> bool:
    """Capture ``amount`` of the hold as ``step``; when the PSP refuses, release the hold and charge what it
    still held off session instead (False)."""
    if amount.amount == 0:
        await repository.add_payment(uow.session, new_capture(hold, step=step, amount=amount))
        return True
    hold.check_capture(amount)
    assert hold.authorization.psp_reference is not None  # an approved hold has one
    result = await psp.capture(
        authorization_reference=hold.authorization.psp_reference,
        amount=amount.amount,
        currency=amount.currency,
        idempotency_key=idempotency_key(order_id=hold.order_id, step=step),
    )
    capture = Payment(
        id=uuid.uuid4(),
        order_id=hold.order_id,
        step=step,
        amount=amount,
        psp_reference=result.psp_reference,
        decline=(
            None
            if result.approved
            else Decline(
                result.decline_code or "capture_failed", result.decline_message or "The capture failed."
            )
        ),
        card=_card(hold.authorization),
        kind=PaymentKind.CAPTURE,
        authorization_id=hold.authorization.id,
    )
    await repository.add_payment(uow.session, capture)
    if capture.succeeded:
        uow.after_commit(lambda: HOLD_CAPTURED.labels(amount.currency).inc(amount.amount))
        uow.after_commit(lambda: CAPTURED.labels(amount.currency, "hold").inc(amount.amount))
        return True
    log.warning(
        "order %s: the PSP refused to capture %s of its hold (%s); charging the saved method instead",
        hold.order_id,
        amount,
        result.decline_code,
    )
    reloaded = await hold_repository.hold(uow.session, authorization_id=hold.authorization.id)
    assert reloaded is not None
    await replace_hold(uow, psp, reloaded, lapsed=False)
    return False


async def replace_hold(
    uow: UnitOfWork, psp: PaymentServiceProvider, hold: Hold, *, lapsed: bool
) -> Payment | None:
    """The hold cannot be captured (it lapsed, is about to, or the PSP refused): record what it still held as
    expired (releasing it at the PSP unless it ``lapsed`` there already) and charge that off session with the
    order's saved method, once. Without a method, or declined, the charge is recorded failed and dunning
    begins (``hold_dunning``: the customer is told, the charge is tried again)."""
    left = hold.open
    if left.amount > 0:
        reference = None
        if not lapsed:
            assert hold.authorization.psp_reference is not None
            released = await psp.void(
                authorization_reference=hold.authorization.psp_reference,
                amount=left.amount,
                idempotency_key=f"{hold.order_id}:expire:{hold.authorization.id}",
            )
            reference = released.psp_reference
        await hold_repository.add_release(
            uow.session, hold, kind=LedgerKind.EXPIRY, amount=left, reference=reference
        )
        uow.after_commit(lambda: EXPIRED.labels(left.currency).inc(left.amount))
    owed = hold.expired + left
    if owed.amount == 0 or hold.replacements:
        return None
    existing = await repository.payment_for_step(uow.session, order_id=hold.order_id, step=REPLACEMENT_STEP)
    if existing is not None:
        return existing
    replacement = await charge_saved_method(
        uow,
        psp,
        order_id=hold.order_id,
        authorization_id=hold.authorization.id,
        step=REPLACEMENT_STEP,
        owed=owed,
    )
    if not replacement.succeeded:
        log.warning(
            "order %s: its hold lapsed and the off-session charge of %s failed (%s); dunning begins",
            hold.order_id,
            owed,
            replacement.decline.code if replacement.decline else "",
        )
        await uow.jobs.schedule(
            BeginHoldDunning(order_id=hold.order_id), key=begin_dunning_key(hold.order_id), due_at=AT_ONCE
        )
    return replacement


async def charge_saved_method(
    uow: UnitOfWork,
    psp: PaymentServiceProvider,
    *,
    order_id: str,
    authorization_id: uuid.UUID,
    step: str,
    owed: Money,
) -> Payment:
    """Charge ``owed`` off session with the order's saved method as ``step`` in place of a hold, and record it
    (failed with ``no_saved_method`` when the order has none, the PSP not asked)."""
    method = await repository.saved_method(uow.session, order_id=order_id)
    if method is None:
        replacement = Payment(
            id=uuid.uuid4(),
            order_id=order_id,
            step=step,
            amount=owed,
            psp_reference=None,
            decline=Decline(NO_SAVED_METHOD, "The order has no saved payment method to charge."),
            kind=PaymentKind.REPLACEMENT,
            authorization_id=authorization_id,
        )
    else:
        result = await psp.charge(
            token=method.token,
            amount=owed.amount,
            currency=owed.currency,
            idempotency_key=idempotency_key(order_id=order_id, step=step),
            off_session=True,
        )
        replacement = Payment(
            id=uuid.uuid4(),
            order_id=order_id,
            step=step,
            amount=owed,
            psp_reference=result.psp_reference,
            decline=(
                None
                if result.approved
                else Decline(
                    result.decline_code or "declined",
                    result.decline_message or "The card was declined.",
                    requires_action=result.requires_action,
                )
            ),
            card=Card(result.card_brand, result.card_last4)
            if result.card_brand and result.card_last4
            else None,
            kind=PaymentKind.REPLACEMENT,
            authorization_id=authorization_id,
        )
    await repository.add_payment(uow.session, replacement)
    if replacement.succeeded:
        uow.after_commit(lambda: CAPTURED.labels(owed.currency, "hold_replacement").inc(owed.amount))
    return replacement


async def settle_hold(
    uow: UnitOfWork, *, psp: PaymentServiceProvider, order_id: str, authorization_id: uuid.UUID
) -> None:
    """Shortly before a hold lapses: capture what shipped; when nothing more will ship take what is left,
    otherwise release it and charge it off session with the saved method."""
    await hold_repository.lock_hold(uow.session, order_id=order_id)
    if await hold_repository.hold(uow.session, authorization_id=authorization_id) is None:
        return
    await _capture_due(uow, psp, order_id=order_id)
    hold = await hold_repository.hold(uow.session, authorization_id=authorization_id)
    assert hold is not None
    if hold.open.amount == 0:
        return
    terms = await hold_repository.terms_of(uow.session, order_id=order_id)
    shipments = await hold_repository.shipments_of(uow.session, order_id=order_id)
    if terms is not None and not terms.has_preorder_lines and nothing_left_to_ship(terms, shipments):
        step = capture_step(SETTLE_CAPTURE)
        if step not in hold.steps_done():
            await _capture_or_replace(uow, psp, hold, step=step, amount=hold.open)
            return
    await replace_hold(uow, psp, hold, lapsed=False)


async def on_settle_hold(job: SettleHold, uow: UnitOfWork, *, psp: PaymentServiceProvider) -> None:
    await settle_hold(uow, psp=psp, order_id=job.order_id, authorization_id=uuid.UUID(job.authorization_id))


async def apply_hold_event(
    uow: UnitOfWork, *, psp: PaymentServiceProvider, event: PspEvent
) -> PspEventOutcome:
    """``authorization.expired``: what the hold still held is recorded as expired and charged off session
    (nothing changes when it was settled already). ``capture.succeeded`` / ``capture.failed``: the PSP's word
    on a capture payments recorded; one that differs is kept for review and changes nothing."""
    if event.type == AUTHORIZATION_EXPIRED:
        if not event.authorization_reference:
            raise UnknownCharge("the event names no authorization", field="data.authorization")
        found = await hold_repository.hold_by_reference(
            uow.session, psp_reference=event.authorization_reference
        )
        if found is None:
            raise UnknownCharge(
                f"no hold {event.authorization_reference} is recorded", field="data.authorization"
            )
        await hold_repository.lock_hold(uow.session, order_id=found.order_id)
        hold = await hold_repository.hold(uow.session, authorization_id=found.authorization.id)
        assert hold is not None
        if hold.open.amount == 0:
            return PspEventOutcome.NO_CHANGE
        await replace_hold(uow, psp, hold, lapsed=True)
        return PspEventOutcome.HOLD_EXPIRED
    if not event.capture_reference:
        raise UnknownCharge("the event names no capture", field="data.capture")
    capture = await hold_repository.capture_by_reference(uow.session, psp_reference=event.capture_reference)
    if capture is None:
        raise UnknownCharge(f"no capture {event.capture_reference} is recorded", field="data.capture")
    agrees = capture.succeeded == (event.type == CAPTURE_SUCCEEDED) and (
        event.amount is None or event.amount == capture.amount
    )
    if agrees:
        return PspEventOutcome.NO_CHANGE
    log.warning("PSP event %s (%s) differs from capture %s as recorded", event.id, event.type, capture.id)
    return PspEventOutcome.NEEDS_REVIEW
