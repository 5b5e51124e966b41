"""Events owned by orders: the life of an order as the saga moves it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import ClassVar, Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from shop_contracts.envelope import Message, MessageKind, as_version
from shop_contracts.money import CurrencyMismatch, Money, NonNegativeMoney, PositiveMoney
from shop_contracts.routing import EVENTS_EXCHANGE
from shop_contracts.values import (
    Address,
    Customer,
    LocatedLine,
    PaymentMode,
    PricedLine,
    PricedLineV1,
    Value,
)


class PreorderSummaryV1(Value):
    """What a customer is told about one pre-ordered line."""

    sku: str
    title: str
    quantity: int
    payment_mode: PaymentMode
    paid_now: int
    balance: int
    balance_due: str = Field(description="on_ready, or the ISO date-time the balance will be charged")
    expected_ship_date: date | None = None
    queue_position: int | None = None


class OrderEvent(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE


class OrderPlacedV1(OrderEvent):
    """Deprecated: version 1 of ``OrderPlaced``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "orders.order.placed.v1"
    order_id: str
    customer: Customer
    currency: str
    lines: list[PricedLineV1]
    total: int


class OrderConfirmedV1(OrderEvent):
    """Deprecated: version 1 of ``OrderConfirmed``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "orders.order.confirmed.v1"
    order_id: str
    customer: Customer
    currency: str
    lines: list[PricedLineV1]
    subtotal: int
    shipping: int
    total: int
    shipping_address: Address
    charged_now: int | None = Field(
        default=None, description="What was charged at checkout, when not the total."
    )
    preorder_lines: list[PreorderSummaryV1] = Field(default_factory=list)


class OrderRejected(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.rejected.v1"
    order_id: str
    customer: Customer
    reason: Literal["out_of_stock", "payment_declined"]
    detail: str


class OrderShipped(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.shipped.v1"
    order_id: str
    customer: Customer
    fulfillment_id: str
    carrier: str
    tracking_number: str


class OrderDelivered(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.delivered.v1"
    order_id: str
    customer: Customer
    fulfillment_id: str


class OrderBalanceChargedV1(OrderEvent):
    """Deprecated: version 1 of ``OrderBalanceCharged``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "orders.balance.charged.v1"
    order_id: str
    customer: Customer
    group_id: str
    amount: int
    currency: str
    expected_ship_date: date | None = None


