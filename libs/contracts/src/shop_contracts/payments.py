"""Messages owned by payments: executing an order's payment step and its outcome."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

from pydantic import AwareDatetime, Field, model_validator

from shop_contracts.envelope import Message, MessageKind, as_version
from shop_contracts.money import Money, NonNegativeMoney, PositiveMoney
from shop_contracts.routing import COMMANDS_EXCHANGE, EVENTS_EXCHANGE
from shop_contracts.values import Customer

PaymentStep = Literal["full"]


class CapturePaymentV1(Message):
    """Deprecated: version 1 of ``CapturePayment``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    Charge what is due at checkout with the customer's PSP token; with ``save_method`` keep the token for
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


class PaymentSucceededV1(PaymentEvent):
    """Deprecated: version 1 of ``PaymentSucceeded``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

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


class PaymentFailedV1(PaymentEvent):
    """Deprecated: version 1 of ``PaymentFailed``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "payments.payment.failed.v1"
    order_id: str
    payment_id: str
    step: PaymentStep
    amount: int
    currency: str
    decline_code: str
    message: str


class ChargeBalanceV1(Message):
    """Deprecated: version 1 of ``ChargeBalance``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    Charge a pre-order group's balance off-session with the order's saved payment method."""

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


class BalanceChargedV1(PaymentEvent):
    """Deprecated: version 1 of ``BalanceCharged``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "payments.balance.charged.v1"
    order_id: str
    group_id: str
    payment_id: str
    amount: int
    currency: str


class BalanceChargeFailedV1(PaymentEvent):
    """Deprecated: version 1 of ``BalanceChargeFailed``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

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


class HoldChargeFailedV1(PaymentEvent):
    """Deprecated: version 1 of ``HoldChargeFailed``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    An order's card hold lapsed (or could not be captured) and charging what it held off session failed:
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


class IssueRefundV1(Message):
    """Deprecated: version 1 of ``IssueRefund``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    Give money back on an order (a cancellation, a dunning period that ran out); idempotent by key."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.refund.issue.v1"
    order_id: str
    amount: int = Field(gt=0)
    currency: str
    reason: str
    idempotency_key: str


class RefundIssuedV1(PaymentEvent):
    """Deprecated: version 1 of ``RefundIssued``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

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


class RefundRejectedV1(PaymentEvent):
    """Deprecated: version 1 of ``RefundRejected``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

    TYPE: ClassVar[str] = "payments.refund.rejected.v1"
    order_id: str
    amount: int
    currency: str
    reason: str
    idempotency_key: str
    error: str = Field(description="refund_exceeds_captured or idempotency_key_reused, with a sentence")


class ChargeSubscriptionCycleV1(Message):
    """Deprecated: version 1 of ``ChargeSubscriptionCycle``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``.

    Charge one cycle of a subscription off session with the subscription's card. The cycle's order id is
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


class SubscriptionChargeSucceededV1(PaymentEvent):
    """Deprecated: version 1 of ``SubscriptionChargeSucceeded``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

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


class SubscriptionChargeFailedV1(PaymentEvent):
    """Deprecated: version 1 of ``SubscriptionChargeFailed``, no longer sent; its consumers still take it.

    Its amounts are bare minor units beside ``currency``."""

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


# --- version 2: every amount is Money ----------------------------------------------------------------------
# Each replaces its version 1 above and turns one into itself, so consumers take both while producers move.
# ``currency`` is read from the amount (a property, not a field on the wire).


