"""The emails notifications writes, free of I/O: each template's subject and text in Korean and English, from
the facts of an order, a return, a draft invoice or a waitlist, with the storefront links they carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

from shop_contracts.money import Money
from shop_notifications.cancellation_words import CANCELLATION_REASONS, WIN_BACK_ANSWERS
from shop_notifications.domain import (
    DRAFT_INVOICE,
    ORDER_BALANCE_CHARGE_FAILED,
    ORDER_BALANCE_CHARGED,
    ORDER_BALANCE_REMINDER,
    ORDER_CANCELLED,
    ORDER_CONFIRMED,
    ORDER_DELIVERED,
    ORDER_PAYMENT_OVERDUE,
    ORDER_REJECTED,
    ORDER_SHIPPED,
    PREORDER_DATE_CHANGED,
    RETURN_LABEL,
    RETURN_REFUNDED,
    RETURN_REJECTED,
    WAITLIST_BACK_IN_STOCK,
    WAITLIST_PREORDER_OPEN,
    WIN_BACK_OFFER,
    Category,
    InvoiceAmounts,
    InvoiceLine,
    Locale,
    OrderLine,
    PreorderLine,
    Recipient,
    RejectionReason,
    ShippingAddress,
    WaitlistItem,
    WinBackOffer,
    charge_failure,
    customer_time_zone,
    format_date,
    format_day_of,
    waitlist_reference,
)


def order_payment_url(storefront_url: str, order_id: str) -> str:
    """The storefront page where a customer updates the payment method of an order or confirms a payment."""
    return f"{storefront_url}/orders/{quote(order_id, safe='')}/payment"


def preorder_decision_url(storefront_url: str, order_id: str, token: str) -> str:
    """The storefront page where a customer accepts a changed pre-order date or cancels. Opening it changes
    nothing (mail scanners open links): the page shows both choices and POSTs the one taken with the token."""
    return (
        f"{storefront_url}/orders/{quote(order_id, safe='')}/preorder-decision?token={quote(token, safe='')}"
    )


def draft_invoice_url(storefront_url: str, draft_id: str, token: str) -> str:
    """The storefront page of a draft order's invoice: it shows the invoice and takes the card with the PSP's
    form, then pays with ``POST /v1/draft-orders/{id}/checkout`` and the token (opening it pays nothing)."""
    return f"{storefront_url}/draft-orders/{quote(draft_id, safe='')}/invoice?token={quote(token, safe='')}"


def product_url(storefront_url: str, product_id: str) -> str:
    """The storefront page of a product."""
    return f"{storefront_url}/products/{quote(product_id, safe='')}"


@dataclass(frozen=True)
class EmailDraft:
    """One email decided but not yet rendered: which template, to whom, about which order, with what values."""

    template: str
    order_id: str
    recipient: Recipient
    values: Mapping[str, object]

    @property
    def locale(self) -> Locale:
        return self.recipient.locale


def order_confirmed_email(
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
) -> EmailDraft:
    """What was bought, what it cost and where it goes; for pre-orders also what is paid now and what later.

    ``charged_now`` is set when checkout charged less than the total (deposits, pay later).
    """
    locale = recipient.locale
    return EmailDraft(
        template=ORDER_CONFIRMED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "lines": [
                {
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price.format(locale),
                    "line_total": line.line_total.format(locale),
                }
                for line in lines
            ],
            "subtotal": subtotal.format(locale),
            "shipping": shipping.format(locale),
            "total": total.format(locale),
            "address_lines": shipping_address.lines(locale),
            "charged_now": charged_now.format(locale) if charged_now is not None else None,
            "nothing_charged_now": charged_now is not None and charged_now.amount == 0,
            "preorder_lines": [_preorder_values(line, locale) for line in preorder_lines],
        },
    )


def _preorder_values(line: PreorderLine, locale: Locale) -> dict[str, object]:
    return {
        "sku": line.sku,
        "title": line.title,
        "quantity": line.quantity,
        "payment_mode": line.payment_mode,
        "paid_now": line.paid_now.format(locale),
        "balance": line.balance.format(locale) if line.balance.amount else None,
        "balance_charged_on": (
            format_day_of(line.balance_charged_at, locale) if line.balance_charged_at is not None else None
        ),
        "expected_ship_date": (
            format_date(line.expected_ship_date, locale) if line.expected_ship_date is not None else None
        ),
        "queue_position": line.queue_position,
    }


def order_rejected_email(*, order_id: str, recipient: Recipient, reason: RejectionReason) -> EmailDraft:
    return EmailDraft(
        template=ORDER_REJECTED,
        order_id=order_id,
        recipient=recipient,
        values={"order_id": order_id, "reason": reason},
    )


def order_shipped_email(
    *, order_id: str, recipient: Recipient, carrier: str, tracking_number: str
) -> EmailDraft:
    return EmailDraft(
        template=ORDER_SHIPPED,
        order_id=order_id,
        recipient=recipient,
        values={"order_id": order_id, "carrier": carrier, "tracking_number": tracking_number},
    )


def order_delivered_email(*, order_id: str, recipient: Recipient) -> EmailDraft:
    return EmailDraft(
        template=ORDER_DELIVERED, order_id=order_id, recipient=recipient, values={"order_id": order_id}
    )


def order_balance_charged_email(
    *, order_id: str, recipient: Recipient, amount: Money, expected_ship_date: date | None
) -> EmailDraft:
    """The balance of a pre-order was charged: how much, and when the goods should ship."""
    locale = recipient.locale
    return EmailDraft(
        template=ORDER_BALANCE_CHARGED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "amount": amount.format(locale),
            "expected_ship_date": (
                format_date(expected_ship_date, locale) if expected_ship_date is not None else None
            ),
        },
    )


def preorder_date_changed_email(
    *,
    order_id: str,
    recipient: Recipient,
    title: str,
    previous_date: date | None,
    expected_ship_date: date | None,
    promised_date: date,
    consent_required: bool,
    decision_token: str,
    storefront_url: str,
) -> EmailDraft:
    """A pre-order's expected ship date changed: the new date, whether the customer's consent is needed (the
    date is past the promise) and the link to accept it or cancel with a full refund."""
    locale = recipient.locale
    return EmailDraft(
        template=PREORDER_DATE_CHANGED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "title": title,
            "previous_date": format_date(previous_date, locale) if previous_date is not None else None,
            "expected_ship_date": (
                format_date(expected_ship_date, locale) if expected_ship_date is not None else None
            ),
            "later": (
                expected_ship_date is not None
                and previous_date is not None
                and expected_ship_date > previous_date
            ),
            "promised_date": format_date(promised_date, locale),
            "consent_required": consent_required,
            "decision_url": preorder_decision_url(storefront_url, order_id, decision_token),
        },
    )


def order_balance_charge_failed_email(
    *,
    order_id: str,
    recipient: Recipient,
    amount: Money,
    reason: str,
    requires_action: bool,
    retry_at: datetime | None,
    storefront_url: str,
) -> EmailDraft:
    """The balance of a pre-order could not be charged: why, what happens next, and where to fix it."""
    locale = recipient.locale
    return EmailDraft(
        template=ORDER_BALANCE_CHARGE_FAILED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "amount": amount.format(locale),
            "failure": charge_failure(reason, requires_action=requires_action),
            "requires_action": requires_action,
            "retry_on": format_day_of(retry_at, locale) if retry_at is not None else None,
            "payment_url": order_payment_url(storefront_url, order_id),
        },
    )


def order_balance_reminder_email(
    *,
    order_id: str,
    recipient: Recipient,
    amount: Money,
    charge_at: datetime,
    storefront_url: str,
    when_ready: bool = False,
) -> EmailDraft:
    """A pre-order's balance will be charged soon: how much, when (in the customer's time zone; with
    ``when_ready``, when the goods are expected to be ready), and where to change the card before then."""
    locale = recipient.locale
    local = charge_at.astimezone(customer_time_zone(locale))
    return EmailDraft(
        template=ORDER_BALANCE_REMINDER,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "amount": amount.format(locale),
            "charge_on": format_date(local.date(), locale),
            "charge_time": local.strftime("%H:%M"),
            "when_ready": when_ready,
            "payment_url": order_payment_url(storefront_url, order_id),
        },
    )


def waitlist_back_in_stock_email(
    *, entry_id: str, recipient: Recipient, item: WaitlistItem, storefront_url: str
) -> EmailDraft:
    """A variant the customer waited for is back in stock: what it is and where to buy it."""
    return EmailDraft(
        template=WAITLIST_BACK_IN_STOCK,
        order_id=waitlist_reference(entry_id),
        recipient=recipient,
        values={
            "title": item.name,
            "sku": item.sku,
            "product_url": product_url(storefront_url, item.product_id),
        },
    )


def waitlist_preorder_open_email(
    *,
    entry_id: str,
    recipient: Recipient,
    item: WaitlistItem,
    ends_at: datetime | None,
    expected_ship_date: date | None,
    storefront_url: str,
) -> EmailDraft:
    """A variant the customer waited for takes pre-orders: until when, when it should ship, where to order."""
    locale = recipient.locale
    return EmailDraft(
        template=WAITLIST_PREORDER_OPEN,
        order_id=waitlist_reference(entry_id),
        recipient=recipient,
        values={
            "title": item.name,
            "sku": item.sku,
            "product_url": product_url(storefront_url, item.product_id),
            "ends_on": format_day_of(ends_at, locale) if ends_at is not None else None,
            "expected_ship_date": (
                format_date(expected_ship_date, locale) if expected_ship_date is not None else None
            ),
        },
    )


def feedback_url(pages_url: str, order_id: str, reason: str, token: str) -> str:
    """Where a customer tells the shop more about why they cancelled: the feedback page (the gateway's hosted
    one, or the storefront's), which POSTs ``/v1/cancellations/{order_id}/feedback`` with the token (opening it
    records nothing)."""
    return (
        f"{pages_url}/feedback?order={quote(order_id, safe='')}&reason={quote(reason, safe='')}"
        f"&token={quote(token, safe='')}"
    )


def size_guide_url(storefront_url: str) -> str:
    return f"{storefront_url}/size-guide"


def similar_products_url(storefront_url: str, skus: Sequence[str]) -> str:
    """The storefront page of products like the ones cancelled."""
    query = "&".join(f"sku={quote(sku, safe='')}" for sku in skus)
    return f"{storefront_url}/similar" + (f"?{query}" if query else "")


def offer_link_url(storefront_url: str, offer: WinBackOffer | None) -> tuple[str | None, str | None]:
    """The size guide's or similar products' address of a link offer (one of the two, the other None)."""
    if offer is None or offer.kind != "link":
        return None, None
    if offer.link == "size_guide":
        return size_guide_url(storefront_url), None
    if offer.link == "similar_products":
        return None, similar_products_url(storefront_url, offer.skus)
    return None, None


def order_cancelled_email(
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
    pages_url: str | None = None,
) -> EmailDraft:
    """An order was cancelled: why (when the shop did it) and what is refunded, or, when its payment was a card
    hold not yet captured (``held``), released from the hold; when the customer or staff
    cancelled, an answer to their reason, the helpful link its offer names (size guide, similar products) and a
    link to tell more (the feedback page under ``pages_url``: the gateway's hosted pages or the storefront; by
    default the storefront). A discount code is not in it: it is an offer, sent as its own email (``win_back_offer``)
    to customers who consented to marketing, while this one always goes."""
    locale = recipient.locale
    by_the_shop = cancelled_by == "shop" or reason in CANCELLATION_REASONS
    size_guide, similar = (None, None) if by_the_shop else offer_link_url(storefront_url, offer)
    return EmailDraft(
        template=ORDER_CANCELLED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "reason": CANCELLATION_REASONS.get(reason, {}).get(locale),
            "refund": refund.format(locale) if refund.amount > 0 else None,
            "partial": partial,
            "held": held,
            "answer": None
            if by_the_shop
            else WIN_BACK_ANSWERS.get(reason, WIN_BACK_ANSWERS["other"])[locale],
            "size_guide_url": size_guide,
            "similar_products_url": similar,
            "feedback_url": None
            if by_the_shop or not feedback_token
            else feedback_url(pages_url or storefront_url, order_id, reason, feedback_token),
        },
    )


def win_back_offer_email(*, order_id: str, recipient: Recipient, offer: WinBackOffer) -> EmailDraft:
    """A single-use code to come back after a cancellation: what it takes off, until when, and that it is the
    customer's own (their account, or the email address it was sent to)."""
    locale = recipient.locale
    assert offer.code is not None, "a win-back email carries a code"
    assert offer.expires_at is not None, "a code has an end"
    return EmailDraft(
        template=WIN_BACK_OFFER,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "code": offer.code,
            "kind": offer.kind,
            "percent_off": offer.percent_off,
            "amount_off": offer.amount_off.format(locale) if offer.amount_off is not None else None,
            "until": format_day_of(offer.expires_at, locale),
        },
    )


