"""The order aggregate, free of I/O: an ``Order`` with its ``OrderLine``s and ``ShipmentGroup``s.

A step of the saga is a method: it checks the move is allowed, changes the order, records what happened on the
order's timeline and records the messages the step sends. The repository (``core.repository.Orders``) loads
the whole order, locked, and saves what changed; the handler then publishes what the order recorded. Every
attribute keeps its column's name, so reading an order reads like reading its row.

Each entity remembers which of its fields changed since it was loaded or last saved (``changed``), so saving
writes only those: a step that moves one group writes one row.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from shop_contracts import Message
from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.fulfillment import Shipment
from shop_contracts.values import Address, Customer, LocatedLine, PreorderLine
from shop_orders.core.domain import (
    CatalogVariant,
    GroupStatus,
    OrderStatus,
    bank_transfer_reference,
    can_move,
    group_may_move,
    promised_ship_date,
    status_after_shipments,
)
from shop_orders.core.parts import OrderLine, ShipmentGroup, Tracked, policy_of, preorder_summary, priced_line
from shop_orders.core.pricing import PlanLine, discount_share, order_tax, plan_checkout_charge, tax_share


@dataclass(eq=False)
class Order(Tracked):
    """An order: its columns, its lines and shipment groups, and what its steps recorded since the last save."""

    id: str
    status: OrderStatus
    email: str
    locale: str
    currency: str
    subtotal: int
    shipping: int
    total: int
    shipping_address: dict[str, Any]
    shipping_method: str
    idempotency_key: str
    request_fingerprint: str
    created_at: datetime
    updated_at: datetime
    status_reason: str | None = None
    payment_token: str | None = None
    charged_now: int | None = None
    shipping_deferred: bool = False
    discount: int = 0
    tax_rate: int = 0
    tax_added_on_top: bool = False
    tax_added: int = 0
    discount_code: str | None = None
    captured: int = 0
    refund_requested: int = 0
    customer_id: str | None = None
    payment_terms: str | None = None
    net_days: int | None = None
    payment_due_amount: int | None = None
    payment_due_date: date | None = None
    payment_status: str | None = None
    paid_at: datetime | None = None
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

    # --- steps ---------------------------------------------------------------------------------------------

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
        balance_amount: int = 0,
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
            balance_amount=balance_amount,
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
        self.send(
            contracts.OrderRejected(order_id=self.id, customer=self.customer, reason=reason, detail=detail)
        )
        return True

    def confirm_payment(self, *, payment_id: str, amount: int) -> bool:
        """Checkout's payment was captured: the order is confirmed. False when it was not waiting for it."""
        if not can_move(self.status, OrderStatus.CONFIRMED):
            return False
        self.move_to(OrderStatus.CONFIRMED)
        self.payment_token = None
        self.captured = amount
        self.record("payment_captured", payment_id=payment_id, amount=amount)
        self.record("confirmed")
        return True

    def hold_stock(
        self,
        lines: list[LocatedLine],
        preorder_lines: list[PreorderLine],
        current: Mapping[str, CatalogVariant],
    ) -> list[tuple[str, date]]:
        """Catalog holds the stock and gave the pre-order lines their places: settle what checkout charges now
        and what each line leaves for later, group the held units by location, and ask for the payment (an
        order on payment terms is confirmed unpaid instead). Returns the promised ship date of each pre-order
        line, by SKU, to be checked when it comes."""
        waiting = {line.sku: line for line in preorder_lines}
        plan = plan_checkout_charge(
            [
                PlanLine(
                    sku=line.sku,
                    quantity=line.quantity,
                    line_total=line.line_total,
                    preorder_policy=policy_of(line, current.get(line.sku)) if line.sku in waiting else None,
                )
                for line in self.lines
            ],
            shipping=self.shipping,
            currency=self.currency,
        )
        promises: list[tuple[str, date]] = []
        for line in self.lines:
            line.paid_now, line.balance = plan.paid_now[line.sku], plan.balance[line.sku]
            place = waiting.get(line.sku)
            if place is not None:
                sold_under = policy_of(line, current.get(line.sku))
                line.kind = "preorder"
                line.preorder_policy = sold_under.model_dump(mode="json")
                line.queue_position = place.queue_position
                line.expected_ship_date = place.expected_ship_date
                line.promised_ship_date = promised_ship_date(sold_under, self.created_at)
                promises.append((line.sku, line.promised_ship_date))
        by_location: dict[str, list[LocatedLine]] = {}
        for located in lines:
            by_location.setdefault(located.location, []).append(located)
        for location, located_lines in sorted(by_location.items()):
            self.add_group(
                str(uuid.uuid4()),
                kind="in_stock",
                location=location,
                lines=located_lines,
                status=GroupStatus.RESERVED,
            )
        # A discount code comes off what is charged at checkout (never more than that charge). Tax added on top
        # is charged in full at checkout, also the part of a pre-order's balance charged later.
        discount = min(self.discount, plan.charged_now)
        tax_added = self.tax_added
        if self.tax_added_on_top and discount != self.discount:
            tax_added = order_tax(
                address=self.shipping_address,
                rates={},
                added_on_top_countries=[],
                subtotal=self.subtotal,
                discount=discount,
                shipping=self.shipping,
                fixed=(self.tax_rate, True),
            ).amount
        self.move_to(OrderStatus.RESERVED)
        self.charged_now = plan.charged_now - discount + tax_added
        self.shipping_deferred = plan.shipping_deferred
        self.discount = discount
        self.total = self.subtotal + self.shipping - discount + tax_added
        self.tax_added = tax_added
        self.record(
            "stock_reserved",
            lines=[line.model_dump() for line in lines],
            preorder_lines=[line.model_dump(mode="json") for line in preorder_lines],
        )
        if self.payment_terms is not None:
            # A draft completed on net or on-fulfillment terms: nothing is charged now; it is paid later.
            self.confirm_on_terms()
            return promises
        self.send(
            payment_contracts.CapturePayment(
                order_id=self.id,
                step="full",
                amount=self.charged_now,
                currency=self.currency,
                payment_token=self.payment_token,
                # Kept for every order: a later balance, or the price difference of an exchange, is charged
                # off-session with it.
                save_method=True,
                balance_later=sum(plan.balance.values()) > 0,
                bank_transfer_reference=bank_transfer_reference(self.payment_token),
            )
        )
        return promises

    def release_late_reservation(self) -> None:
        """Catalog held stock for an order cancelled before it answered: the held units go back."""
        self.record("late_reservation_released")
        self.send(catalog_contracts.ReleaseStock(order_id=self.id, reason=self.status_reason or "cancelled"))

    def confirmation(self) -> contracts.OrderConfirmed:
        """The message that tells everyone the order is accepted."""
        preorder_lines = [line for line in self.lines if line.kind == "preorder"]
        return contracts.OrderConfirmed(
            order_id=self.id,
            customer=self.customer,
            currency=self.currency,
            lines=[priced_line(line.sku, line.title, line.quantity, line.unit_price) for line in self.lines],
            subtotal=self.subtotal,
            shipping=self.shipping,
            total=self.total,
            shipping_address=Address.model_validate(self.shipping_address),
            # On payment terms nothing is charged now: the email says so instead of thanking for a payment.
            charged_now=0 if self.payment_terms is not None else self.charged_now if preorder_lines else None,
            preorder_lines=[preorder_summary(line, self.created_at) for line in preorder_lines],
        )

    def confirm_on_terms(self) -> None:
        """Stock is held for an order on payment terms: confirm it and send its units to fulfillment unpaid."""
        self.move_to(OrderStatus.CONFIRMED)
        self.payment_token = None
        self.record(
            "confirmed",
            payment_terms=self.payment_terms,
            payment_due=self.payment_due_amount,
            payment_due_date=self.payment_due_date.isoformat() if self.payment_due_date else None,
        )
        self.send(self.confirmation())
        for group in self.groups_in(GroupStatus.RESERVED, GroupStatus.AWAITING_CONFIRMATION):
            self.advance(group)

    def decline_payment(self, *, decline_code: str, message: str) -> bool:
        """The card was declined: the held stock and pre-order places go back and the order is rejected.
        False when the order is past that (a late or repeated report)."""
        if not can_move(self.status, OrderStatus.REJECTED):
            return False
        self.payment_token = None
        self.record("payment_failed", decline_code=decline_code)
        self.send(catalog_contracts.ReleaseStock(order_id=self.id, reason="payment_declined"))
        return self.reject(reason="payment_declined", detail=f"{decline_code}: {message}")

    def advance(self, group: ShipmentGroup) -> None:
        """Move a group of an accepted order on: charge its balance first if it has one, else release it."""
        group = self.adopt(group)
        if group.balance_amount > 0:
            group.status = GroupStatus.AWAITING_BALANCE
            self.send(
                payment_contracts.ChargeBalance(
                    order_id=self.id,
                    group_id=group.id,
                    amount=group.balance_amount,
                    currency=self.currency,
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

    # --- the warehouse's reports: facts recorded once, in whatever order they arrive ---------------------------

    def reported_group(
        self, *, fulfillment_id: str, group_id: str | None, location: str | None = None
    ) -> ShipmentGroup:
        """The group a warehouse report is about: by its id when the report carries it, else by its fulfillment
        order, else (an order asked for before groups had ids) the location's in-stock group. The fulfillment
        order is recorded on the group the first time a report names it. ``LookupError`` when orders has not
        heard of it yet: the report is retried."""
        if group_id is not None:
            group = self.group(group_id)
        elif location is not None:
            group = next((g for g in self.groups if g.location == location and g.kind == "in_stock"), None)
        else:
            group = next((g for g in self.groups if g.fulfillment_id == fulfillment_id), None)
        if group is None:
            raise LookupError(f"fulfillment {fulfillment_id} is not known yet; the message will be retried")
        if group.fulfillment_id is None:
            group.fulfillment_id = fulfillment_id
        return group

    def move_group(self, group: ShipmentGroup, target: GroupStatus) -> bool:
        """Move a group to ``target`` unless it is there, past it, or cancelled; True when it moved."""
        if not group_may_move(group.status, target):
            return False
        group.status = target
        return True

    def record_pick_requested(self, group: ShipmentGroup, *, location: str) -> None:
        if self.move_group(group, GroupStatus.PICK_REQUESTED):
            self.record(
                "pick_requested", fulfillment_id=group.fulfillment_id, location=location, group_id=group.id
            )

    def record_pick(self, group: ShipmentGroup, short_lines: list[LocatedLine], *, now: datetime) -> None:
        """The warehouse picked a group, possibly fewer units than asked (a short pick)."""
        if short_lines:
            self.record_short_pick(group, short_lines, now=now)
        if group.picked_at is None:
            group.picked_at = now
            if not short_lines:
                self.record("picked", fulfillment_id=group.fulfillment_id)
        self.move_group(group, GroupStatus.PICKED)

    def record_packed(self, group: ShipmentGroup, *, now: datetime) -> None:
        if group.packed_at is None:
            group.packed_at = now
            self.record("packed", fulfillment_id=group.fulfillment_id)
        self.move_group(group, GroupStatus.PACKED)

    def record_shipment(self, group: ShipmentGroup, shipment: Shipment, *, now: datetime) -> bool:
        """A shipment left: its units come off stock, the customer is told, the order moves on. True when an
        order on on-fulfillment terms became due with it (its overdue check is to be scheduled)."""
        if shipment.short_lines:
            self.record_short_pick(group, shipment.short_lines, now=now)
        if group.shipped_at is not None:
            return False  # recorded already: a second copy changes nothing and sends nothing
        group.shipped_at = group.stock_committed_at = now
        group.carrier, group.tracking_number = shipment.carrier, shipment.tracking_number
        group.shipped_lines = [line.model_dump() for line in shipment.lines]
        became_due = (
            self.payment_terms == "on_fulfillment"
            and self.payment_due_date is None
            and self.payment_status == "awaiting_payment"
        )
        if became_due:
            self.payment_due_date = now.date()
            self.record("payment_due", due_date=now.date().isoformat())
        self.record(
            "shipped",
            fulfillment_id=group.fulfillment_id,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
        )
        # Units short at the pick are not on the shelf: recorded before the shipment, they leave stock with it.
        short = [LocatedLine.model_validate(line) for line in group.short_lines]
        self.send(
            catalog_contracts.CommitStock(
                order_id=self.id, lines=shipment.lines + short, shipment_id=group.id
            )
        )
        self.send(
            contracts.OrderShipped(
                order_id=self.id,
                customer=self.customer,
                fulfillment_id=group.fulfillment_id,
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
            )
        )
        self.move_group(group, GroupStatus.SHIPPED)
        self.deliver_if_shipped(group)
        self.settle_shipments()
        return became_due

    def record_delivery(self, group: ShipmentGroup, *, now: datetime) -> None:
        if group.delivered_at is None:
            group.delivered_at = now
        self.deliver_if_shipped(group)

    def deliver_if_shipped(self, group: ShipmentGroup) -> None:
        """A group is delivered once both its shipment and its delivery are recorded; the step that completes
        the pair tells the customer."""
        if group.shipped_at is None or group.delivered_at is None:
            return
        if not self.move_group(group, GroupStatus.DELIVERED):
            return
        self.record("delivered", fulfillment_id=group.fulfillment_id)
        self.send(
            contracts.OrderDelivered(
                order_id=self.id, customer=self.customer, fulfillment_id=group.fulfillment_id
            )
        )
        self.settle_shipments()

    def record_short_pick(
        self, group: ShipmentGroup, short_lines: list[LocatedLine], *, now: datetime
    ) -> None:
        """The warehouse picked fewer units than asked: what was picked ships, the rest is refunded now and
        taken off stock with the shipment (at once when the shipment was recorded first, or when nothing at
        all could be picked)."""
        if group.short_picked_at is not None:
            return  # told again: recorded already
        group.short_picked_at = now
        short = Counter[str]()
        for line in short_lines:
            short[line.sku] += line.quantity
        remaining = []
        for packed in group.lines:
            left = int(packed["quantity"]) - short[packed["sku"]]
            if left > 0:
                remaining.append({**packed, "quantity": left})
        group.lines = remaining
        group.short_lines = [line.model_dump() for line in short_lines]
        if not remaining:
            self.move_group(group, GroupStatus.CANCELLED)
        value = 0
        for sku, units in short.items():
            ordered = self.line(sku)
            value += units * ordered.unit_price
            ordered.quantity_refunded += units
        refund = value - discount_share(discount=self.discount, subtotal=self.subtotal, part=value)
        nothing_ships = self.units_left_to_ship() == 0 and not any(g.shipped_at for g in self.groups)
        if nothing_ships:
            refund += self.shipping
        refund += tax_share(
            tax=self.tax_added, taxable=self.subtotal - self.discount + self.shipping, part=refund
        )
        self.record(
            "short_pick",
            fulfillment_id=group.fulfillment_id,
            short_lines=[line.model_dump() for line in short_lines],
            refund=refund,
        )
        self.request_refund(refund, key=f"short:{group.fulfillment_id}", reason="short_pick")
        if not remaining or group.shipped_at is not None:
            # Nothing will ship from this group, or its shipment left before the short pick was recorded: the
            # missing units come off stock now.
            self.send(
                catalog_contracts.CommitStock(
                    order_id=self.id, lines=short_lines, shipment_id=f"{group.id}:short"
                )
            )
        if nothing_ships and can_move(self.status, OrderStatus.CANCELLED):
            self.move_to(OrderStatus.CANCELLED, reason="short_pick")
            self.send(
                contracts.OrderCancelled(
                    order_id=self.id,
                    customer=self.customer,
                    reason="short_pick",
                    refund=refund,
                    currency=self.currency,
                )
            )
        else:
            self.move_on_if_all_left()

    def units_gone(self) -> tuple[int, int]:
        """Units shipped (not yet delivered) and units delivered."""
        shipped = delivered = 0
        for group in self.groups_in(GroupStatus.SHIPPED, GroupStatus.DELIVERED):
            units = sum(int(line["quantity"]) for line in group.lines)
            if group.status is GroupStatus.DELIVERED:
                delivered += units
            else:
                shipped += units
        return shipped, delivered

    def units_to_ship(self) -> int:
        """Units ordered that ship (a draft's custom line, a service or a fee, ships nothing), less refunded."""
        return sum(line.quantity - line.quantity_refunded for line in self.lines if line.kind != "custom")

    def units_left_to_ship(self) -> int:
        """Units of the order neither shipped, delivered nor refunded."""
        shipped, delivered = self.units_gone()
        return sum(line.quantity - line.quantity_refunded for line in self.lines) - shipped - delivered

    def settle_shipments(self) -> None:
        """Move the order's status on from what its groups' shipments say (never back)."""
        shipped, delivered = self.units_gone()
        total = self.units_to_ship()
        target = status_after_shipments(
            self.status,
            shipped=shipped,
            delivered=delivered,
            total=total,
            any_refunded=shipped + delivered == total and any(line.quantity_refunded for line in self.lines),
        )
        if target is not None:
            self.move_to(target)

    def move_on_if_all_left(self) -> None:
        """After part of an order was cancelled or short, it is partially fulfilled once the rest shipped."""
        if self.units_left_to_ship() == 0 and can_move(self.status, OrderStatus.PARTIALLY_FULFILLED):
            self.move_to(OrderStatus.PARTIALLY_FULFILLED)

    def request_refund(self, amount: int, *, key: str, reason: str) -> None:
        """Ask payments for a refund (never more than captured and not yet refunded) and count it asked."""
        amount = min(amount, self.captured - self.refund_requested)
        if amount <= 0:
            return
        self.refund_requested += amount
        self.send(
            payment_contracts.IssueRefund(
                order_id=self.id, amount=amount, currency=self.currency, reason=reason, idempotency_key=key
            )
        )


ORDER_COLUMNS = frozenset(f.name for f in dataclasses.fields(Order)) - {
    "lines",
    "groups",
    "timeline",
    "messages",
}
Order.fields = ORDER_COLUMNS
