"""Notifications' use cases: each is one async function that works in the unit of work it is given; the edge
that calls it (the dispatcher, the sender loop) commits that unit of work once.

Each email is recorded with the fact it tells (``domain.Fact``): once per fact and channel, whichever message
brings it, and not at all when a later fact of the order is already told.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime

from opentelemetry import propagate, trace

from shop_contracts import Envelope
from shop_contracts.money import Money
from shop_notifications import preferences, repository
from shop_notifications.domain import (
    Fact,
    InvoiceAmounts,
    InvoiceLine,
    OrderLine,
    PreorderLine,
    Recipient,
    RejectionReason,
    ShippingAddress,
    WaitlistItem,
    WinBackOffer,
    balance_charge_failed_fact,
    balance_charged_fact,
    balance_reminder_fact,
    draft_invoice_fact,
    hold_charge_failed_fact,
    low_stock_fact,
    order_cancelled_fact,
    order_confirmed_fact,
    order_rejected_fact,
    payment_overdue_fact,
    preorder_date_changed_fact,
    return_label_fact,
    return_refunded_fact,
    return_rejected_fact,
    shipment_delivered_fact,
    shipment_shipped_fact,
    waitlist_fact,
    win_back_offer_fact,
)
from shop_notifications.emails import (
    EmailDraft,
    draft_invoice_email,
    order_balance_charge_failed_email,
    order_balance_charged_email,
    order_balance_reminder_email,
    order_cancelled_email,
    order_confirmed_email,
    order_delivered_email,
    order_payment_overdue_email,
    order_rejected_email,
    order_shipped_email,
    preorder_date_changed_email,
    return_label_email,
    return_refunded_email,
    return_rejected_email,
    waitlist_back_in_stock_email,
    waitlist_preorder_open_email,
    win_back_offer_email,
)
from shop_notifications.hold_charge_emails import order_hold_charge_failed_email
from shop_notifications.page_links import EmailPage, page_url
from shop_notifications.rendering import render_email
from shop_notifications.staff_emails import NO_STAFF_ADDRESS, LowStockAlert, StaffAlerting, low_stock_email
from shop_runtime.database import UnitOfWork

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


async def notify_order_confirmed(
    uow: UnitOfWork,
    *,
    order_id: str,
    recipient: Recipient,
    lines: list[OrderLine],
    subtotal: Money,
    shipping: Money,
    total: Money,
    shipping_address: ShippingAddress,
    charged_now: Money | None = None,
    preorder_lines: Sequence[PreorderLine] = (),
    page: EmailPage | None = None,
) -> None:
    """Queue the confirmation email: what was bought, what it cost, where it goes and, for pre-orders, what
    is paid now and what later."""
    draft = order_confirmed_email(
        order_id=order_id,
        recipient=recipient,
        lines=lines,
        subtotal=subtotal,
        shipping=shipping,
        total=total,
        shipping_address=shipping_address,
        charged_now=charged_now,
        preorder_lines=preorder_lines,
    )
    await _queue_email(uow, draft, order_confirmed_fact(order_id), page=page)


async def notify_order_rejected(
    uow: UnitOfWork, *, order_id: str, recipient: Recipient, reason: RejectionReason
) -> None:
    """Queue the email that explains why an order could not be completed and that nothing was charged."""
    await _queue_email(
        uow,
        order_rejected_email(order_id=order_id, recipient=recipient, reason=reason),
        order_rejected_fact(order_id),
    )


async def notify_order_shipped(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    recipient: Recipient,
    carrier: str,
    tracking_number: str,
    page: EmailPage | None = None,
) -> None:
    """Queue the email with the carrier and tracking number of a shipment, unless its delivery is already told."""
    draft = order_shipped_email(
        order_id=order_id, recipient=recipient, carrier=carrier, tracking_number=tracking_number
    )
    await _queue_email(uow, draft, shipment_shipped_fact(order_id, fulfillment_id), page=page)


async def notify_order_delivered(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    recipient: Recipient,
    page: EmailPage | None = None,
) -> None:
    """Queue the email that says a shipment arrived."""
    await _queue_email(
        uow,
        order_delivered_email(order_id=order_id, recipient=recipient),
        shipment_delivered_fact(order_id, fulfillment_id),
        page=page,
    )


async def notify_balance_charged(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    recipient: Recipient,
    amount: Money,
    expected_ship_date: date | None,
    page: EmailPage | None = None,
) -> None:
    """Queue the email that says a pre-order's balance was charged and when it should ship."""
    draft = order_balance_charged_email(
        order_id=order_id, recipient=recipient, amount=amount, expected_ship_date=expected_ship_date
    )
    await _queue_email(uow, draft, balance_charged_fact(order_id, group_id), page=page)