class OrderBalanceChargeFailedV1(OrderEvent):
    """Deprecated: version 1 of ``OrderBalanceChargeFailed``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "orders.balance.failed.v1"
    order_id: str
    customer: Customer
    group_id: str
    amount: int
    currency: str
    reason: str
    requires_action: bool = False
    retry_at: AwareDatetime | None = None


class OrderBalanceReminderV1(OrderEvent):
    """Deprecated: version 1 of ``OrderBalanceReminder``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    A pre-order's balance will be charged off-session soon: tell the customer what, when and where to
    change the card."""

    TYPE: ClassVar[str] = "orders.balance.reminder.v1"
    order_id: str
    customer: Customer
    group_id: str | None = Field(
        default=None, description="The shipment group charged; None before its units are allocated."
    )
    sku: str | None = None
    amount: int
    currency: str
    charge_at: AwareDatetime = Field(
        description="When the balance will be charged; with when_ready, when the goods are expected."
    )
    when_ready: bool = Field(
        default=False,
        description="Charged when the goods are ready to ship (expected at charge_at), never before a day's notice.",
    )


class WinBackOfferV1(Value):
    """What the shop offers a customer who cancelled, for their reason: a single-use code (a percent off, an amount
    off in the order's currency, or free shipping), or a link (the size guide, similar products) with no code."""

    kind: Literal["percent", "fixed_amount", "free_shipping", "link"]
    code: str | None = Field(default=None, description="The single-use code; None for a link.")
    percent_off: int | None = Field(default=None, description="percent: off the next order's subtotal.")
    amount_off: int | None = Field(
        default=None, description="fixed_amount: off the next order's subtotal, in the order's currency."
    )
    currency: str | None = None
    link: Literal["size_guide", "similar_products"] | None = Field(
        default=None, description="link: which storefront page answers the reason."
    )
    skus: list[str] = Field(default_factory=list, description="similar_products: the cancelled order's SKUs.")
    expires_at: AwareDatetime | None = Field(default=None, description="Until when a code can be used.")
    marketing: bool = Field(
        default=True,
        description="A code is an offer, sent only to customers who consented to marketing; a link is not.",
    )


class OrderCancelledV1(OrderEvent):
    """Deprecated: version 1 of ``OrderCancelled``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    An order (or what was left of it) was cancelled; ``refund`` is what goes back to the customer."""

    TYPE: ClassVar[str] = "orders.order.cancelled.v1"
    order_id: str
    customer: Customer
    reason: str
    refund: int
    currency: str
    note: str | None = Field(default=None, description="What the customer or staff wrote with the reason.")
    cancelled_by: Literal["customer", "staff", "shop"] = "shop"
    partial: bool = Field(default=False, description="Only what had not shipped was cancelled.")
    held: bool = Field(
        default=False,
        description="The order's payment was a card hold captured as it ships: what goes back of it is released "
        "from the hold (never charged), not refunded.",
    )
    discount_code: str | None = Field(
        default=None, description="A single-use code for a next order, when staff offer one."
    )
    discount_percent: int | None = None
    discount_expires_at: AwareDatetime | None = None
    offer: WinBackOfferV1 | None = Field(
        default=None, description="The win-back offer for the reason (the discount_* fields repeat a code's)."
    )
    feedback_token: str | None = Field(
        default=None,
        description="Signed, scoped to this cancelled order and to feedback, and expiring: goes into the "
        "feedback link. None when the shop cancelled.",
    )


class OrderPreorderDateChanged(OrderEvent):
    """The expected ship date of a waiting pre-order line changed; the customer hears of it.

    ``consent_required`` when the new date is past the date the shop promised: the customer accepts it or
    cancels with a full refund, using ``decision_token`` (signed, scoped to this order) on the storefront.
    """

    TYPE: ClassVar[str] = "orders.preorder.date_changed.v1"
    order_id: str
    customer: Customer
    sku: str
    title: str
    previous_date: date | None
    expected_ship_date: date | None
    promised_date: date
    consent_required: bool
    decision_token: str


class ReturnApproved(OrderEvent):
    """Staff approved a return: fulfillment makes the return label for ``lines`` back to their locations."""

    TYPE: ClassVar[str] = "orders.return.approved.v1"
    return_id: str
    order_id: str
    customer: Customer
    lines: list[LocatedLine] = Field(min_length=1)
    pickup_address: Address = Field(description="Where the customer sends the parcel from")


class ReturnRejected(OrderEvent):
    TYPE: ClassVar[str] = "orders.return.rejected.v1"
    return_id: str
    order_id: str
    customer: Customer
    reason: str = Field(description="Why staff refused the return, as told to the customer")


class ReturnRefundedV1(OrderEvent):
    """Deprecated: version 1 of ``ReturnRefunded``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    A received return was refunded: its units' price less their discount share and the fees."""

    TYPE: ClassVar[str] = "orders.return.refunded.v1"
    return_id: str
    order_id: str
    customer: Customer
    currency: str
    value: int = Field(description="The returned units' price less their share of the order's discount")
    return_shipping_fee: int = 0
    restocking_fee: int = 0
    refund: int
    exchange_unavailable: list[str] = Field(
        default_factory=list,
        description="Replacement SKUs of an exchange that were out of stock: refunded instead, and said so.",
    )


class DraftInvoiceLineV1(Value):
    """A line of a draft order's invoice: a catalog line (``sku``) or a custom one (no SKU)."""

    sku: str | None = None
    title: str
    quantity: int = Field(gt=0)
    unit_price: int
    discount: int = Field(default=0, description="Taken off this line, in minor units")
    line_total: int = Field(description="unit_price x quantity less the line's discount")


class DraftInvoiceSentV1(OrderEvent):
    """Deprecated: version 1 of ``DraftInvoiceSent``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    Staff sent a draft order's invoice: the customer gets the amounts and a checkout link whose token opens
    this draft only."""

    TYPE: ClassVar[str] = "orders.draft.invoice_sent.v1"
    draft_id: str
    customer: Customer
    currency: str
    lines: list[DraftInvoiceLineV1]
    subtotal: int
    discount: int
    shipping: int
    tax: int
    tax_included: bool = True
    total: int
    payment_terms: Literal["due_on_receipt", "net", "on_fulfillment"]
    net_days: int | None = None
    due_date: date | None = None
    checkout_token: str = Field(description="Signed, scoped to this draft; goes into the checkout link")
    expires_at: AwareDatetime | None = Field(default=None, description="The invoice can be paid until then")


class OrderPaymentOverdueV1(OrderEvent):
    """Deprecated: version 1 of ``OrderPaymentOverdue``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    An order a draft became on net or on-fulfillment terms is past its due date unpaid: the customer is
    reminded what is due, since when, and where the invoice is."""

    TYPE: ClassVar[str] = "orders.order.payment_overdue.v1"
    order_id: str
    customer: Customer
    currency: str
    amount: int
    due_date: date
    draft_id: str
    checkout_token: str = Field(description="Signed, scoped to the draft; opens its invoice")


class CustomerMarketingConsentChanged(OrderEvent):
    """An account was made, or its customer gave or withdrew consent to marketing email. Consumers keep the
    choice with the latest ``changed_at`` for the address: a late or repeated event never undoes a newer one."""

    TYPE: ClassVar[str] = "orders.customer.marketing_consent_changed.v1"
    customer_id: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    marketing_consent: bool
    changed_at: AwareDatetime = Field(description="When the account was made or the consent changed.")


class SubscriptionChargeUpcomingV1(OrderEvent):
    """Deprecated: version 1 of ``SubscriptionChargeUpcoming``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    A cycle will be charged soon: tell the customer what, when and where to change the card."""

    TYPE: ClassVar[str] = "orders.subscription.charge_upcoming.v1"
    subscription_id: str
    customer: Customer
    plan_name: str
    cycle: int
    amount: int
    currency: str
    charge_at: AwareDatetime


class SubscriptionCycleChargedV1(OrderEvent):
    """Deprecated: version 1 of ``SubscriptionCycleCharged``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "orders.subscription.cycle_charged.v1"
    subscription_id: str
    customer: Customer
    plan_name: str
    cycle: int
    order_id: str
    amount: int
    currency: str
    next_charge_at: AwareDatetime | None = Field(
        default=None, description="None when the subscription ends with this cycle."
    )


class SubscriptionCycleFailedV1(OrderEvent):
    """Deprecated: version 1 of ``SubscriptionCycleFailed``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "orders.subscription.cycle_failed.v1"
    subscription_id: str
    customer: Customer
    plan_name: str
    cycle: int
    attempt: int
    amount: int
    currency: str
    reason: str = Field(description="The PSP's decline code.")
    requires_action: bool = False
    retry_at: AwareDatetime | None = Field(default=None, description="None: no retry before give_up_at.")
    give_up_at: AwareDatetime = Field(description="When the subscription is cancelled if still unpaid.")


class SubscriptionPaused(OrderEvent):
    TYPE: ClassVar[str] = "orders.subscription.paused.v1"
    subscription_id: str
    customer: Customer
    plan_name: str
    paused_by: str = Field(description="customer or staff")
    paused_at: AwareDatetime


class SubscriptionCancelled(OrderEvent):
    TYPE: ClassVar[str] = "orders.subscription.cancelled.v1"
    subscription_id: str
    customer: Customer
    plan_name: str
    reason: str = Field(description="customer, staff, unpaid (the dunning period ended) or plan_ended")
    ends_at: AwareDatetime = Field(description="When the subscription ends (now, or the paid cycle's end).")


# --- version 2: every amount is Money ----------------------------------------------------------------------
# Each replaces its version 1 above and turns one into itself, so consumers take both while producers move.
# ``currency`` is read from the amounts (a property, not a field on the wire), which are all in one currency.


def _amounts(value: object, path: str = "") -> Iterator[tuple[str, Money]]:
    """Every amount in ``value`` (a message, a value in it, a list of them), with the path that names it."""
    if isinstance(value, Money):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _amounts(getattr(value, name), f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _amounts(item, f"{path}[{index}]")


class OrderMoneyEvent(OrderEvent):
    """An orders event whose amounts are Money in one currency: the currency of its ``CURRENCY_OF`` amount."""

    CURRENCY_OF: ClassVar[str]
    """The (required) amount the message's currency is read from; every other amount must be in it too."""

    @property
    def currency(self) -> str:
        amount: Money = getattr(self, self.CURRENCY_OF)
        return amount.currency

    @model_validator(mode="after")
    def _amounts_share_one_currency(self) -> Self:
        currency = self.currency
        for path, amount in _amounts(self):
            if amount.currency != currency:
                raise CurrencyMismatch(
                    f"{path} is in {amount.currency} but {self.CURRENCY_OF} in {currency}: "
                    "every amount of a message is in one currency",
                    field=path,
                )
        return self


class PreorderSummary(Value):
    """What a customer is told about one pre-ordered line, its amounts in the order's currency (version 2 of
    ``PreorderSummaryV1``, whose amounts are bare minor units)."""

    sku: str
    title: str
    quantity: int
    payment_mode: PaymentMode
    paid_now: NonNegativeMoney
    balance: NonNegativeMoney
    balance_due: str = Field(description="on_ready, or the ISO date-time the balance will be charged")
    expected_ship_date: date | None = None
    queue_position: int | None = None

    @classmethod
    def from_previous(cls, previous: PreorderSummaryV1, *, currency: str) -> PreorderSummary:
        """``previous``, whose amounts are minor units of ``currency``, meaning the same."""
        return cls(
            sku=previous.sku,
            title=previous.title,
            quantity=previous.quantity,
            payment_mode=previous.payment_mode,
            paid_now=Money(previous.paid_now, currency),
            balance=Money(previous.balance, currency),
            balance_due=previous.balance_due,
            expected_ship_date=previous.expected_ship_date,
            queue_position=previous.queue_position,
        )


class OrderPlaced(OrderMoneyEvent):
    TYPE: ClassVar[str] = "orders.order.placed.v2"
    REPLACES: ClassVar[type[Message] | None] = OrderPlacedV1
    CURRENCY_OF: ClassVar[str] = "total"
    order_id: str
    customer: Customer
    lines: list[PricedLine]
    total: NonNegativeMoney

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, OrderPlacedV1)
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            lines=[PricedLine.from_previous(line, currency=old.currency) for line in old.lines],
            total=Money(old.total, old.currency),
        )


