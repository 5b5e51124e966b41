"""Notifications' rules, free of I/O: which fact each message tells and which later facts make it moot, what
each email says (as template values, money written by the shared Money), dates per locale, retries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Literal, Protocol
from urllib.parse import quote

from shop_contracts.money import Money

Locale = Literal["ko", "en"]
Channel = Literal["email"]
Status = Literal["pending", "sent", "failed", "superseded"]

EMAIL: Channel = "email"

ORDER_CONFIRMED = "order_confirmed"
ORDER_REJECTED = "order_rejected"
ORDER_SHIPPED = "order_shipped"
ORDER_DELIVERED = "order_delivered"
ORDER_BALANCE_CHARGED = "order_balance_charged"
ORDER_CANCELLED = "order_cancelled"
ORDER_BALANCE_CHARGE_FAILED = "order_balance_charge_failed"
ORDER_BALANCE_REMINDER = "order_balance_reminder"
WAITLIST_BACK_IN_STOCK = "waitlist_back_in_stock"
WAITLIST_PREORDER_OPEN = "waitlist_preorder_open"
PREORDER_DATE_CHANGED = "preorder_date_changed"
RETURN_LABEL = "return_label"
RETURN_REJECTED = "return_rejected"
RETURN_REFUNDED = "return_refunded"
DRAFT_INVOICE = "draft_invoice"
ORDER_PAYMENT_OVERDUE = "order_payment_overdue"
TEMPLATES = (
    ORDER_CONFIRMED,
    ORDER_REJECTED,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    ORDER_BALANCE_CHARGED,
    ORDER_BALANCE_CHARGE_FAILED,
    ORDER_BALANCE_REMINDER,
    WAITLIST_BACK_IN_STOCK,
    WAITLIST_PREORDER_OPEN,
    PREORDER_DATE_CHANGED,
    RETURN_LABEL,
    RETURN_REJECTED,
    RETURN_REFUNDED,
    DRAFT_INVOICE,
    ORDER_PAYMENT_OVERDUE,
)


@dataclass(frozen=True)
class Fact:
    """The customer-facing fact a message tells, keyed by the event's content, never by its message id: the same
    fact delivered twice, or published again under a new id, is told once per channel.

    ``moot_after`` lists facts later in the same order's story (exact keys, or a beginning followed by ``*``).
    When one of them is already recorded, this message would reach the customer out of order (a 'shipped' after
    the 'delivered' of that shipment), so it is logged as superseded and never sent.

    Facts of one ``series`` (the failed charges of one balance) have keys that sort in the order of the story,
    the series followed by a moment: a recorded key of the series that sorts after this one makes it moot too.
    """

    key: str
    moot_after: tuple[str, ...] = ()
    series: str | None = None

    def superseded_by(self, recorded: Iterable[str]) -> str | None:
        """The first of the order's ``recorded`` facts that makes this one moot, if any."""
        for key in recorded:
            if self.series is not None and key.startswith(self.series) and key > self.key:
                return key
            for later in self.moot_after:
                if key.startswith(later[:-1]) if later.endswith("*") else key == later:
                    return key
        return None


def _order_fact(order_id: str) -> str:
    return f"order:{order_id}"


def _instant(moment: datetime) -> str:
    """A moment as it goes into a fact key: the same instant gives the same key whatever its offset, and keys
    sort as their moments do."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _day(day: date | None) -> str:
    return day.isoformat() if day is not None else "none"


def order_confirmed_fact(order_id: str) -> Fact:
    """Moot once the order is cancelled or rejected, or any of its shipments is told: a confirmation after
    those would tell the story backwards."""
    order = _order_fact(order_id)
    return Fact(
        f"{order}:confirmed",
        moot_after=(f"{order}:cancelled", f"{order}:rejected", f"{order}:shipment:*"),
    )


def order_rejected_fact(order_id: str) -> Fact:
    return Fact(f"{_order_fact(order_id)}:rejected")


def order_cancelled_fact(order_id: str, *, partial: bool) -> Fact:
    """An order is cancelled once; cancelling what had not shipped yet is a fact of its own."""
    return Fact(f"{_order_fact(order_id)}:cancelled" + (":partial" if partial else ""))


def shipment_shipped_fact(order_id: str, fulfillment_id: str) -> Fact:
    """Moot once the same shipment's delivery is told."""
    shipment = f"{_order_fact(order_id)}:shipment:{fulfillment_id}"
    return Fact(f"{shipment}:shipped", moot_after=(f"{shipment}:delivered",))


def shipment_delivered_fact(order_id: str, fulfillment_id: str) -> Fact:
    return Fact(f"{_order_fact(order_id)}:shipment:{fulfillment_id}:delivered")