async def notify_order_cancelled(
    uow: UnitOfWork,
    *,
    order_id: str,
    recipient: Recipient,
    reason: str,
    refund: Money,
    storefront_url: str = "",
    partial: bool = False,
    held: bool = False,
    cancelled_by: str = "shop",
    offer: WinBackOffer | None = None,
    feedback_token: str | None = None,
    page: EmailPage | None = None,
) -> None:
    """Queue the email that confirms a cancellation and the refund, and tries to keep the customer; when the
    offer for the reason is a code, queue it after as its own email, in the marketing category (sent only to a
    customer who consented, recorded as suppressed otherwise)."""
    await _queue_email(
        uow,
        order_cancelled_email(
            order_id=order_id,
            recipient=recipient,
            reason=reason,
            refund=refund,
            storefront_url=storefront_url,
            partial=partial,
            held=held,
            cancelled_by=cancelled_by,
            offer=offer,
            feedback_token=feedback_token,
            pages_url=page.target.pages_url if page is not None else None,
        ),
        order_cancelled_fact(order_id, partial=partial),
        page=page,
    )
    if offer is not None and offer.is_code:
        await _queue_email(
            uow,
            win_back_offer_email(order_id=order_id, recipient=recipient, offer=offer),
            win_back_offer_fact(order_id),
        )


async def notify_hold_charge_failed(
    uow: UnitOfWork,
    *,
    storefront_url: str,
    order_id: str,
    recipient: Recipient,
    amount: Money,
    attempt: int,
    reason: str,
    requires_action: bool,
    retry_at: datetime | None,
    give_up_at: datetime,
    page: EmailPage | None = None,
) -> None:
    """Queue the email that says a lapsed card hold could not be charged: why, what happens next, where to fix it."""
    draft = order_hold_charge_failed_email(
        order_id=order_id,
        recipient=recipient,
        amount=amount,
        reason=reason,
        requires_action=requires_action,
        retry_at=retry_at,
        give_up_at=give_up_at,
        storefront_url=storefront_url,
    )
    await _queue_email(uow, draft, hold_charge_failed_fact(order_id, attempt=attempt), page=page)


async def notify_balance_charge_failed(
    uow: UnitOfWork,
    *,
    storefront_url: str,
    order_id: str,
    group_id: str,
    recipient: Recipient,
    amount: Money,
    reason: str,
    requires_action: bool,
    retry_at: datetime | None,
    page: EmailPage | None = None,
) -> None:
    """Queue the email that says why a balance charge failed, what happens next and where to fix it."""
    draft = order_balance_charge_failed_email(
        order_id=order_id,
        recipient=recipient,
        amount=amount,
        reason=reason,
        requires_action=requires_action,
        retry_at=retry_at,
        storefront_url=storefront_url,
    )
    await _queue_email(
        uow,
        draft,
        balance_charge_failed_fact(order_id, group_id, retry_at=retry_at, reason=reason),
        page=page,
    )


async def notify_preorder_date_changed(
    uow: UnitOfWork,
    *,
    storefront_url: str,
    order_id: str,
    recipient: Recipient,
    sku: str,
    title: str,
    previous_date: date | None,
    expected_ship_date: date | None,
    promised_date: date,
    consent_required: bool,
    decision_token: str,
    page: EmailPage | None = None,
) -> None:
    """Queue the email that tells a pre-order's new expected ship date and how to accept it or cancel."""
    draft = preorder_date_changed_email(
        order_id=order_id,
        recipient=recipient,
        title=title,
        previous_date=previous_date,
        expected_ship_date=expected_ship_date,
        promised_date=promised_date,
        consent_required=consent_required,
        decision_token=decision_token,
        storefront_url=storefront_url,
    )
    fact = preorder_date_changed_fact(
        order_id, sku=sku, previous_date=previous_date, expected_ship_date=expected_ship_date
    )
    await _queue_email(uow, draft, fact, page=page)


