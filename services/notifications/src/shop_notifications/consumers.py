"""What notifications subscribes to: each consumer translates a contract into a handler call, nothing more.

A consumer whose email links to the storefront takes ``storefront_url`` as a keyword; ``subscriptions`` binds it.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from shop_contracts import catalog, fulfillment, orders, payments
from shop_contracts.values import Customer
from shop_notifications import handlers, preferences, subscription_emails
from shop_notifications.domain import (
    InvoiceAmounts,
    InvoiceLine,
    OrderLine,
    PreorderLine,
    Recipient,
    ShippingAddress,
    WaitlistItem,
    WinBackOffer,
)
from shop_notifications.page_links import EmailPage, LinkTarget, PageKind, PageLink
from shop_notifications.staff_emails import LowStockAlert, StaffAlerting, StockAtLocation
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import UnitOfWork


def _page(
    target: LinkTarget | None,
    kind: PageKind,
    subject: str,
    customer: Customer,
    action_token: str | None = None,
) -> EmailPage | None:
    """The page an email links to, when the shop's links are configured (``target``)."""
    if target is None:
        return None
    return EmailPage(PageLink(kind, subject, customer.locale, action_token), target)


def _recipient(customer: Customer) -> Recipient:
    return Recipient(email=customer.email, locale=customer.locale)


def _balance_charged_at(balance_due: str) -> datetime | None:
    """``on_ready`` (None: when the goods are ready) or the ISO date-time of the charge, read as UTC if naive."""
    if balance_due == "on_ready":
        return None
    moment = datetime.fromisoformat(balance_due)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _preorder_line(line: orders.PreorderSummary) -> PreorderLine:
    return PreorderLine(
        sku=line.sku,
        title=line.title,
        quantity=line.quantity,
        payment_mode=line.payment_mode,
        paid_now=line.paid_now,
        balance=line.balance,
        balance_charged_at=_balance_charged_at(line.balance_due),
        expected_ship_date=line.expected_ship_date,
        queue_position=line.queue_position,
    )


async def on_order_confirmed(
    message: orders.OrderConfirmed, uow: UnitOfWork, *, target: LinkTarget | None = None
) -> None:
    address = message.shipping_address
    await handlers.notify_order_confirmed(
        uow,
        order_id=message.order_id,
        recipient=_recipient(message.customer),
        lines=[
            OrderLine(
                sku=line.sku,
                title=line.title,
                quantity=line.quantity,
                unit_price=line.unit_price,
                line_total=line.line_total,
            )
            for line in message.lines
        ],
        subtotal=message.subtotal,
        shipping=message.shipping,
        total=message.total,
        shipping_address=ShippingAddress(
            name=address.name,
            line1=address.line1,
            line2=address.line2,
            city=address.city,
            region=address.region,
            postal_code=address.postal_code,
            country=address.country,
        ),
        charged_now=message.charged_now,
        preorder_lines=[_preorder_line(line) for line in message.preorder_lines],
        page=_page(target, "order", message.order_id, message.customer),
    )


async def on_order_rejected(message: orders.OrderRejected, uow: UnitOfWork) -> None:
    await handlers.notify_order_rejected(
        uow, order_id=message.order_id, recipient=_recipient(message.customer), reason=message.reason
    )


async def on_order_shipped(
    message: orders.OrderShipped, uow: UnitOfWork, *, target: LinkTarget | None = None
) -> None:
    await handlers.notify_order_shipped(
        uow,
        order_id=message.order_id,
        fulfillment_id=message.fulfillment_id,
        recipient=_recipient(message.customer),
        carrier=message.carrier,
        tracking_number=message.tracking_number,
        page=_page(target, "order", message.order_id, message.customer),
    )