class OrderConfirmed(OrderMoneyEvent):
    TYPE: ClassVar[str] = "orders.order.confirmed.v2"
    REPLACES: ClassVar[type[Message] | None] = OrderConfirmedV1
    CURRENCY_OF: ClassVar[str] = "total"
    order_id: str
    customer: Customer
    lines: list[PricedLine]
    subtotal: NonNegativeMoney
    shipping: NonNegativeMoney
    total: NonNegativeMoney
    shipping_address: Address
    charged_now: NonNegativeMoney | None = Field(
        default=None, description="What was charged at checkout, when not the total."
    )
    preorder_lines: list[PreorderSummary] = Field(default_factory=list)

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, OrderConfirmedV1)
        currency = old.currency
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            lines=[PricedLine.from_previous(line, currency=currency) for line in old.lines],
            subtotal=Money(old.subtotal, currency),
            shipping=Money(old.shipping, currency),
            total=Money(old.total, currency),
            shipping_address=old.shipping_address,
            charged_now=Money(old.charged_now, currency) if old.charged_now is not None else None,
            preorder_lines=[
                PreorderSummary.from_previous(line, currency=currency) for line in old.preorder_lines
            ],
        )


class OrderBalanceCharged(OrderMoneyEvent):
    TYPE: ClassVar[str] = "orders.balance.charged.v2"
    REPLACES: ClassVar[type[Message] | None] = OrderBalanceChargedV1
    CURRENCY_OF: ClassVar[str] = "amount"
    order_id: str
    customer: Customer
    group_id: str
    amount: PositiveMoney
    expected_ship_date: date | None = None

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, OrderBalanceChargedV1)
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            group_id=old.group_id,
            amount=Money(old.amount, old.currency),
            expected_ship_date=old.expected_ship_date,
        )


