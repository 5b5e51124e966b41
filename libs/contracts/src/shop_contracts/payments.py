"""Messages owned by payments: executing an order's payment step and its outcome."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from shop_contracts.envelope import Message, MessageKind
from shop_contracts.routing import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from shop_contracts.values import Customer

PaymentStep = Literal["full"]


class CapturePayment(Message):
    """Charge what is due at checkout with the customer's PSP token; with ``save_method`` keep the token for
    later off-session balance charges (an amount of 0 only saves and verifies the method)."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.payment.capture.v1"
    order_id: str
    step: PaymentStep
    amount: int = Field(ge=0)
    currency: str
    payment_token: str
    save_method: bool = False
    bank_transfer_reference: str | None = Field(
        default=None,
        description="Staff saw this bank transfer arrive (a draft order marked as paid): record the capture "
        "in the ledger under this reference without charging the PSP",
    )
    balance_later: bool = Field(
        default=False,
        description="This charge is the upfront part (a deposit) of an order whose balance is charged later",
    )


class PaymentEvent(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "payments"
    EXCHANGE: ClassVar[str] = EVENTS_EXCHANGE


class PaymentSucceeded(PaymentEvent):
    TYPE: ClassVar[str] = "payments.payment.succeeded.v1"
    order_id: str
    payment_id: str
    step: PaymentStep
    amount: int
    currency: str
    card_brand: str | None = None
    card_last4: str | None = None
    authorized_only: bool = Field(
        default=False,
        description="The amount is held on the card (an authorisation), not taken: payments captures each "
        "shipment's share as it ships and releases what will not ship",
    )


class PaymentFailed(PaymentEvent):
    TYPE: ClassVar[str] = "payments.payment.failed.v1"
    order_id: str
    payment_id: str
    step: PaymentStep
    amount: int
    currency: str
    decline_code: str
    message: str


class ChargeBalance(Message):
    """Charge a pre-order group's balance off-session with the order's saved payment method."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.balance.charge.v1"
    order_id: str
    group_id: str
    amount: int = Field(gt=0)
    currency: str
    attempt: int | None = Field(
        default=None,
        ge=1,
        description="Which attempt at this group's balance this ask is (1, then one more after each decline "
        "orders heard of): an ask for an attempt payments already made is a copy and charges nothing.",
    )


class BalanceCharged(PaymentEvent):
    TYPE: ClassVar[str] = "payments.balance.charged.v1"
    order_id: str
    group_id: str
    payment_id: str
    amount: int
    currency: str


class BalanceChargeFailed(PaymentEvent):
    TYPE: ClassVar[str] = "payments.balance.failed.v1"
    order_id: str
    group_id: str
    payment_id: str
    amount: int
    currency: str
    decline_code: str
    message: str
    requires_action: bool = Field(
        default=False, description="The customer must confirm the charge themselves."
    )


class PaymentMethodUpdated(PaymentEvent):
    """The customer replaced an order's saved method (a PSP token, never card data); later balances use it."""

    TYPE: ClassVar[str] = "payments.payment_method.updated.v1"
    order_id: str
    card_brand: str | None = None
    card_last4: str | None = None


class HoldChargeFailed(PaymentEvent):
    """An order's card hold lapsed (or could not be captured) and charging what it held off session failed:
    payments tries again (``retry_at``) until ``give_up_at``, and sooner when the customer replaces the card."""

    TYPE: ClassVar[str] = "payments.hold_charge.failed.v1"
    order_id: str
    customer: Customer
    payment_id: str
    amount: int
    currency: str
    attempt: int = Field(
        ge=1, description="Which attempt at charging the lapsed hold failed (1 is the first)."
    )
    decline_code: str
    message: str
    requires_action: bool = Field(
        default=False, description="The customer must confirm the charge themselves."
    )
    retry_at: AwareDatetime | None = Field(
        default=None,
        description="When payments charges the saved method again; None: no retry before give_up_at.",
    )
    give_up_at: AwareDatetime = Field(
        description="When payments stops trying and the order waits for staff (the dunning period's end)."
    )


class IssueRefund(Message):
    """Give money back on an order (a cancellation, a dunning period that ran out); idempotent by key."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.refund.issue.v1"
    order_id: str
    amount: int = Field(gt=0)
    currency: str
    reason: str
    idempotency_key: str


class RefundIssued(PaymentEvent):
    TYPE: ClassVar[str] = "payments.refund.issued.v1"
    order_id: str
    refund_id: str
    amount: int
    currency: str
    reason: str
    idempotency_key: str
    voided: int = Field(
        default=0,
        ge=0,
        description="Of the amount, what was released from a card hold that was never captured (the customer "
        "was not charged it) rather than refunded",
    )


class RefundRejected(PaymentEvent):
    TYPE: ClassVar[str] = "payments.refund.rejected.v1"
    order_id: str
    amount: int
    currency: str
    reason: str
    idempotency_key: str
    error: str = Field(description="refund_exceeds_captured or idempotency_key_reused, with a sentence")


class ChargeSubscriptionCycle(Message):
    """Charge one cycle of a subscription off session with the subscription's card. The cycle's order id is
    chosen by orders before the charge, so the capture is recorded under it (refunds of that order work as for
    any order). An attempt payments already made is a copy and charges nothing; once a cycle is charged, no
    later attempt charges it again."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.subscription_cycle.charge.v1"
    subscription_id: str
    cycle: int = Field(ge=1, description="The cycle's number, 1 for the first charge.")
    attempt: int = Field(ge=1, description="1, then one more after each decline (dunning retry, new card).")
    order_id: str = Field(description="The order the cycle becomes once charged.")
    amount: int = Field(gt=0)
    currency: str
    payment_token: str = Field(description="The PSP token of the subscription's card (never card data).")


class SubscriptionChargeSucceeded(PaymentEvent):
    TYPE: ClassVar[str] = "payments.subscription_charge.succeeded.v1"
    subscription_id: str
    cycle: int
    attempt: int
    order_id: str
    payment_id: str
    amount: int
    currency: str
    card_brand: str | None = None
    card_last4: str | None = None


class SubscriptionChargeFailed(PaymentEvent):
    TYPE: ClassVar[str] = "payments.subscription_charge.failed.v1"
    subscription_id: str
    cycle: int
    attempt: int
    order_id: str
    payment_id: str
    amount: int
    currency: str
    decline_code: str
    message: str
    requires_action: bool = False