async def on_order_delivered(
    message: orders.OrderDelivered, uow: UnitOfWork, *, target: LinkTarget | None = None
) -> None:
    await handlers.notify_order_delivered(
        uow,
        order_id=message.order_id,
        fulfillment_id=message.fulfillment_id,
        recipient=_recipient(message.customer),
        page=_page(target, "order", message.order_id, message.customer),
    )


async def on_order_balance_charged(
    message: orders.OrderBalanceCharged, uow: UnitOfWork, *, target: LinkTarget | None = None
) -> None:
    await handlers.notify_balance_charged(
        uow,
        order_id=message.order_id,
        group_id=message.group_id,
        recipient=_recipient(message.customer),
        amount=message.amount,
        expected_ship_date=message.expected_ship_date,
        page=_page(target, "order", message.order_id, message.customer),
    )


async def on_order_cancelled(
    message: orders.OrderCancelled,
    uow: UnitOfWork,
    *,
    storefront_url: str,
    target: LinkTarget | None = None,
) -> None:
    await handlers.notify_order_cancelled(
        uow,
        order_id=message.order_id,
        recipient=_recipient(message.customer),
        reason=message.reason,
        refund=message.refund,
        storefront_url=storefront_url,
        partial=message.partial,
        held=message.held,
        cancelled_by=message.cancelled_by,
        offer=_win_back_offer(message),
        feedback_token=message.feedback_token,
        page=_page(target, "order", message.order_id, message.customer),
    )


def _win_back_offer(message: orders.OrderCancelled) -> WinBackOffer | None:
    """The offer of a cancellation; an older producer's percent code comes in the discount fields alone."""
    offer = message.offer
    if offer is not None:
        return WinBackOffer(
            kind=offer.kind,
            code=offer.code,
            percent_off=offer.percent_off,
            amount_off=offer.amount_off,
            link=offer.link,
            skus=tuple(offer.skus),
            expires_at=offer.expires_at,
        )
    if message.discount_code and message.discount_expires_at:
        return WinBackOffer(
            kind="percent",
            code=message.discount_code,
            percent_off=message.discount_percent,
            expires_at=message.discount_expires_at,
        )
    return None


async def on_customer_marketing_consent_changed(
    message: orders.CustomerMarketingConsentChanged, uow: UnitOfWork
) -> None:
    await preferences.record_account_consent(
        uow, email=message.email, consent=message.marketing_consent, changed_at=message.changed_at
    )


async def on_order_balance_charge_failed(
    message: orders.OrderBalanceChargeFailed,
    uow: UnitOfWork,
    *,
    storefront_url: str,
    target: LinkTarget | None = None,
) -> None:
    await handlers.notify_balance_charge_failed(
        uow,
        storefront_url=storefront_url,
        order_id=message.order_id,
        group_id=message.group_id,
        recipient=_recipient(message.customer),
        amount=message.amount,
        reason=message.reason,
        requires_action=message.requires_action,
        retry_at=message.retry_at,
        page=_page(target, "order", message.order_id, message.customer),
    )


async def on_hold_charge_failed(
    message: payments.HoldChargeFailed,
    uow: UnitOfWork,
    *,
    storefront_url: str,
    target: LinkTarget | None = None,
) -> None:
    await handlers.notify_hold_charge_failed(
        uow,
        storefront_url=storefront_url,
        order_id=message.order_id,
        recipient=_recipient(message.customer),
        amount=message.amount,
        attempt=message.attempt,
        reason=message.decline_code,
        requires_action=message.requires_action,
        retry_at=message.retry_at,
        give_up_at=message.give_up_at,
        page=_page(target, "order", message.order_id, message.customer),
    )


async def on_order_balance_reminder(
    message: orders.OrderBalanceReminder,
    uow: UnitOfWork,
    *,
    storefront_url: str,
    target: LinkTarget | None = None,
) -> None:
    await handlers.notify_balance_reminder(
        uow,
        storefront_url=storefront_url,
        order_id=message.order_id,
        recipient=_recipient(message.customer),
        amount=message.amount,
        charge_at=message.charge_at,
        group_id=message.group_id,
        sku=message.sku,
        when_ready=message.when_ready,
        page=_page(target, "order", message.order_id, message.customer),
    )