class OrderBalanceChargeFailed(OrderMoneyEvent):
    TYPE: ClassVar[str] = "orders.balance.failed.v2"
    REPLACES: ClassVar[type[Message] | None] = OrderBalanceChargeFailedV1
    CURRENCY_OF: ClassVar[str] = "amount"
    order_id: str
    customer: Customer
    group_id: str
    amount: PositiveMoney
    reason: str
    requires_action: bool = False
    retry_at: AwareDatetime | None = None

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, OrderBalanceChargeFailedV1)
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            group_id=old.group_id,
            amount=Money(old.amount, old.currency),
            reason=old.reason,
            requires_action=old.requires_action,
            retry_at=old.retry_at,
        )


class OrderBalanceReminder(OrderMoneyEvent):
    """A pre-order's balance will be charged off-session soon: tell the customer what, when and where to
    change the card."""

    TYPE: ClassVar[str] = "orders.balance.reminder.v2"
    REPLACES: ClassVar[type[Message] | None] = OrderBalanceReminderV1
    CURRENCY_OF: ClassVar[str] = "amount"
    order_id: str
    customer: Customer
    group_id: str | None = Field(
        default=None, description="The shipment group charged; None before its units are allocated."
    )
    sku: str | None = None
    amount: NonNegativeMoney
    charge_at: AwareDatetime = Field(
        description="When the balance will be charged; with when_ready, when the goods are expected."
    )
    when_ready: bool = Field(
        default=False,
        description="Charged when the goods are ready to ship (expected at charge_at), never before a day's notice.",
    )

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, OrderBalanceReminderV1)
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            group_id=old.group_id,
            sku=old.sku,
            amount=Money(old.amount, old.currency),
            charge_at=old.charge_at,
            when_ready=old.when_ready,
        )