async def notify_balance_reminder(
    uow: UnitOfWork,
    *,
    storefront_url: str,
    order_id: str,
    recipient: Recipient,
    amount: Money,
    charge_at: datetime,
    group_id: str | None,
    sku: str | None,
    when_ready: bool = False,
    page: EmailPage | None = None,
) -> None:
    """Queue the email that says a pre-order's balance will be charged soon and where to change the card."""
    draft = order_balance_reminder_email(
        order_id=order_id,
        recipient=recipient,
        amount=amount,
        charge_at=charge_at,
        storefront_url=storefront_url,
        when_ready=when_ready,
    )
    await _queue_email(
        uow,
        draft,
        balance_reminder_fact(order_id, group_id=group_id, sku=sku, charge_at=charge_at),
        page=page,
    )


async def notify_back_in_stock(
    uow: UnitOfWork, *, storefront_url: str, entry_id: str, recipient: Recipient, item: WaitlistItem
) -> None:
    """Queue the email that tells a waitlist subscriber the variant is back in stock."""
    draft = waitlist_back_in_stock_email(
        entry_id=entry_id, recipient=recipient, item=item, storefront_url=storefront_url
    )
    await _queue_email(uow, draft, waitlist_fact(entry_id, "back_in_stock", _message_id(uow)))


async def notify_preorder_open(
    uow: UnitOfWork,
    *,
    storefront_url: str,
    entry_id: str,
    recipient: Recipient,
    item: WaitlistItem,
    ends_at: datetime | None,
    expected_ship_date: date | None,
) -> None:
    """Queue the email that tells a waitlist subscriber the variant takes pre-orders."""
    draft = waitlist_preorder_open_email(
        entry_id=entry_id,
        recipient=recipient,
        item=item,
        ends_at=ends_at,
        expected_ship_date=expected_ship_date,
        storefront_url=storefront_url,
    )
    await _queue_email(uow, draft, waitlist_fact(entry_id, "preorder_open", _message_id(uow)))


async def notify_low_stock(uow: UnitOfWork, *, alert: LowStockAlert, staff: StaffAlerting) -> None:
    """Queue the low-stock email to each staff address; with none set, record the alert unsent, saying why."""
    for address in staff.addresses:
        draft = low_stock_email(alert=alert, recipient=Recipient(email=address, locale=staff.locale))
        await _queue_email(uow, draft, low_stock_fact(alert.sku, alert.alert_number, address))
    if not staff.addresses:
        draft = low_stock_email(alert=alert, recipient=Recipient(email="", locale=staff.locale))
        fact = low_stock_fact(alert.sku, alert.alert_number, "")
        added = await repository.add_email(
            uow.session,
            source_message_id=_causation(uow).id,
            fact_key=fact.key,
            draft=draft,
            rendered=render_email(draft),
        )
        if added.id is not None:
            await repository.mark_suppressed(uow.session, str(added.id), reason=NO_STAFF_ADDRESS)
        log.warning(
            "low-stock alert %s of %s not emailed: %s", alert.alert_number, alert.sku, NO_STAFF_ADDRESS
        )


async def notify_return_label(
    uow: UnitOfWork,
    *,
    order_id: str,
    return_id: str,
    recipient: Recipient,
    carrier: str,
    tracking_number: str,
    label_url: str,
) -> None:
    """Queue the email with an approved return's label."""
    draft = return_label_email(
        order_id=order_id,
        recipient=recipient,
        carrier=carrier,
        tracking_number=tracking_number,
        label_url=label_url,
    )
    await _queue_email(uow, draft, return_label_fact(order_id, return_id))


async def notify_return_rejected(
    uow: UnitOfWork, *, order_id: str, return_id: str, recipient: Recipient, reason: str
) -> None:
    """Queue the email that says staff rejected a return, and why."""
    await _queue_email(
        uow,
        return_rejected_email(order_id=order_id, recipient=recipient, reason=reason),
        return_rejected_fact(order_id, return_id),
    )


