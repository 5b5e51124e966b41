"""The parts of an order, free of I/O: its lines and shipment groups, the policy a pre-order line was sold
under, and the change tracking every part shares (see ``core.order``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from shop_contracts import orders as contracts
from shop_contracts.money import Money
from shop_contracts.values import PreorderPolicy, PricedLine
from shop_orders.core.domain import CatalogVariant, GroupStatus
from shop_runtime.preorder_pricing import balance_due_at


def policy_of(line: OrderLine, current: CatalogVariant | None = None) -> PreorderPolicy:
    """The policy a pre-order line was sold under: as priced at checkout, else the variant's policy now
    (orders had not heard of it when the order was placed), else pay now in full."""
    if line.preorder_policy:
        return PreorderPolicy.model_validate(line.preorder_policy)
    if current is not None and current.preorder_policy is not None:
        return current.preorder_policy
    return PreorderPolicy(payment_mode="pay_now")


def paid_in_full(policy: PreorderPolicy) -> PreorderPolicy:
    """The policy of a place paid in full before it was placed (a subscription's cycle): its dates and window as
    sold, but all of it paid now, so nothing is left to charge later or to keep as a deposit."""
    return policy.model_copy(
        update={
            "payment_mode": "pay_now",
            "deposit_percent": None,
            "deposit_amounts": {},
            "balance_due": "on_ready",
            "balance_due_at": None,
            "balance_due_after_hours": None,
        }
    )


def sku_of(group: ShipmentGroup) -> str:
    """The SKU of a pre-order group (each holds units of one line)."""
    return str(group.lines[0]["sku"])


def preorder_summary(line: OrderLine, ordered_at: datetime) -> contracts.PreorderSummary:
    policy = policy_of(line)
    due = balance_due_at(policy, ordered_at)
    return contracts.PreorderSummary(
        sku=line.sku,
        title=line.title,
        quantity=line.quantity,
        payment_mode=policy.payment_mode,
        paid_now=line.paid_now,
        balance=line.balance,
        balance_due=due.isoformat() if due else "on_ready",
        expected_ship_date=line.expected_ship_date,
        queue_position=line.queue_position,
    )


def priced_line(sku: str, title: str, quantity: int, unit_price: Money) -> PricedLine:
    """A line as orders' events carry it."""
    return PricedLine(
        sku=sku,
        title=title,
        quantity=quantity,
        unit_price=unit_price,
        line_total=unit_price * quantity,
    )


class Tracked:
    """Remembers which fields were assigned after construction, so the repository writes only those."""

    fields: ClassVar[frozenset[str]] = frozenset()
    """The fields that are columns: assigning one marks it changed."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_changed", set())

    def __setattr__(self, name: str, value: Any) -> None:
        changed: set[str] | None = self.__dict__.get("_changed")
        if changed is not None and name in self.fields:
            changed.add(name)
        object.__setattr__(self, name, value)

    @property
    def changed(self) -> dict[str, Any]:
        """The fields assigned since the entity was loaded or last saved, with their values now."""
        return {name: getattr(self, name) for name in sorted(self.__dict__["_changed"])}

    def mark_saved(self) -> None:
        self.__dict__["_changed"].clear()


@dataclass(eq=False)
class OrderLine(Tracked):
    """One line of an order: what was bought, at what price, and (for a pre-order) its place and balance. Its
    money is in the order's currency."""

    order_id: str
    position: int
    sku: str
    title: str
    quantity: int
    unit_price: Money
    line_total: Money
    paid_now: Money
    """What checkout charged for the line (for a pre-order, its deposit; nothing when paid later)."""
    balance: Money
    """What the line leaves to be charged later."""
    balance_assigned: Money
    """The part of ``balance`` already handed to shipment groups to charge."""
    percent_off: int = 0
    preorder_policy: dict[str, Any] | None = None
    kind: str = "in_stock"
    queue_position: int | None = None
    expected_ship_date: date | None = None
    units_allocated: int = 0
    quantity_refunded: int = 0
    promised_ship_date: date | None = None
    consent_awaited: bool = False
    date_changed_at: datetime | None = None
    eta_version: int | None = None
    balance_reminded_at: datetime | None = None


@dataclass(eq=False)
class ShipmentGroup(Tracked):
    """Units of an order that travel together: in-stock units at one location, or one pre-order allocation."""

    id: str
    order_id: str
    kind: str
    location: str
    status: GroupStatus
    lines: list[dict[str, Any]]
    balance_amount: Money
    """What is charged before the group ships (zero when nothing is)."""
    expected_ship_date: date | None = None
    fulfillment_id: str | None = None
    balance_failures: int = 0
    first_failed_at: datetime | None = None
    short_lines: list[dict[str, Any]] = field(default_factory=list)
    picked_at: datetime | None = None
    packed_at: datetime | None = None
    short_picked_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    stock_committed_at: datetime | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    shipped_lines: list[dict[str, Any]] | None = None
    balance_due_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    new: bool = False
    """Not stored yet: saving inserts it."""


def money_fields(entity: type) -> frozenset[str]:
    """The fields of ``entity`` that hold money: their columns hold the amount in the order's currency."""
    return frozenset(
        field.name for field in dataclasses.fields(entity) if str(field.type).startswith("Money")
    )


LINE_COLUMNS = frozenset(f.name for f in dataclasses.fields(OrderLine))
GROUP_COLUMNS = frozenset(f.name for f in dataclasses.fields(ShipmentGroup)) - {"new"}
LINE_MONEY = money_fields(OrderLine)
GROUP_MONEY = money_fields(ShipmentGroup)
OrderLine.fields = LINE_COLUMNS
ShipmentGroup.fields = GROUP_COLUMNS