def return_label_email(
    *, order_id: str, recipient: Recipient, carrier: str, tracking_number: str, label_url: str
) -> EmailDraft:
    """An approved return's label: print it, stick it on the parcel, hand it to the carrier."""
    return EmailDraft(
        template=RETURN_LABEL,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "carrier": carrier,
            "tracking_number": tracking_number,
            "label_url": label_url,
        },
    )


def return_rejected_email(*, order_id: str, recipient: Recipient, reason: str) -> EmailDraft:
    return EmailDraft(
        template=RETURN_REJECTED,
        order_id=order_id,
        recipient=recipient,
        values={"order_id": order_id, "reason": reason},
    )


def return_refunded_email(
    *,
    order_id: str,
    recipient: Recipient,
    value: Money,
    return_shipping_fee: Money,
    restocking_fee: Money,
    refund: Money,
    exchange_unavailable: list[str] | None = None,
) -> EmailDraft:
    """A received return's refund: the units' value, each fee kept, and what goes back; when an exchange's
    replacement was out of stock, that the refund replaces it."""
    locale = recipient.locale
    return EmailDraft(
        template=RETURN_REFUNDED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "value": value.format(locale),
            "return_shipping_fee": return_shipping_fee.format(locale) if return_shipping_fee.amount else None,
            "restocking_fee": restocking_fee.format(locale) if restocking_fee.amount else None,
            "refund": refund.format(locale),
            "exchange_unavailable": ", ".join(exchange_unavailable or []) or None,
        },
    )


