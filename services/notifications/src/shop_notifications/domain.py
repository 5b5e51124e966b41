"""Notifications' rules, free of I/O: the templates, which fact each message tells and which later facts make it
moot, dates per locale, and the values an email is written from (``emails`` writes them)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Literal

from shop_contracts.money import Money

Locale = Literal["ko", "en"]


Channel = Literal["email"]


Status = Literal["pending", "sent", "failed", "superseded", "suppressed"]


EMAIL: Channel = "email"


ORDER_CONFIRMED = "order_confirmed"


ORDER_REJECTED = "order_rejected"


ORDER_SHIPPED = "order_shipped"


ORDER_DELIVERED = "order_delivered"


ORDER_BALANCE_CHARGED = "order_balance_charged"


ORDER_CANCELLED = "order_cancelled"


ORDER_BALANCE_CHARGE_FAILED = "order_balance_charge_failed"


ORDER_BALANCE_REMINDER = "order_balance_reminder"


ORDER_HOLD_CHARGE_FAILED = "order_hold_charge_failed"


WAITLIST_BACK_IN_STOCK = "waitlist_back_in_stock"


WAITLIST_PREORDER_OPEN = "waitlist_preorder_open"


PREORDER_DATE_CHANGED = "preorder_date_changed"


RETURN_LABEL = "return_label"


RETURN_REJECTED = "return_rejected"


RETURN_REFUNDED = "return_refunded"


DRAFT_INVOICE = "draft_invoice"


ORDER_PAYMENT_OVERDUE = "order_payment_overdue"


STAFF_LOW_STOCK = "staff_low_stock"


WIN_BACK_OFFER = "win_back_offer"


SUBSCRIPTION_CHARGE_UPCOMING = "subscription_charge_upcoming"


SUBSCRIPTION_CHARGED = "subscription_charged"


SUBSCRIPTION_CHARGE_FAILED = "subscription_charge_failed"


SUBSCRIPTION_PAUSED = "subscription_paused"


SUBSCRIPTION_CANCELLED = "subscription_cancelled"


TEMPLATES = (
    ORDER_CONFIRMED,
    ORDER_REJECTED,
    ORDER_SHIPPED,
    ORDER_DELIVERED,
    ORDER_BALANCE_CHARGED,
    ORDER_BALANCE_CHARGE_FAILED,
    ORDER_BALANCE_REMINDER,
    ORDER_HOLD_CHARGE_FAILED,
    ORDER_CANCELLED,
    WAITLIST_BACK_IN_STOCK,
    WAITLIST_PREORDER_OPEN,
    PREORDER_DATE_CHANGED,
    RETURN_LABEL,
    RETURN_REJECTED,
    RETURN_REFUNDED,
    DRAFT_INVOICE,
    ORDER_PAYMENT_OVERDUE,
    STAFF_LOW_STOCK,
    WIN_BACK_OFFER,
    SUBSCRIPTION_CHARGE_UPCOMING,
    SUBSCRIPTION_CHARGED,
    SUBSCRIPTION_CHARGE_FAILED,
    SUBSCRIPTION_PAUSED,
    SUBSCRIPTION_CANCELLED,
)


Category = Literal["transactional", "preorder_updates", "waitlist", "marketing"]
"""What kind of message an email is, as a customer chooses what to get: transactional messages are always sent."""


TRANSACTIONAL: Category = "transactional"


PREORDER_UPDATES: Category = "preorder_updates"


WAITLIST: Category = "waitlist"


MARKETING: Category = "marketing"


CATEGORIES: tuple[Category, ...] = (TRANSACTIONAL, PREORDER_UPDATES, WAITLIST, MARKETING)


OPTIONAL_CATEGORIES: tuple[Category, ...] = (PREORDER_UPDATES, WAITLIST, MARKETING)
"""The categories a customer may turn off."""


TEMPLATE_CATEGORIES: Mapping[str, Category] = {
    ORDER_CONFIRMED: TRANSACTIONAL,
    ORDER_REJECTED: TRANSACTIONAL,
    ORDER_SHIPPED: TRANSACTIONAL,
    ORDER_DELIVERED: TRANSACTIONAL,
    ORDER_BALANCE_CHARGED: TRANSACTIONAL,
    ORDER_BALANCE_CHARGE_FAILED: TRANSACTIONAL,  # asks the customer to fix the payment
    ORDER_BALANCE_REMINDER: TRANSACTIONAL,  # notice of a charge to come, with where to change the card
    ORDER_HOLD_CHARGE_FAILED: TRANSACTIONAL,  # a lapsed card hold could not be charged: fix the payment
    # The customer's cancellation, with its refund, the answer to their reason, a helpful link (size guide,
    # similar products) and the feedback link: it always goes. A discount code is an offer: its own email.
    ORDER_CANCELLED: TRANSACTIONAL,
    WIN_BACK_OFFER: MARKETING,  # a code to come back: sent only with consent to marketing
    # A subscription's charges and changes: money taken or to be taken, and what the customer asked for.
    SUBSCRIPTION_CHARGE_UPCOMING: TRANSACTIONAL,
    SUBSCRIPTION_CHARGED: TRANSACTIONAL,
    SUBSCRIPTION_CHARGE_FAILED: TRANSACTIONAL,
    SUBSCRIPTION_PAUSED: TRANSACTIONAL,
    SUBSCRIPTION_CANCELLED: TRANSACTIONAL,
    # Every date change offers to cancel with a full refund and, past the promise, asks for consent: a decision.
    PREORDER_DATE_CHANGED: TRANSACTIONAL,
    RETURN_LABEL: TRANSACTIONAL,
    RETURN_REJECTED: TRANSACTIONAL,
    RETURN_REFUNDED: TRANSACTIONAL,
    DRAFT_INVOICE: TRANSACTIONAL,
    ORDER_PAYMENT_OVERDUE: TRANSACTIONAL,
    WAITLIST_PREORDER_OPEN: PREORDER_UPDATES,  # a variant opens for pre-order: nothing bought, nothing to decide
    WAITLIST_BACK_IN_STOCK: WAITLIST,
    STAFF_LOW_STOCK: TRANSACTIONAL,  # to the shop's own staff, never a customer: no preferences apply
}
"""The one table of which category each template is in (a unit test checks that every template has one)."""


def category_of(template: str) -> Category:
    """The category of ``template``; a template missing from the table is transactional, so it is never lost."""
    return TEMPLATE_CATEGORIES.get(template, TRANSACTIONAL)


def normalise_email(address: str) -> str:
    """The address preferences are kept under: guests and account holders with the same address share them,
    whatever its case (as accounts are unique whatever the case)."""
    return address.strip().lower()


def subscribed_by_default(category: Category) -> bool:
    """Without a choice recorded: updates and waitlist emails go out; marketing waits for consent."""
    return category != MARKETING


def suppression_reason(category: Category, subscribed: bool | None) -> str | None:
    """Why an email of ``category`` is not sent to someone whose recorded choice is ``subscribed`` (None: they
    never chose); None when it is sent. Transactional email is always sent."""
    if category == TRANSACTIONAL:
        return None
    if subscribed is None:
        subscribed = subscribed_by_default(category)
        if not subscribed:
            return f"no consent to {category}"
    if not subscribed:
        return f"unsubscribed from {category}"
    return None


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


def win_back_offer_fact(order_id: str) -> Fact:
    """The code offered once after an order's cancellation."""
    return Fact(f"{_order_fact(order_id)}:win_back_offer")


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


