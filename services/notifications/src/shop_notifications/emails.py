"""The emails notifications writes, free of I/O: each template's subject and text in Korean and English, from
the facts of an order, a return, a draft invoice or a waitlist, with the storefront links they carry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

from shop_contracts.money import Money
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
    WinBackDiscount,
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


CANCELLATION_REASONS: dict[str, dict[Locale, str]] = {
    "preorder_date_changed": {
        "en": "you chose to cancel after the expected ship date of your pre-order changed",
        "ko": "예약 상품의 출고 예정일 변경 후 주문 취소를 선택하셨습니다",
    },
    "preorder_promise_broken": {
        "en": "we could not ship your pre-order by the date we promised, and you had not agreed to a later date",
        "ko": "약속드린 날짜까지 예약 상품을 출고하지 못했고, 변경된 날짜에 동의하지 않으셨습니다",
    },
    "balance_unpaid": {
        "en": "the balance of your pre-order could not be charged before the payment deadline",
        "ko": "결제 기한까지 예약 주문 잔금을 결제하지 못했습니다",
    },
    "short_pick": {
        "en": "our warehouse could not find the items in stock",
        "ko": "물류센터에 상품 재고가 부족했습니다",
    },
}
"""Reasons the shop cancels on its own, in words; a customer's own reason is not repeated back."""


WIN_BACK_ANSWERS: dict[str, dict[Locale, str]] = {
    "shipping_cost": {
        "en": "Shipping is charged once per order however many items it holds, so one order with everything you need ships for the price of one.",
        "ko": "배송비는 상품 수와 관계없이 주문당 한 번만 청구되니, 필요한 상품을 한 번에 주문하시면 배송비를 아끼실 수 있습니다.",
    },
    "delivery_time": {
        "en": "Choose express shipping at checkout for faster delivery; in-stock items go to our warehouse as soon as your payment is confirmed.",
        "ko": "결제 시 특급 배송을 선택하시면 더 빨리 받아보실 수 있으며, 재고 상품은 결제가 확인되는 즉시 물류센터로 전달됩니다.",
    },
    "changed_mind": {
        "en": "Not sure about the fit? Our size guide compares each size with garments you already own.",
        "ko": "사이즈가 고민되신다면 사이즈 가이드에서 가지고 계신 옷과 치수를 비교해 보세요.",
    },
    "return_policy": {
        "en": "Our size guide helps you choose the right size the first time, and our team answers any question about returns before you order.",
        "ko": "사이즈 가이드로 처음부터 꼭 맞는 사이즈를 고르실 수 있으며, 주문 전 반품에 관한 궁금한 점은 언제든 답변해 드립니다.",
    },
    "payment_method": {
        "en": "We take all major credit and debit cards; tell us which other payment method you would like to use and we will look into it.",
        "ko": "주요 신용카드와 체크카드로 결제하실 수 있습니다. 원하시는 다른 결제 수단을 알려 주시면 검토하겠습니다.",
    },
    "account_required": {
        "en": "You do not need an account to order: guest checkout only asks for your email address.",
        "ko": "회원 가입 없이도 주문하실 수 있습니다. 비회원 주문은 이메일 주소만 있으면 됩니다.",
    },
    "found_cheaper": {
        "en": "Tell us where you saw it for less: we review our prices with every answer we get.",
        "ko": "더 저렴하게 보신 곳을 알려 주세요. 보내주신 의견을 바탕으로 가격을 검토하겠습니다.",
    },
    "other": {
        "en": "We would be glad to know what we could have done better.",
        "ko": "저희가 무엇을 더 잘할 수 있었는지 알려 주시면 감사하겠습니다.",
    },
}
"""What the shop answers to each reason a customer gives for cancelling, to win them back."""


def feedback_url(storefront_url: str, order_id: str, reason: str) -> str:
    """Where a customer tells the shop more about why they cancelled."""
    return f"{storefront_url}/feedback?order={quote(order_id, safe='')}&reason={quote(reason, safe='')}"


def size_guide_url(storefront_url: str) -> str:
    return f"{storefront_url}/size-guide"


def order_cancelled_email(
    *,
    order_id: str,
    recipient: Recipient,
    reason: str,
    refund: Money,
    storefront_url: str = "",
    partial: bool = False,
    cancelled_by: str = "shop",
    discount: WinBackDiscount | None = None,
) -> EmailDraft:
    """An order was cancelled: why (when the shop did it) and what is refunded; when the customer or staff
    cancelled, an answer to their reason, a link to tell more, and a discount code when staff offer one."""
    locale = recipient.locale
    by_the_shop = cancelled_by == "shop" or reason in CANCELLATION_REASONS
    return EmailDraft(
        template=ORDER_CANCELLED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "reason": CANCELLATION_REASONS.get(reason, {}).get(locale),
            "refund": refund.format(locale) if refund.amount > 0 else None,
            "partial": partial,
            "answer": None
            if by_the_shop
            else WIN_BACK_ANSWERS.get(reason, WIN_BACK_ANSWERS["other"])[locale],
            "size_guide_url": size_guide_url(storefront_url)
            if reason in ("changed_mind", "return_policy") and not by_the_shop
            else None,
            "feedback_url": None if by_the_shop else feedback_url(storefront_url, order_id, reason),
            "discount_code": discount.code if discount else None,
            "discount_percent": discount.percent_off if discount else None,
            "discount_until": format_day_of(discount.expires_at, locale) if discount else None,
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