class WinBackOffer(Value):
    """What the shop offers a customer who cancelled, for their reason: a single-use code (a percent off, an amount
    off in the order's currency, or free shipping), or a link (the size guide, similar products) with no code
    (version 2 of ``WinBackOfferV1``, whose amount off is bare minor units beside ``currency``)."""

    kind: Literal["percent", "fixed_amount", "free_shipping", "link"]
    code: str | None = Field(default=None, description="The single-use code; None for a link.")
    percent_off: int | None = Field(default=None, description="percent: off the next order's subtotal.")
    amount_off: PositiveMoney | None = Field(
        default=None, description="fixed_amount: off the next order's subtotal, in the order's currency."
    )
    link: Literal["size_guide", "similar_products"] | None = Field(
        default=None, description="link: which storefront page answers the reason."
    )
    skus: list[str] = Field(default_factory=list, description="similar_products: the cancelled order's SKUs.")
    expires_at: AwareDatetime | None = Field(default=None, description="Until when a code can be used.")
    marketing: bool = Field(
        default=True,
        description="A code is an offer, sent only to customers who consented to marketing; a link is not.",
    )

    @property
    def currency(self) -> str | None:
        """The amount off's currency; None for an offer of no amount."""
        return self.amount_off.currency if self.amount_off is not None else None

    @classmethod
    def from_previous(cls, previous: WinBackOfferV1, *, currency: str) -> WinBackOffer:
        """``previous`` meaning the same; an amount off with no currency of its own is in ``currency``, the
        order's."""
        return cls(
            kind=previous.kind,
            code=previous.code,
            percent_off=previous.percent_off,
            amount_off=Money(previous.amount_off, previous.currency or currency)
            if previous.amount_off is not None
            else None,
            link=previous.link,
            skus=previous.skus,
            expires_at=previous.expires_at,
            marketing=previous.marketing,
        )


class OrderCancelled(OrderMoneyEvent):
    """An order (or what was left of it) was cancelled; ``refund`` is what goes back to the customer."""

    TYPE: ClassVar[str] = "orders.order.cancelled.v2"
    REPLACES: ClassVar[type[Message] | None] = OrderCancelledV1
    CURRENCY_OF: ClassVar[str] = "refund"
    order_id: str
    customer: Customer
    reason: str
    refund: NonNegativeMoney
    note: str | None = Field(default=None, description="What the customer or staff wrote with the reason.")
    cancelled_by: Literal["customer", "staff", "shop"] = "shop"
    partial: bool = Field(default=False, description="Only what had not shipped was cancelled.")
    held: bool = Field(
        default=False,
        description="The order's payment was a card hold captured as it ships: what goes back of it is released "
        "from the hold (never charged), not refunded.",
    )
    discount_code: str | None = Field(
        default=None, description="A single-use code for a next order, when staff offer one."
    )
    discount_percent: int | None = None
    discount_expires_at: AwareDatetime | None = None
    offer: WinBackOffer | None = Field(
        default=None, description="The win-back offer for the reason (the discount_* fields repeat a code's)."
    )
    feedback_token: str | None = Field(
        default=None,
        description="Signed, scoped to this cancelled order and to feedback, and expiring: goes into the "
        "feedback link. None when the shop cancelled.",
    )

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, OrderCancelledV1)
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            reason=old.reason,
            refund=Money(old.refund, old.currency),
            note=old.note,
            cancelled_by=old.cancelled_by,
            partial=old.partial,
            held=old.held,
            discount_code=old.discount_code,
            discount_percent=old.discount_percent,
            discount_expires_at=old.discount_expires_at,
            offer=WinBackOffer.from_previous(old.offer, currency=old.currency) if old.offer else None,
            feedback_token=old.feedback_token,
        )