def hold_charge_failed_fact(order_id: str, *, attempt: int) -> Fact:
    """One failed attempt at charging an order's lapsed card hold. Moot once the order is cancelled, or once a
    later attempt's failure is told (its retry date is past news)."""
    order = _order_fact(order_id)
    series = f"{order}:hold_charge:failed:"
    return Fact(f"{series}{attempt:04d}", moot_after=(f"{order}:cancelled",), series=series)


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


def low_stock_fact(sku: str, alert_number: int, address: str) -> Fact:
    """Catalog numbers a SKU's low-stock alerts, so the nth alert is told once to each staff address."""
    return Fact(f"{low_stock_reference(sku)}:alert:{alert_number}:to:{normalise_email(address)}")


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
class WinBackOffer:
    """What a customer who cancelled is offered for their reason: a single-use code (``percent``,
    ``fixed_amount``, ``free_shipping``) until ``expires_at``, or a ``link`` (size guide, similar products)."""

    kind: str
    code: str | None = None
    percent_off: int | None = None
    amount_off: Money | None = None
    link: str | None = None
    skus: tuple[str, ...] = ()
    expires_at: datetime | None = None

    @property
    def is_code(self) -> bool:
        """A code is an offer (marketing); a link answers the reason."""
        return self.code is not None and self.expires_at is not None


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


def waitlist_reference(entry_id: str) -> str:
    """What a waitlist email is logged under where order emails have their order id (it has no order)."""
    return f"waitlist:{entry_id}"


def low_stock_reference(sku: str) -> str:
    """What a staff low-stock email is logged under where order emails have their order id."""
    return f"low_stock:{sku}"
