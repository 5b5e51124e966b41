"""The order's state, free of I/O: its columns, lines and groups, what its steps recorded since the last save,
and the moves every step shares (the status, a new group, a group charged or released, a rejection). The steps
themselves build on it: the warehouse's reports (``core.warehouse``), pre-order balances (``core.balances``)
and checkout and payment (``core.order``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shop_contracts import Message
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import Address, Customer, LocatedLine
from shop_orders.core.domain import GroupStatus, OrderStatus, can_move
from shop_orders.core.parts import OrderLine, ShipmentGroup, Tracked


@dataclass(eq=False)
class OrderState(Tracked):
    """An order's columns, its lines and shipment groups, and what its steps recorded since the last save."""

    id: str
    status: OrderStatus
    email: str
    locale: str
    currency: str
    subtotal: Money
    shipping: Money
    total: Money
    shipping_address: dict[str, Any]
    shipping_method: str
    idempotency_key: str
    request_fingerprint: str
    created_at: datetime
    updated_at: datetime
    discount: Money
    tax_added: Money
    captured: Money
    refund_requested: Money
    """Refunds asked of payments so far: never more than ``captured``."""
    status_reason: str | None = None
    payment_token: str | None = None
    charged_now: Money | None = None
    shipping_deferred: bool = False
    tax_rate: int = 0
    tax_added_on_top: bool = False
    discount_code: str | None = None
    payment_held: bool = False
    """Checkout's payment is a card hold, captured as the order ships: money given back before that is released
    from the hold, not refunded."""
    customer_id: str | None = None
    payment_terms: str | None = None
    net_days: int | None = None
    payment_due_amount: Money | None = None
    payment_due_date: date | None = None
    payment_status: str | None = None
    paid_at: datetime | None = None
    subscription_id: str | None = None
    """Set for a subscription's cycle: payments charged it before it was placed (``captured`` from the start)."""
    lines: list[OrderLine] = field(default_factory=list)
    groups: list[ShipmentGroup] = field(default_factory=list)
    timeline: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """Timeline events recorded since the last save, in order."""
    messages: list[Message] = field(default_factory=list)
    """Messages the steps sent since they were last taken, in order."""

    # --- reading -------------------------------------------------------------------------------------------

    @property
    def customer(self) -> Customer:
        return Customer(email=self.email, locale=self.locale)

    def line(self, sku: str) -> OrderLine:
        return next(line for line in self.lines if line.sku == sku)

    def group(self, group_id: str) -> ShipmentGroup | None:
        return next((group for group in self.groups if group.id == group_id), None)

    def groups_in(self, *statuses: GroupStatus) -> list[ShipmentGroup]:
        """The groups in any of ``statuses``, oldest first."""
        return [group for group in self.groups if group.status in statuses]

    # --- recording -----------------------------------------------------------------------------------------

    def record(self, event: str, **detail: Any) -> None:
        """Add ``event`` to the order's timeline (written when the order is saved)."""
        self.timeline.append((event, detail))

    def send(self, message: Message) -> None:
        """Send ``message`` about this order (published by the handler once the order is saved)."""
        self.messages.append(message)

    def take_messages(self) -> list[Message]:
        messages, self.messages = self.messages, []
        return messages

    def adopt(self, group: ShipmentGroup) -> ShipmentGroup:
        """Hold ``group`` as this order's copy of it (replacing one with its id), so saving writes its changes."""
        self.groups = [group if kept.id == group.id else kept for kept in self.groups]
        if not any(kept is group for kept in self.groups):
            self.groups.append(group)
        return group

    # --- moves every step shares ----------------------------------------------------------------------------

    def zero(self) -> Money:
        """No money, in the order's currency."""
        return Money.zero(self.currency)

    def in_its_currency(self, amount: Money) -> Money:
        """``amount`` as the order keeps it: ``CurrencyMismatch`` unless it is in the order's currency."""
        return self.zero() + amount

    def move_to(self, status: OrderStatus, *, reason: str | None = None) -> None:
        self.status = status
        if reason is not None:
            self.status_reason = reason

    def add_group(
        self,
        group_id: str,
        *,
        kind: str,
        location: str,
        lines: list[LocatedLine],
        status: GroupStatus,
        balance_amount: Money | None = None,
        expected_ship_date: date | None = None,
        balance_due_at: datetime | None = None,
    ) -> ShipmentGroup:
        group = ShipmentGroup(
            id=group_id,
            order_id=self.id,
            kind=kind,
            location=location,
            status=status,
            lines=[line.model_dump() for line in lines],
            balance_amount=self.zero() if balance_amount is None else balance_amount,
            expected_ship_date=expected_ship_date,
            balance_due_at=balance_due_at,
            new=True,
        )
        self.groups.append(group)
        return group

    def reject(self, *, reason: str, detail: str) -> bool:
        """Reject the order before it was accepted; False when it is past that (a late or repeated step)."""
        if not can_move(self.status, OrderStatus.REJECTED):
            return False
        self.move_to(OrderStatus.REJECTED, reason=reason)
        self.record("rejected", reason=reason, detail=detail)
        if self.subscription_id is not None:  # paid before it was placed: the money goes back
            self.request_refund(self.captured, key=f"{self.id}:rejected", reason=reason)
        self.send(
            contracts.OrderRejected(order_id=self.id, customer=self.customer, reason=reason, detail=detail)
        )
        return True

    def advance(self, group: ShipmentGroup) -> None:
        """Move a group of an accepted order on: charge its balance first if it has one, else release it."""
        group = self.adopt(group)
        if group.balance_amount > self.zero():
            group.status = GroupStatus.AWAITING_BALANCE
            self.send(
                payment_contracts.ChargeBalance(
                    order_id=self.id,
                    group_id=group.id,
                    amount=group.balance_amount,
                    attempt=group.balance_failures + 1,
                )
            )
        else:
            self.release(group)

    def release(self, group: ShipmentGroup) -> None:
        """Hand a paid group to the warehouse."""
        group = self.adopt(group)
        group.status = GroupStatus.RELEASED
        self.send(
            fulfillment_contracts.CreateFulfillmentOrder(
                order_id=self.id,
                location=group.location,
                lines=[LocatedLine.model_validate(line) for line in group.lines],
                shipping_address=Address.model_validate(self.shipping_address),
                shipping_method=self.shipping_method,
                group_id=group.id,
            )
        )

    def request_refund(self, amount: Money, *, key: str, reason: str) -> None:
        """Ask payments for a refund (never more than captured and not yet refunded) and count it asked.
        ``CurrencyMismatch`` when ``amount`` is not in the order's currency."""
        amount = min(amount, self.captured - self.refund_requested)
        if amount <= self.zero():
            return
        self.refund_requested += amount
        self.send(
            payment_contracts.IssueRefund(
                order_id=self.id,
                amount=amount,
                reason=reason,
                idempotency_key=key,
            )
        )
