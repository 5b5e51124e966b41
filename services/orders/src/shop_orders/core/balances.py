"""The order's steps on pre-order balances: a group charged by the clock, reminded of, paid, declined and held
for dunning, tried again; and units catalog allocated to a pre-order line. A part of ``Order``: the methods act
on the whole order; when a job is to run later, they say when and the handler schedules it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from shop_contracts import orders as contracts
from shop_contracts.money import Money
from shop_contracts.values import LocatedLine
from shop_orders.core.domain import UNALLOCATED, GroupStatus
from shop_orders.core.parts import OrderLine, ShipmentGroup, policy_of, sku_of
from shop_orders.core.pricing import balance_for_units
from shop_orders.core.warehouse import WarehouseSteps
from shop_runtime.preorder_pricing import balance_due_at


@dataclass(frozen=True)
class Dunning:
    """When a held balance is tried again (None: not before the dunning period ends) and when it gives up."""

    retry_at: datetime | None
    give_up_at: datetime
    failures: int


class BalanceSteps(WarehouseSteps):
    """The order's steps on pre-order balances and allocations."""

    def record_balance_paid(self, group: ShipmentGroup, *, payment_id: str, amount: Money) -> None:
        """A group's balance is paid: it may ship (or waits for its units, when the clock charged it before
        they arrived), and so may the units of its line allocated ahead of the payment."""
        self.captured += amount
        self.record("balance_charged", group_id=group.id, payment_id=payment_id, amount=amount.amount)
        self.send(
            contracts.OrderBalanceCharged(
                order_id=self.id,
                customer=self.customer,
                group_id=group.id,
                amount=amount,
                expected_ship_date=group.expected_ship_date,
            )
        )
        if group.location == UNALLOCATED:  # charged by the clock before its units arrived
            group.status = GroupStatus.PAID_AWAITING_STOCK
        else:
            self.release(group)
        for waiting in self.groups_in(GroupStatus.AWAITING_LINE_BALANCE):
            if sku_of(waiting) == sku_of(group):
                self.release(waiting)

    def hold_unpaid(
        self,
        group: ShipmentGroup,
        *,
        decline_code: str,
        message: str,
        requires_action: bool,
        now: datetime,
        retry_after: timedelta,
        dunning_period: timedelta,
    ) -> Dunning:
        """A group's balance could not be charged: hold it and tell the customer how to fix it."""
        group.status = GroupStatus.BALANCE_FAILED
        group.balance_failures += 1
        group.first_failed_at = group.first_failed_at or now
        give_up_at = group.first_failed_at + dunning_period
        retry_at = now + retry_after if now + retry_after < give_up_at else None
        self.record(
            "balance_failed",
            group_id=group.id,
            decline_code=decline_code,
            message=message,
            requires_action=requires_action,
        )
        self.send(
            contracts.OrderBalanceChargeFailed(
                order_id=self.id,
                customer=self.customer,
                group_id=group.id,
                amount=group.balance_amount,
                reason=decline_code,
                requires_action=requires_action,
                retry_at=retry_at,
            )
        )
        return Dunning(retry_at=retry_at, give_up_at=give_up_at, failures=group.balance_failures)

    def charge_balance(self, group: ShipmentGroup, event: str, **detail: str) -> None:
        """Charge a group's balance now (``event`` says why: due by the clock, or tried again)."""
        self.record(event, group_id=group.id, **detail)
        self.advance(group)

    def remind_of_balance(
        self,
        *,
        sku: str,
        group_id: str | None,
        amount: Money,
        charge_at: datetime,
        now: datetime,
        when_ready: bool = False,
    ) -> None:
        """Tell the customer a balance will be charged at ``charge_at``: what, when, where to change the card."""
        self.line(sku).balance_reminded_at = now
        self.record(
            "balance_reminder_sent",
            group_id=group_id,
            sku=sku,
            amount=amount.amount,
            charge_at=charge_at.isoformat(),
            when_ready=when_ready,
        )
        self.send(
            contracts.OrderBalanceReminder(
                order_id=self.id,
                customer=self.customer,
                group_id=group_id,
                sku=sku,
                amount=amount,
                charge_at=charge_at,
                when_ready=when_ready,
            )
        )

    def charge_later(self, group: ShipmentGroup, *, charge_at: datetime, now: datetime) -> None:
        """Units are ready but the customer was not reminded long enough ago: remind now, charge at
        ``charge_at`` (the handler schedules it)."""
        group.status = GroupStatus.BALANCE_SCHEDULED
        group.balance_due_at = charge_at
        sku = sku_of(group)
        self.record(
            "balance_scheduled",
            group_id=group.id,
            sku=sku,
            amount=group.balance_amount.amount,
            charge_at=charge_at.isoformat(),
        )
        self.remind_of_balance(
            sku=sku, group_id=group.id, amount=group.balance_amount, charge_at=charge_at, now=now
        )

    def balance_due_by_the_clock(self, line: OrderLine) -> ShipmentGroup | None:
        """A pre-order line whose balance is due at a time (policy 'at' or 'after') becomes a group of its own,
        not yet allocated anywhere: its balance is charged then whether or not the units arrived. None when
        the line's balance is due when the goods are ready, or nothing of it is left to assign."""
        charge_at = balance_due_at(policy_of(line), self.created_at)
        units = line.quantity - line.units_allocated
        amount = line.balance - line.balance_assigned
        if charge_at is None or units <= 0 or amount <= self.zero():
            return None
        group = self.add_group(
            _new_id(),
            kind="preorder",
            location=UNALLOCATED,
            lines=[LocatedLine(sku=line.sku, quantity=units, location=UNALLOCATED)],
            status=GroupStatus.BALANCE_SCHEDULED,
            balance_amount=amount + self._take_deferred_shipping(),  # pay later: shipping goes with the first
            expected_ship_date=line.expected_ship_date,
            balance_due_at=charge_at,
        )
        line.balance_assigned = line.balance
        self.record(
            "balance_scheduled",
            group_id=group.id,
            sku=line.sku,
            amount=group.balance_amount.amount,
            charge_at=charge_at.isoformat(),
        )
        return group

    def allocate(
        self, line: OrderLine, *, allocation_id: str, location: str, quantity: int
    ) -> ShipmentGroup | None:
        """Catalog allocated received units to a pre-order line. Units of a line whose balance the clock
        charges take its group (the last of them) or a group of their own owing nothing, shipped once the
        line is paid (at once if it is); otherwise they become a group owing its share of the balance, which
        is returned (to be charged before it ships)."""
        units = min(quantity, line.quantity - line.units_allocated)
        scheduled = next(
            (
                group
                for group in self.groups
                if group.location == UNALLOCATED
                and group.status is not GroupStatus.CANCELLED
                and sku_of(group) == line.sku
            ),
            None,
        )
        self.record(
            "preorder_allocated",
            group_id=allocation_id,
            sku=line.sku,
            quantity=units,
            location=location,
        )
        placed = LocatedLine(sku=line.sku, quantity=units, location=location)
        if scheduled is not None and units > 0:
            line.units_allocated += units
            paid = scheduled.status is GroupStatus.PAID_AWAITING_STOCK
            waiting = int(scheduled.lines[0]["quantity"])
            if units >= waiting:
                scheduled.location = location
                scheduled.lines = [placed.model_dump()]
                allocated = scheduled
            else:
                left = LocatedLine(sku=line.sku, quantity=waiting - units, location=UNALLOCATED)
                scheduled.lines = [left.model_dump()]
                allocated = self.add_group(
                    allocation_id,
                    kind="preorder",
                    location=location,
                    lines=[placed],
                    status=GroupStatus.AWAITING_LINE_BALANCE,
                    expected_ship_date=line.expected_ship_date,
                )
            if paid:
                self.release(allocated)
            return None
        share = balance_for_units(
            balance_left=line.balance - line.balance_assigned,
            units_left=line.quantity - line.units_allocated,
            units=units,
        )
        line.units_allocated += units
        line.balance_assigned += share  # the line's balance only: the parts add up to it
        return self.add_group(
            allocation_id,
            kind="preorder",
            location=location,
            lines=[placed],
            status=GroupStatus.AWAITING_CONFIRMATION,
            # Pay later: shipping is charged with the first balance, on top of the line's share.
            balance_amount=share + self._take_deferred_shipping(),
            expected_ship_date=line.expected_ship_date,
        )

    def _take_deferred_shipping(self) -> Money:
        """Shipping not charged at checkout (a pay-later pre-order), once: it goes with the first balance."""
        if not self.shipping_deferred:
            return self.zero()
        self.shipping_deferred = False
        return self.shipping


def _new_id() -> str:
    return str(uuid.uuid4())
