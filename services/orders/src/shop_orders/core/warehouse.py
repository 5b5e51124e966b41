"""The order's steps on the warehouse's reports (created, picked, short, packed, shipped, delivered): facts
recorded once, in whatever order they arrive, with the refunds and status moves they lead to. A part of
``Order``: the methods act on the whole order."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts.fulfillment import Shipment
from shop_contracts.values import LocatedLine
from shop_orders.core.domain import GroupStatus, OrderStatus, can_move, group_may_move, status_after_shipments
from shop_orders.core.parts import ShipmentGroup
from shop_orders.core.pricing import discount_share, tax_share
from shop_orders.core.state import OrderState


class WarehouseSteps(OrderState):
    """The order's steps on the warehouse's reports."""

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
        value = self.zero()
        for sku, units in short.items():
            ordered = self.line(sku)
            value += ordered.unit_price * units
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
            refund=refund.amount,
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
                    held=self.payment_held,
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