def draft_invoice_email(
    *,
    draft_id: str,
    recipient: Recipient,
    lines: Sequence[InvoiceLine],
    amounts: InvoiceAmounts,
    payment_terms: str,
    net_days: int | None,
    due_date: date | None,
    checkout_token: str,
    storefront_url: str,
) -> EmailDraft:
    """An invoice from staff: the lines, the amounts (tax included), the payment terms with the due date, and
    the link where the customer pays it."""
    locale = recipient.locale
    return EmailDraft(
        template=DRAFT_INVOICE,
        order_id=draft_id,
        recipient=recipient,
        values={
            "draft_id": draft_id,
            "lines": [
                {
                    "title": line.title,
                    "sku": line.sku,
                    "quantity": line.quantity,
                    "discount": line.discount.format(locale) if line.discount.amount else None,
                    "line_total": line.line_total.format(locale),
                }
                for line in lines
            ],
            "subtotal": amounts.subtotal.format(locale),
            "discount": amounts.discount.format(locale) if amounts.discount.amount else None,
            "shipping": amounts.shipping.format(locale),
            "tax": amounts.tax.format(locale),
            "tax_included": amounts.tax_included,
            "total": amounts.total.format(locale),
            "payment_terms": payment_terms,
            "net_days": net_days,
            "due_date": format_date(due_date, locale) if due_date is not None else None,
            "invoice_url": draft_invoice_url(storefront_url, draft_id, checkout_token),
        },
    )