async def on_waitlist_notification(
    message: catalog.WaitlistNotification, uow: UnitOfWork, *, storefront_url: str
) -> None:
    item = WaitlistItem(
        sku=message.sku, product_id=message.product_id, title=message.title, options=message.options
    )
    if message.kind == "back_in_stock":
        await handlers.notify_back_in_stock(
            uow,
            storefront_url=storefront_url,
            entry_id=message.waitlist_entry_id,
            recipient=_recipient(message.customer),
            item=item,
        )
    else:
        await handlers.notify_preorder_open(
            uow,
            storefront_url=storefront_url,
            entry_id=message.waitlist_entry_id,
            recipient=_recipient(message.customer),
            item=item,
            ends_at=message.ends_at,
            expected_ship_date=message.expected_ship_date,
        )


async def on_stock_low(message: catalog.StockLow, uow: UnitOfWork, *, staff: StaffAlerting) -> None:
    alert = LowStockAlert(
        sku=message.sku,
        title=message.title,
        available=message.available,
        threshold=message.threshold,
        alert_number=message.alert_number,
        locations=tuple(
            StockAtLocation(
                location=place.location,
                on_hand=place.on_hand,
                reserved=place.reserved,
                safety_stock=place.safety_stock,
                available=place.available,
            )
            for place in message.locations
        ),
    )
    await handlers.notify_low_stock(uow, alert=alert, staff=staff)


async def on_preorder_date_changed(
    message: orders.OrderPreorderDateChanged,
    uow: UnitOfWork,
    *,
    storefront_url: str,
    target: LinkTarget | None = None,
) -> None:
    await handlers.notify_preorder_date_changed(
        uow,
        storefront_url=storefront_url,
        order_id=message.order_id,
        recipient=_recipient(message.customer),
        sku=message.sku,
        title=message.title,
        previous_date=message.previous_date,
        expected_ship_date=message.expected_ship_date,
        promised_date=message.promised_date,
        consent_required=message.consent_required,
        decision_token=message.decision_token,
        page=_page(target, "decision", message.order_id, message.customer, message.decision_token),
    )


async def on_return_label_created(message: fulfillment.ReturnLabelCreated, uow: UnitOfWork) -> None:
    await handlers.notify_return_label(
        uow,
        order_id=message.order_id,
        return_id=message.return_id,
        recipient=_recipient(message.customer),
        carrier=message.carrier,
        tracking_number=message.tracking_number,
        label_url=message.label_url,
    )


async def on_return_rejected(message: orders.ReturnRejected, uow: UnitOfWork) -> None:
    await handlers.notify_return_rejected(
        uow,
        order_id=message.order_id,
        return_id=message.return_id,
        recipient=_recipient(message.customer),
        reason=message.reason,
    )


async def on_return_refunded(message: orders.ReturnRefunded, uow: UnitOfWork) -> None:
    await handlers.notify_return_refunded(
        uow,
        order_id=message.order_id,
        return_id=message.return_id,
        recipient=_recipient(message.customer),
        value=message.value,
        return_shipping_fee=message.return_shipping_fee,
        restocking_fee=message.restocking_fee,
        refund=message.refund,
        exchange_unavailable=message.exchange_unavailable,
    )


async def on_order_payment_overdue(
    message: orders.OrderPaymentOverdue,
    uow: UnitOfWork,
    *,
    storefront_url: str,
    target: LinkTarget | None = None,
) -> None:
    await handlers.notify_payment_overdue(
        uow,
        storefront_url=storefront_url,
        order_id=message.order_id,
        draft_id=message.draft_id,
        recipient=_recipient(message.customer),
        amount=message.amount,
        due_date=message.due_date,
        checkout_token=message.checkout_token,
        page=_page(target, "invoice", message.draft_id, message.customer, message.checkout_token),
    )