class ReturnRefunded(OrderMoneyEvent):
    """A received return was refunded: its units' price less their discount share and the fees."""

    TYPE: ClassVar[str] = "orders.return.refunded.v2"
    REPLACES: ClassVar[type[Message] | None] = ReturnRefundedV1
    CURRENCY_OF: ClassVar[str] = "refund"
    return_id: str
    order_id: str
    customer: Customer
    value: NonNegativeMoney = Field(
        description="The returned units' price less their share of the order's discount"
    )
    return_shipping_fee: NonNegativeMoney = Field(description="Zero when the customer pays none")
    restocking_fee: NonNegativeMoney = Field(description="Zero when the customer pays none")
    refund: NonNegativeMoney
    exchange_unavailable: list[str] = Field(
        default_factory=list,
        description="Replacement SKUs of an exchange that were out of stock: refunded instead, and said so.",
    )

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, ReturnRefundedV1)
        return cls(
            return_id=old.return_id,
            order_id=old.order_id,
            customer=old.customer,
            value=Money(old.value, old.currency),
            return_shipping_fee=Money(old.return_shipping_fee, old.currency),
            restocking_fee=Money(old.restocking_fee, old.currency),
            refund=Money(old.refund, old.currency),
            exchange_unavailable=old.exchange_unavailable,
        )


class DraftInvoiceLine(Value):
    """A line of a draft order's invoice: a catalog line (``sku``) or a custom one (no SKU), its amounts in the
    draft's currency (version 2 of ``DraftInvoiceLineV1``, whose amounts are bare minor units)."""

    sku: str | None = None
    title: str
    quantity: int = Field(gt=0)
    unit_price: NonNegativeMoney
    discount: NonNegativeMoney = Field(description="Taken off this line; zero when nothing is")
    line_total: NonNegativeMoney = Field(description="unit_price x quantity less the line's discount")

    @classmethod
    def from_previous(cls, previous: DraftInvoiceLineV1, *, currency: str) -> DraftInvoiceLine:
        """``previous``, whose amounts are minor units of ``currency``, meaning the same."""
        return cls(
            sku=previous.sku,
            title=previous.title,
            quantity=previous.quantity,
            unit_price=Money(previous.unit_price, currency),
            discount=Money(previous.discount, currency),
            line_total=Money(previous.line_total, currency),
        )


class DraftInvoiceSent(OrderMoneyEvent):
    """Staff sent a draft order's invoice: the customer gets the amounts and a checkout link whose token opens
    this draft only."""

    TYPE: ClassVar[str] = "orders.draft.invoice_sent.v2"
    REPLACES: ClassVar[type[Message] | None] = DraftInvoiceSentV1
    CURRENCY_OF: ClassVar[str] = "total"
    draft_id: str
    customer: Customer
    lines: list[DraftInvoiceLine]
    subtotal: NonNegativeMoney
    discount: NonNegativeMoney
    shipping: NonNegativeMoney
    tax: NonNegativeMoney
    tax_included: bool = True
    total: NonNegativeMoney
    payment_terms: Literal["due_on_receipt", "net", "on_fulfillment"]
    net_days: int | None = None
    due_date: date | None = None
    checkout_token: str = Field(description="Signed, scoped to this draft; goes into the checkout link")
    expires_at: AwareDatetime | None = Field(default=None, description="The invoice can be paid until then")

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, DraftInvoiceSentV1)
        currency = old.currency
        return cls(
            draft_id=old.draft_id,
            customer=old.customer,
            lines=[DraftInvoiceLine.from_previous(line, currency=currency) for line in old.lines],
            subtotal=Money(old.subtotal, currency),
            discount=Money(old.discount, currency),
            shipping=Money(old.shipping, currency),
            tax=Money(old.tax, currency),
            tax_included=old.tax_included,
            total=Money(old.total, currency),
            payment_terms=old.payment_terms,
            net_days=old.net_days,
            due_date=old.due_date,
            checkout_token=old.checkout_token,
            expires_at=old.expires_at,
        )


