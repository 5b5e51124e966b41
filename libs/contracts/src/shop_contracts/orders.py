"""Events owned by orders: the life of an order as the saga moves it."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.routing import EVENTS_EXCHANGE
from shop_contracts.values import Address, Customer, LocatedLine, PaymentMode, PricedLine, Value


class PreorderSummary(Value):
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


class OrderPlaced(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.placed.v1"
    order_id: str
    customer: Customer
    currency: str
    lines: list[PricedLine]
    total: int


class OrderConfirmed(OrderEvent):
    TYPE: ClassVar[str] = "orders.order.confirmed.v1"
    order_id: str
    customer: Customer
    currency: str
    lines: list[PricedLine]
    subtotal: int
    shipping: int
    total: int
    shipping_address: Address
    charged_now: int | None = Field(
        default=None, description="What was charged at checkout, when not the total."
    )
    preorder_lines: list[PreorderSummary] = Field(default_factory=list)


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


class OrderBalanceCharged(OrderEvent):
    TYPE: ClassVar[str] = "orders.balance.charged.v1"
    order_id: str
    customer: Customer
    group_id: str
    amount: int
    currency: str
    expected_ship_date: date | None = None


class OrderBalanceChargeFailed(OrderEvent):
    TYPE: ClassVar[str] = "orders.balance.failed.v1"
    order_id: str
    customer: Customer
    group_id: str
    amount: int
    currency: str
    reason: str
    requires_action: bool = False
    retry_at: AwareDatetime | None = None


class OrderBalanceReminder(OrderEvent):
    """A pre-order's balance will be charged off-session soon: tell the customer what, when and where to
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


class WinBackOffer(Value):
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


class OrderCancelled(OrderEvent):
    """An order (or what was left of it) was cancelled; ``refund`` is what goes back to the customer."""

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
    offer: WinBackOffer | None = Field(
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


class ReturnRefunded(OrderEvent):
    """A received return was refunded: its units' price less their discount share and the fees."""

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


class DraftInvoiceLine(Value):
    """A line of a draft order's invoice: a catalog line (``sku``) or a custom one (no SKU)."""

    sku: str | None = None
    title: str
    quantity: int = Field(gt=0)
    unit_price: int
    discount: int = Field(default=0, description="Taken off this line, in minor units")
    line_total: int = Field(description="unit_price x quantity less the line's discount")


class DraftInvoiceSent(OrderEvent):
    """Staff sent a draft order's invoice: the customer gets the amounts and a checkout link whose token opens
    this draft only."""

    TYPE: ClassVar[str] = "orders.draft.invoice_sent.v1"
    draft_id: str
    customer: Customer
    currency: str
    lines: list[DraftInvoiceLine]
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


class OrderPaymentOverdue(OrderEvent):
    """An order a draft became on net or on-fulfillment terms is past its due date unpaid: the customer is
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


class SubscriptionChargeUpcoming(OrderEvent):
    """A cycle will be charged soon: tell the customer what, when and where to change the card."""

    TYPE: ClassVar[str] = "orders.subscription.charge_upcoming.v1"
    subscription_id: str
    customer: Customer
    plan_name: str
    cycle: int
    amount: int
    currency: str
    charge_at: AwareDatetime


class SubscriptionCycleCharged(OrderEvent):
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


class SubscriptionCycleFailed(OrderEvent):
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