async def notify_return_refunded(
    uow: UnitOfWork,
    *,
    order_id: str,
    return_id: str,
    recipient: Recipient,
    value: Money,
    return_shipping_fee: Money,
    restocking_fee: Money,
    refund: Money,
    exchange_unavailable: list[str] | None = None,
) -> None:
    """Queue the email with a received return's refund and the fees kept."""
    draft = return_refunded_email(
        order_id=order_id,
        recipient=recipient,
        value=value,
        return_shipping_fee=return_shipping_fee,
        restocking_fee=restocking_fee,
        refund=refund,
        exchange_unavailable=exchange_unavailable,
    )
    fact = return_refunded_fact(order_id, return_id, exchange_unavailable=bool(exchange_unavailable))
    await _queue_email(uow, draft, fact)


async def notify_draft_invoice(
    uow: UnitOfWork,
    *,
    storefront_url: str,
    draft_id: str,
    recipient: Recipient,
    lines: list[InvoiceLine],
    amounts: InvoiceAmounts,
    payment_terms: str,
    net_days: int | None,
    due_date: date | None,
    checkout_token: str,
    page: EmailPage | None = None,
) -> None:
    """Queue the invoice of a draft order with its checkout link."""
    draft = draft_invoice_email(
        draft_id=draft_id,
        recipient=recipient,
        lines=lines,
        amounts=amounts,
        payment_terms=payment_terms,
        net_days=net_days,
        due_date=due_date,
        checkout_token=checkout_token,
        storefront_url=storefront_url,
    )
    await _queue_email(uow, draft, draft_invoice_fact(draft_id, _message_id(uow)), page=page)


async def notify_payment_overdue(
    uow: UnitOfWork,
    *,
    storefront_url: str,
    order_id: str,
    draft_id: str,
    recipient: Recipient,
    amount: Money,
    due_date: date,
    checkout_token: str,
    page: EmailPage | None = None,
) -> None:
    """Queue the reminder of an order on terms whose payment is overdue."""
    draft = order_payment_overdue_email(
        order_id=order_id,
        draft_id=draft_id,
        recipient=recipient,
        amount=amount,
        due_date=due_date,
        checkout_token=checkout_token,
        storefront_url=storefront_url,
    )
    await _queue_email(uow, draft, payment_overdue_fact(order_id, due_date), page=page)


def _causation(uow: UnitOfWork) -> Envelope:
    if uow.causation is None:
        raise RuntimeError("a notification is queued while handling the message that caused it")
    return uow.causation


def _message_id(uow: UnitOfWork) -> str:
    return str(_causation(uow).id)


async def queue_email(uow: UnitOfWork, draft: EmailDraft, fact: Fact) -> None:
    """Record the email telling ``fact`` (once per fact; see ``_queue_email``), for emails written elsewhere."""
    await _queue_email(uow, draft, fact)


async def _queue_email(
    uow: UnitOfWork, draft: EmailDraft, fact: Fact, *, page: EmailPage | None = None
) -> None:
    """Record the email telling ``fact``: once per fact, and superseded (never sent) when a later fact of the
    order is already recorded. Decided under the order's lock, so the sender, which sends an order's emails
    in the order recorded, never sends an earlier fact after a later one. With ``page``, the email links to
    that page, signed as of the message that caused it (a redelivery signs the same link)."""
    source = _causation(uow)
    stored_key = await repository.lock_story(uow.session, draft.order_id)
    if page is not None:
        secret = stored_key if stored_key is not None else (await preferences.link_secrets(uow))[0]
        url = page_url(page.target, page.link, secret=secret, issued_at=int(source.time.timestamp()))
        draft = replace(draft, values={**draft.values, "page_url": url})
    trace_context: dict[str, str] = {}
    propagate.inject(trace_context)  # the consumer's span: sending the email later continues this trace
    added = await repository.add_email(
        uow.session,
        source_message_id=source.id,
        fact_key=fact.key,
        draft=draft,
        rendered=render_email(draft),
        trace_context=trace_context,
    )
    if added.id is None:
        log.info("%s of %s is already recorded (message %s)", draft.template, fact.key, source.id)
        return
    later = fact.superseded_by(added.earlier_facts)
    if later is not None:
        # Rare (a fact arriving after a later one): recorded pending above, moot before anyone can see it.
        await repository.mark_superseded(uow.session, added.id, by=later)
        log.info("%s of %s is not sent: the later %s is already told", draft.template, fact.key, later)