def balance_charged_fact(order_id: str, group_id: str) -> Fact:
    """Moot once the whole order is cancelled (the cancellation tells the refund)."""
    order = _order_fact(order_id)
    return Fact(f"{order}:balance:{group_id}:charged", moot_after=(f"{order}:cancelled",))


def balance_charge_failed_fact(
    order_id: str, group_id: str, *, retry_at: datetime | None, reason: str
) -> Fact:
    """One failure of a group's balance charge, told by when it is tried again; the last one, which has no retry,
    by its reason. Moot once that balance is charged or the order cancelled, and a failure with a retry once a
    later failure is told (its retry date is past news)."""
    order = _order_fact(order_id)
    balance = f"{order}:balance:{group_id}"
    moot_after = (f"{balance}:charged", f"{order}:cancelled")
    if retry_at is None:
        return Fact(f"{balance}:failed:final:{reason}", moot_after=moot_after)
    return Fact(
        f"{balance}:failed:retry:{_instant(retry_at)}",
        moot_after=(*moot_after, f"{balance}:failed:final:*"),
        series=f"{balance}:failed:retry:",
    )


def balance_reminder_fact(
    order_id: str, *, group_id: str | None, sku: str | None, charge_at: datetime
) -> Fact:
    """A reminder of a charge at ``charge_at``, of a shipment group or (before its units are allocated) of a
    line. Moot once the order is cancelled, and a group's once its charge is told (charged or failed)."""
    order = _order_fact(order_id)
    if group_id is None:
        return Fact(f"{order}:line:{sku}:reminder:{_instant(charge_at)}", moot_after=(f"{order}:cancelled",))
    balance = f"{order}:balance:{group_id}"
    return Fact(
        f"{balance}:reminder:{_instant(charge_at)}",
        moot_after=(f"{balance}:charged", f"{balance}:failed:*", f"{order}:cancelled"),
    )


def preorder_date_changed_fact(
    order_id: str, *, sku: str, previous_date: date | None, expected_ship_date: date | None
) -> Fact:
    """A line's expected ship date moved from one day to another. Moot once the order is cancelled."""
    order = _order_fact(order_id)
    return Fact(
        f"{order}:line:{sku}:date_changed:{_day(previous_date)}:{_day(expected_ship_date)}",
        moot_after=(f"{order}:cancelled",),
    )


def payment_overdue_fact(order_id: str, due_date: date) -> Fact:
    order = _order_fact(order_id)
    return Fact(f"{order}:payment_overdue:{_day(due_date)}", moot_after=(f"{order}:cancelled",))


def return_label_fact(order_id: str, return_id: str) -> Fact:
    """Moot once the return's refund is told: the parcel already arrived."""
    returned = f"{_order_fact(order_id)}:return:{return_id}"
    return Fact(f"{returned}:label", moot_after=(f"{returned}:refunded*",))


def return_rejected_fact(order_id: str, return_id: str) -> Fact:
    return Fact(f"{_order_fact(order_id)}:return:{return_id}:rejected")


def return_refunded_fact(order_id: str, return_id: str, *, exchange_unavailable: bool) -> Fact:
    """A received return's refund; the refund of exchanged units whose replacement was out of stock comes
    separately and is a fact of its own."""
    return Fact(
        f"{_order_fact(order_id)}:return:{return_id}:refunded" + (":exchange" if exchange_unavailable else "")
    )


def draft_invoice_fact(draft_id: str, message_id: str) -> Fact:
    """Staff send an invoice as often as they choose and each sending is told: nothing in its content tells a
    second sending from the same one published again, so its message id is the fact."""
    return Fact(f"draft:{draft_id}:invoice:message:{message_id}")


def waitlist_fact(entry_id: str, kind: str, message_id: str) -> Fact:
    """Catalog tells a subscriber each time a variant comes back, with nothing that tells one time from the
    next (it marks the subscriber told in the transaction that publishes), so its message id is the fact."""
    return Fact(f"{waitlist_reference(entry_id)}:{kind}:message:{message_id}")


KOREA_TIME = timezone(timedelta(hours=9), "KST")
"""Asia/Seoul. Korea has kept UTC+9 without daylight saving since 1988, so a fixed offset is exact and the
service needs no time zone database (slim images ship without one)."""

_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def customer_time_zone(locale: Locale) -> tzinfo:
    """Where a customer reads the time: Korea time for Korean, UTC for English."""
    return KOREA_TIME if locale == "ko" else UTC


def format_date(day: date, locale: Locale) -> str:
    """A calendar day as a customer reads it: ``2025년 3월 14일`` (ko) or ``March 14, 2025`` (en)."""
    if locale == "ko":
        return f"{day.year}년 {day.month}월 {day.day}일"
    return f"{_MONTHS_EN[day.month - 1]} {day.day}, {day.year}"