class CapturePayment(Message):
    """Charge what is due at checkout with the customer's PSP token; with ``save_method`` keep the token for
    later off-session balance charges (an amount of 0 only saves and verifies the method)."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.payment.capture.v2"
    REPLACES: ClassVar[type[Message] | None] = CapturePaymentV1
    order_id: str
    step: PaymentStep
    amount: NonNegativeMoney
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

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, CapturePaymentV1)
        return cls(
            order_id=old.order_id,
            step=old.step,
            amount=Money(old.amount, old.currency),
            payment_token=old.payment_token,
            save_method=old.save_method,
            bank_transfer_reference=old.bank_transfer_reference,
            balance_later=old.balance_later,
        )


class PaymentSucceeded(PaymentEvent):
    TYPE: ClassVar[str] = "payments.payment.succeeded.v2"
    REPLACES: ClassVar[type[Message] | None] = PaymentSucceededV1
    order_id: str
    payment_id: str
    step: PaymentStep
    amount: Money
    card_brand: str | None = None
    card_last4: str | None = None
    authorized_only: bool = Field(
        default=False,
        description="The amount is held on the card (an authorisation), not taken: payments captures each "
        "shipment's share as it ships and releases what will not ship",
    )

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, PaymentSucceededV1)
        return cls(
            order_id=old.order_id,
            payment_id=old.payment_id,
            step=old.step,
            amount=Money(old.amount, old.currency),
            card_brand=old.card_brand,
            card_last4=old.card_last4,
            authorized_only=old.authorized_only,
        )


class PaymentFailed(PaymentEvent):
    TYPE: ClassVar[str] = "payments.payment.failed.v2"
    REPLACES: ClassVar[type[Message] | None] = PaymentFailedV1
    order_id: str
    payment_id: str
    step: PaymentStep
    amount: Money
    decline_code: str
    message: str

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, PaymentFailedV1)
        return cls(
            order_id=old.order_id,
            payment_id=old.payment_id,
            step=old.step,
            amount=Money(old.amount, old.currency),
            decline_code=old.decline_code,
            message=old.message,
        )


class ChargeBalance(Message):
    """Charge a pre-order group's balance off-session with the order's saved payment method."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.balance.charge.v2"
    REPLACES: ClassVar[type[Message] | None] = ChargeBalanceV1
    order_id: str
    group_id: str
    amount: PositiveMoney
    attempt: int | None = Field(
        default=None,
        ge=1,
        description="Which attempt at this group's balance this ask is (1, then one more after each decline "
        "orders heard of): an ask for an attempt payments already made is a copy and charges nothing.",
    )

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, ChargeBalanceV1)
        return cls(
            order_id=old.order_id,
            group_id=old.group_id,
            amount=Money(old.amount, old.currency),
            attempt=old.attempt,
        )


class BalanceCharged(PaymentEvent):
    TYPE: ClassVar[str] = "payments.balance.charged.v2"
    REPLACES: ClassVar[type[Message] | None] = BalanceChargedV1
    order_id: str
    group_id: str
    payment_id: str
    amount: Money

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, BalanceChargedV1)
        return cls(
            order_id=old.order_id,
            group_id=old.group_id,
            payment_id=old.payment_id,
            amount=Money(old.amount, old.currency),
        )


class BalanceChargeFailed(PaymentEvent):
    TYPE: ClassVar[str] = "payments.balance.failed.v2"
    REPLACES: ClassVar[type[Message] | None] = BalanceChargeFailedV1
    order_id: str
    group_id: str
    payment_id: str
    amount: Money
    decline_code: str
    message: str
    requires_action: bool = Field(
        default=False, description="The customer must confirm the charge themselves."
    )

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, BalanceChargeFailedV1)
        return cls(
            order_id=old.order_id,
            group_id=old.group_id,
            payment_id=old.payment_id,
            amount=Money(old.amount, old.currency),
            decline_code=old.decline_code,
            message=old.message,
            requires_action=old.requires_action,
        )


class HoldChargeFailed(PaymentEvent):
    """An order's card hold lapsed (or could not be captured) and charging what it held off session failed:
    payments tries again (``retry_at``) until ``give_up_at``, and sooner when the customer replaces the card."""

    TYPE: ClassVar[str] = "payments.hold_charge.failed.v2"
    REPLACES: ClassVar[type[Message] | None] = HoldChargeFailedV1
    order_id: str
    customer: Customer
    payment_id: str
    amount: Money
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

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, HoldChargeFailedV1)
        return cls(
            order_id=old.order_id,
            customer=old.customer,
            payment_id=old.payment_id,
            amount=Money(old.amount, old.currency),
            attempt=old.attempt,
            decline_code=old.decline_code,
            message=old.message,
            requires_action=old.requires_action,
            retry_at=old.retry_at,
            give_up_at=old.give_up_at,
        )