class OrderPaymentOverdue(OrderMoneyEvent):
    """An order a draft became on net or on-fulfillment terms is past its due date unpaid: the customer is
    reminded what is due, since when, and where the invoice is."""

    TYPE: ClassVar[str] = "orders.order.payment_overdue.v2"
    REPLACES: ClassVar[type[Message] | None] = OrderPaymentOverdueV1
    CURRENCY_OF: ClassVar[str] = "amount"
    order_id: str
    customer: Customer
    amount: NonNegativeMoney
    due_date: date
    draft_id: str
    checkout_token: str = Field(description="Signed, scoped to the draft; opens its invoice")

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, OrderPaymentOverdueV1)
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            amount=Money(old.amount, old.currency),
            due_date=old.due_date,
            draft_id=old.draft_id,
            checkout_token=old.checkout_token,
        )


class SubscriptionChargeUpcoming(OrderMoneyEvent):
    """A cycle will be charged soon: tell the customer what, when and where to change the card."""

    TYPE: ClassVar[str] = "orders.subscription.charge_upcoming.v2"
    REPLACES: ClassVar[type[Message] | None] = SubscriptionChargeUpcomingV1
    CURRENCY_OF: ClassVar[str] = "amount"
    subscription_id: str
    customer: Customer
    plan_name: str
    cycle: int
    amount: NonNegativeMoney
    charge_at: AwareDatetime

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, SubscriptionChargeUpcomingV1)
        return cls(
            subscription_id=old.subscription_id,
            customer=old.customer,
            plan_name=old.plan_name,
            cycle=old.cycle,
            amount=Money(old.amount, old.currency),
            charge_at=old.charge_at,
        )


class SubscriptionCycleCharged(OrderMoneyEvent):
    TYPE: ClassVar[str] = "orders.subscription.cycle_charged.v2"
    REPLACES: ClassVar[type[Message] | None] = SubscriptionCycleChargedV1
    CURRENCY_OF: ClassVar[str] = "amount"
    subscription_id: str
    customer: Customer
    plan_name: str
    cycle: int
    order_id: str
    amount: PositiveMoney
    next_charge_at: AwareDatetime | None = Field(
        default=None, description="None when the subscription ends with this cycle."
    )

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, SubscriptionCycleChargedV1)
        return cls(
            subscription_id=old.subscription_id,
            customer=old.customer,
            plan_name=old.plan_name,
            cycle=old.cycle,
            order_id=old.order_id,
            amount=Money(old.amount, old.currency),
            next_charge_at=old.next_charge_at,
        )


class SubscriptionCycleFailed(OrderMoneyEvent):
    TYPE: ClassVar[str] = "orders.subscription.cycle_failed.v2"
    REPLACES: ClassVar[type[Message] | None] = SubscriptionCycleFailedV1
    CURRENCY_OF: ClassVar[str] = "amount"
    subscription_id: str
    customer: Customer
    plan_name: str
    cycle: int
    attempt: int
    amount: PositiveMoney
    reason: str = Field(description="The PSP's decline code.")
    requires_action: bool = False
    retry_at: AwareDatetime | None = Field(default=None, description="None: no retry before give_up_at.")
    give_up_at: AwareDatetime = Field(description="When the subscription is cancelled if still unpaid.")

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, SubscriptionCycleFailedV1)
        return cls(
            subscription_id=old.subscription_id,
            customer=old.customer,
            plan_name=old.plan_name,
            cycle=old.cycle,
            attempt=old.attempt,
            amount=Money(old.amount, old.currency),
            reason=old.reason,
            requires_action=old.requires_action,
            retry_at=old.retry_at,
            give_up_at=old.give_up_at,
        )