def format_day_of(moment: datetime, locale: Locale) -> str:
    """The day on which ``moment`` falls in the customer's time zone, written for them."""
    return format_date(moment.astimezone(customer_time_zone(locale)).date(), locale)


@dataclass(frozen=True)
class Recipient:
    email: str
    locale: Locale


@dataclass(frozen=True)
class OrderLine:
    sku: str
    title: str
    quantity: int
    unit_price: Money
    line_total: Money


@dataclass(frozen=True)
class ShippingAddress:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None

    def lines(self, locale: Locale) -> list[str]:
        """The address as printed on a letter in the customer's language."""
        if locale == "ko":
            street = " ".join(part for part in (self.region, self.city, self.line1, self.line2) if part)
            return [self.name, f"({self.postal_code}) {street}", self.country]
        city = ", ".join(part for part in (self.city, self.region) if part)
        return [
            self.name,
            self.line1,
            *([self.line2] if self.line2 else []),
            f"{city} {self.postal_code}",
            self.country,
        ]


RejectionReason = Literal["out_of_stock", "payment_declined"]
PaymentMode = Literal["pay_now", "deposit", "pay_later"]


@dataclass(frozen=True)
class PreorderLine:
    """A pre-ordered line as its confirmation tells it: what was paid now, what is left and when it is due."""

    sku: str
    title: str
    quantity: int
    payment_mode: PaymentMode
    paid_now: Money
    balance: Money
    balance_charged_at: datetime | None = None
    """When the balance will be charged; None when the item is ready to ship."""
    expected_ship_date: date | None = None
    queue_position: int | None = None


ChargeFailure = Literal[
    "confirmation_required",
    "card_declined",
    "insufficient_funds",
    "expired_card",
    "method_unusable",
    "declined",
]
"""Why a balance charge failed, as the email explains it; ``declined`` covers what the PSP did not say."""

_CHARGE_FAILURES: Mapping[str, ChargeFailure] = {
    "authentication_required": "confirmation_required",
    "requires_action": "confirmation_required",
    "card_declined": "card_declined",
    "insufficient_funds": "insufficient_funds",
    "expired_card": "expired_card",
    "invalid_token": "method_unusable",
    "payment_method_missing": "method_unusable",
}


def charge_failure(reason: str, *, requires_action: bool) -> ChargeFailure:
    """The plain-words kind of a PSP's decline ``reason`` (a decline code such as ``insufficient_funds``)."""
    if requires_action:
        return "confirmation_required"
    return _CHARGE_FAILURES.get(reason.strip().lower(), "declined")


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


def waitlist_reference(entry_id: str) -> str:
    """What a waitlist email is logged under where order emails have their order id (it has no order)."""
    return f"waitlist:{entry_id}"


@dataclass(frozen=True)
class WaitlistItem:
    """The variant a waitlist email is about."""

    sku: str
    product_id: str
    title: str
    options: Mapping[str, str]

    @property
    def name(self) -> str:
        """The product's title with the variant's options: ``Launch Tee (M / Black)``."""
        if not self.options:
            return self.title
        return f"{self.title} ({' / '.join(self.options.values())})"


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


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    """An email as the mailer sends it; ``notification_id`` and ``order_id`` travel as headers."""

    notification_id: str
    order_id: str
    template: str
    recipient: str
    locale: Locale
    subject: str
    text: str
    html: str | None


class DeliveryFailed(Exception):
    """The mail server did not take an email. ``permanent`` when retrying cannot help (a 5xx answer)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    async def send(self, email: OutgoingEmail) -> None:
        """Hand ``email`` to the mail server or raise DeliveryFailed."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_delay: timedelta
    max_delay: timedelta

    def after_failure(self, *, attempts: int, permanent: bool) -> timedelta | None:
        """How long to wait before the next try after ``attempts`` failed ones; None when it is failed for good."""
        if permanent or attempts >= self.max_attempts:
            return None
        return min(self.base_delay * (1 << (attempts - 1)), self.max_delay)


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


@dataclass(frozen=True)
class WinBackDiscount:
    """A single-use code for a next order, offered after a cancellation."""

    code: str
    percent_off: int
    expires_at: datetime


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


@dataclass(frozen=True)
class InvoiceLine:
    title: str
    sku: str | None
    quantity: int
    discount: Money
    line_total: Money


@dataclass(frozen=True)
class InvoiceAmounts:
    subtotal: Money
    discount: Money
    shipping: Money
    tax: Money
    tax_included: bool
    total: Money


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