def order_payment_overdue_email(
    *,
    order_id: str,
    draft_id: str,
    recipient: Recipient,
    amount: Money,
    due_date: date,
    checkout_token: str,
    storefront_url: str,
) -> EmailDraft:
    """A reminder that an order on payment terms is past its due date unpaid, with the invoice's link."""
    locale = recipient.locale
    return EmailDraft(
        template=ORDER_PAYMENT_OVERDUE,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "amount": amount.format(locale),
            "due_date": format_date(due_date, locale),
            "invoice_url": draft_invoice_url(storefront_url, draft_id, checkout_token),
        },
    )


CATEGORY_NAMES: dict[Category, dict[Locale, str]] = {
    "transactional": {"en": "order and payment emails", "ko": "주문 및 결제 안내"},
    "preorder_updates": {"en": "pre-order updates", "ko": "예약 구매 소식"},
    "waitlist": {"en": "waitlist and back-in-stock emails", "ko": "재입고 알림"},
    "marketing": {"en": "offers and news", "ko": "혜택 및 소식"},
}
"""Each category as a customer reads it."""


def preferences_footer(
    *, locale: Locale, category: Category, unsubscribe_url: str, preferences_url: str
) -> str:
    """The lines a non-transactional email ends with: how to stop this kind of email, and where to choose."""
    name = CATEGORY_NAMES[category][locale]
    if locale == "ko":
        return (
            f"더 이상 {name}을(를) 받지 않으시려면 아래 링크에서 수신을 거부하실 수 있습니다.\n"
            f"{unsubscribe_url}\n\n"
            f"받으실 이메일 선택:\n{preferences_url}\n"
        )
    return (
        f"To stop receiving {name}, unsubscribe here:\n{unsubscribe_url}\n\n"
        f"Choose which emails you get:\n{preferences_url}\n"
    )