async def on_draft_invoice_sent(
    message: orders.DraftInvoiceSent,
    uow: UnitOfWork,
    *,
    storefront_url: str,
    target: LinkTarget | None = None,
) -> None:
    await handlers.notify_draft_invoice(
        uow,
        storefront_url=storefront_url,
        draft_id=message.draft_id,
        recipient=_recipient(message.customer),
        lines=[
            InvoiceLine(
                title=line.title,
                sku=line.sku,
                quantity=line.quantity,
                discount=line.discount,
                line_total=line.line_total,
            )
            for line in message.lines
        ],
        amounts=InvoiceAmounts(
            subtotal=message.subtotal,
            discount=message.discount,
            shipping=message.shipping,
            tax=message.tax,
            tax_included=message.tax_included,
            total=message.total,
        ),
        payment_terms=message.payment_terms,
        net_days=message.net_days,
        due_date=message.due_date,
        checkout_token=message.checkout_token,
        page=_page(target, "invoice", message.draft_id, message.customer, message.checkout_token),
    )


def subscriptions(
    *, storefront_url: str, staff: StaffAlerting | None = None, target: LinkTarget | None = None
) -> Subscriptions:
    """Every message notifications consumes, with the consumer that handles it (``staff``: where staff alerts go;
    None sends none; ``target``: where links to the customer's pages point, None for no such links)."""
    staff = staff or StaffAlerting(addresses=(), locale="ko")
    return {
        orders.OrderConfirmed: functools.partial(on_order_confirmed, target=target),
        orders.OrderRejected: on_order_rejected,
        orders.OrderShipped: functools.partial(on_order_shipped, target=target),
        orders.OrderDelivered: functools.partial(on_order_delivered, target=target),
        orders.OrderBalanceCharged: functools.partial(on_order_balance_charged, target=target),
        orders.OrderCancelled: functools.partial(
            on_order_cancelled, storefront_url=storefront_url, target=target
        ),
        orders.OrderBalanceChargeFailed: functools.partial(
            on_order_balance_charge_failed, storefront_url=storefront_url, target=target
        ),
        orders.OrderPreorderDateChanged: functools.partial(
            on_preorder_date_changed, storefront_url=storefront_url, target=target
        ),
        orders.DraftInvoiceSent: functools.partial(
            on_draft_invoice_sent, storefront_url=storefront_url, target=target
        ),
        orders.OrderPaymentOverdue: functools.partial(
            on_order_payment_overdue, storefront_url=storefront_url, target=target
        ),
        orders.OrderBalanceReminder: functools.partial(
            on_order_balance_reminder, storefront_url=storefront_url, target=target
        ),
        payments.HoldChargeFailed: functools.partial(
            on_hold_charge_failed, storefront_url=storefront_url, target=target
        ),
        catalog.WaitlistNotification: functools.partial(
            on_waitlist_notification, storefront_url=storefront_url
        ),
        catalog.StockLow: functools.partial(on_stock_low, staff=staff),
        orders.CustomerMarketingConsentChanged: on_customer_marketing_consent_changed,
        fulfillment.ReturnLabelCreated: on_return_label_created,
        orders.ReturnRejected: on_return_rejected,
        orders.ReturnRefunded: on_return_refunded,
        orders.SubscriptionChargeUpcoming: functools.partial(
            subscription_emails.on_charge_upcoming, storefront_url=storefront_url
        ),
        orders.SubscriptionCycleCharged: subscription_emails.on_cycle_charged,
        orders.SubscriptionCycleFailed: functools.partial(
            subscription_emails.on_cycle_failed, storefront_url=storefront_url
        ),
        orders.SubscriptionPaused: subscription_emails.on_paused,
        orders.SubscriptionCancelled: subscription_emails.on_cancelled,
    }