class IssueRefund(Message):
    """Give money back on an order (a cancellation, a dunning period that ran out); idempotent by key."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.refund.issue.v2"
    REPLACES: ClassVar[type[Message] | None] = IssueRefundV1
    order_id: str
    amount: PositiveMoney
    reason: str
    idempotency_key: str

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, IssueRefundV1)
        return cls(
            order_id=old.order_id,
            amount=Money(old.amount, old.currency),
            reason=old.reason,
            idempotency_key=old.idempotency_key,
        )


class RefundIssued(PaymentEvent):
    TYPE: ClassVar[str] = "payments.refund.issued.v2"
    REPLACES: ClassVar[type[Message] | None] = RefundIssuedV1
    order_id: str
    refund_id: str
    amount: Money
    reason: str
    idempotency_key: str
    voided: NonNegativeMoney = Field(
        description="Of the amount, what was released from a card hold that was never captured (the customer "
        "was not charged it) rather than refunded; in the amount's currency, zero when nothing was released",
    )

    @model_validator(mode="after")
    def _voided_is_part_of_the_amount(self) -> Self:
        if self.voided.currency != self.amount.currency or self.voided.amount > self.amount.amount:
            raise ValueError(f"voided {self.voided} is not part of the amount {self.amount}")
        return self

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, RefundIssuedV1)
        return cls(
            order_id=old.order_id,
            refund_id=old.refund_id,
            amount=Money(old.amount, old.currency),
            reason=old.reason,
            idempotency_key=old.idempotency_key,
            voided=Money(old.voided, old.currency),
        )


class RefundRejected(PaymentEvent):
    TYPE: ClassVar[str] = "payments.refund.rejected.v2"
    REPLACES: ClassVar[type[Message] | None] = RefundRejectedV1
    order_id: str
    amount: Money
    reason: str
    idempotency_key: str
    error: str = Field(description="refund_exceeds_captured or idempotency_key_reused, with a sentence")

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, RefundRejectedV1)
        return cls(
            order_id=old.order_id,
            amount=Money(old.amount, old.currency),
            reason=old.reason,
            idempotency_key=old.idempotency_key,
            error=old.error,
        )


class ChargeSubscriptionCycle(Message):
    """Charge one cycle of a subscription off session with the subscription's card. The cycle's order id is
    chosen by orders before the charge, so the capture is recorded under it (refunds of that order work as for
    any order). An attempt payments already made is a copy and charges nothing; once a cycle is charged, no
    later attempt charges it again."""

    KIND: ClassVar[MessageKind] = MessageKind.COMMAND
    SOURCE: ClassVar[str] = "orders"
    EXCHANGE: ClassVar[str] = COMMANDS_EXCHANGE
    TYPE: ClassVar[str] = "payments.subscription_cycle.charge.v2"
    REPLACES: ClassVar[type[Message] | None] = ChargeSubscriptionCycleV1
    subscription_id: str
    cycle: int = Field(ge=1, description="The cycle's number, 1 for the first charge.")
    attempt: int = Field(ge=1, description="1, then one more after each decline (dunning retry, new card).")
    order_id: str = Field(description="The order the cycle becomes once charged.")
    amount: PositiveMoney
    payment_token: str = Field(description="The PSP token of the subscription's card (never card data).")

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, ChargeSubscriptionCycleV1)
        return cls(
            subscription_id=old.subscription_id,
            cycle=old.cycle,
            attempt=old.attempt,
            order_id=old.order_id,
            amount=Money(old.amount, old.currency),
            payment_token=old.payment_token,
        )


class SubscriptionChargeSucceeded(PaymentEvent):
    TYPE: ClassVar[str] = "payments.subscription_charge.succeeded.v2"
    REPLACES: ClassVar[type[Message] | None] = SubscriptionChargeSucceededV1
    subscription_id: str
    cycle: int
    attempt: int
    order_id: str
    payment_id: str
    amount: Money
    card_brand: str | None = None
    card_last4: str | None = None

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, SubscriptionChargeSucceededV1)
        return cls(
            subscription_id=old.subscription_id,
            cycle=old.cycle,
            attempt=old.attempt,
            order_id=old.order_id,
            payment_id=old.payment_id,
            amount=Money(old.amount, old.currency),
            card_brand=old.card_brand,
            card_last4=old.card_last4,
        )


class SubscriptionChargeFailed(PaymentEvent):
    TYPE: ClassVar[str] = "payments.subscription_charge.failed.v2"
    REPLACES: ClassVar[type[Message] | None] = SubscriptionChargeFailedV1
    subscription_id: str
    cycle: int
    attempt: int
    order_id: str
    payment_id: str
    amount: Money
    decline_code: str
    message: str
    requires_action: bool = False

    @property
    def currency(self) -> str:
        return self.amount.currency

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        old = as_version(previous, SubscriptionChargeFailedV1)
        return cls(
            subscription_id=old.subscription_id,
            cycle=old.cycle,
            attempt=old.attempt,
            order_id=old.order_id,
            payment_id=old.payment_id,
            amount=Money(old.amount, old.currency),
            decline_code=old.decline_code,
            message=old.message,
            requires_action=old.requires_action,
        )
