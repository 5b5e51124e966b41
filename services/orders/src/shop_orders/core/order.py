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
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import Address, Customer, LocatedLine, PreorderLine, RequestedLine
from shop_orders.core.domain import (
    CatalogVariant,
    GroupStatus,
    OrderStatus,
    bank_transfer_reference,
    can_move,
    promised_ship_date,
)
from shop_orders.core.parts import (
    OrderLine,
    money_fields,
    paid_in_full,
    policy_of,
    preorder_summary,
    priced_line,
)
from shop_orders.core.pricing import OrderTax, PlanLine, PricedCheckout, order_tax, plan_checkout_charge
from shop_orders.core.promises import PromiseSteps
from shop_orders.core.state import OrderState


class Order(PromiseSteps):
    """An order, the aggregate: ``OrderState`` with every step. This module holds checkout's and the payment's
    steps; the warehouse's reports, pre-order balances and promised dates are in the classes it builds on."""

    @classmethod
    def place(
        cls,
        order_id: str,
        *,
        priced: PricedCheckout,
        customer: Customer,
        shipping_address: dict[str, Any],
        shipping_method: str,
        payment_token: str,
        idempotency_key: str,
        request_fingerprint: str,
        customer_id: str | None,
        discount: Money,
        discount_code: str | None,
        tax: OrderTax,
        only_at_one_of: list[str] | None,
        now: datetime,
        customer_segments: tuple[str, ...] = (),
        subscription_id: str | None = None,
        claim_hold: bool = False,
    ) -> Order:
        """A new order, pending, priced from orders' view of the catalog: it asks catalog for the stock. A
        subscription's cycle (``subscription_id``) was charged before: it is placed as captured in full.
        ``claim_hold``: catalog held the lines at checkout and the caller records that answer (``hold_stock``):
        catalog is asked only to claim the hold, answering only if it cannot."""
        currency = priced.currency
        subtotal, shipping = Money(priced.subtotal, currency), Money(priced.shipping, currency)
        tax_added = tax.amount if tax.added_on_top else Money.zero(currency)
        total = subtotal + shipping - discount + tax_added
        order = cls(
            id=order_id,
            status=OrderStatus.PENDING,
            email=customer.email,
            locale=customer.locale,
            currency=currency,
            subtotal=subtotal,
            shipping=shipping,
            total=total,
            shipping_address=shipping_address,
            shipping_method=shipping_method,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            created_at=now,
            updated_at=now,
            payment_token=payment_token,
            discount=discount,
            discount_code=discount_code,
            tax_rate=tax.rate,
            tax_added_on_top=tax.added_on_top,
            tax_added=tax_added,
            customer_id=customer_id,
            subscription_id=subscription_id,
            captured=total if subscription_id is not None else Money.zero(currency),
            refund_requested=Money.zero(currency),
            lines=[
                OrderLine(
                    order_id=order_id,
                    position=position,
                    sku=line.sku,
                    title=line.title,
                    quantity=line.quantity,
                    unit_price=Money(line.unit_price, currency),
                    line_total=Money(line.line_total, currency),
                    paid_now=Money.zero(currency),
                    balance=Money.zero(currency),
                    balance_assigned=Money.zero(currency),
                    percent_off=line.percent_off,
                    preorder_policy=line.preorder_policy.model_dump(mode="json")
                    if line.preorder_policy
                    else None,
                )
                for position, line in enumerate(priced.lines)
            ],
        )
        order.record("placed", total=total.amount, currency=currency)
        order.send(
            contracts.OrderPlaced(
                order_id=order_id,
                customer=customer,
                lines=[
                    priced_line(line.sku, line.title, line.quantity, Money(line.unit_price, currency))
                    for line in priced.lines
                ],
                total=total,
            )
        )
        order.send(
            catalog_contracts.ReserveStock(
                order_id=order_id,
                lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in priced.lines],
                customer_email=customer.email,
                customer_segments=list(customer_segments),
                only_at_one_of=only_at_one_of,
                claim_hold=claim_hold,
            )
        )
        return order

    def confirm_payment(self, *, payment_id: str, amount: Money, held: bool = False) -> bool:
        """Checkout's payment was captured, or authorised as a card hold (``held``): the order is confirmed.
        False when it was not waiting for it."""
        if not can_move(self.status, OrderStatus.CONFIRMED):
            return False
        captured = self.in_its_currency(amount)
        self.move_to(OrderStatus.CONFIRMED)
        self.payment_token = None
        self.captured = captured
        self.payment_held = held
        self.record("payment_captured", payment_id=payment_id, amount=amount.amount, held=held)
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
        sold_under = {
            line.sku: policy_of(line, current.get(line.sku)) for line in self.lines if line.sku in waiting
        }
        if self.subscription_id is not None:
            # The cycle's charge paid everything: a place in the drop with no balance and no deposit to keep.
            sold_under = {sku: paid_in_full(policy) for sku, policy in sold_under.items()}
        plan = plan_checkout_charge(
            [
                PlanLine(
                    sku=line.sku,
                    quantity=line.quantity,
                    line_total=line.line_total.amount,
                    preorder_policy=sold_under.get(line.sku),
                )
                for line in self.lines
            ],
            shipping=self.shipping.amount,
            currency=self.currency,
        )
        promises: list[tuple[str, date]] = []
        for line in self.lines:
            line.paid_now = Money(plan.paid_now[line.sku], self.currency)
            line.balance = Money(plan.balance[line.sku], self.currency)
            place = waiting.get(line.sku)
            if place is not None:
                line.kind = "preorder"
                line.preorder_policy = sold_under[line.sku].model_dump(mode="json")
                line.queue_position = place.queue_position
                line.expected_ship_date = place.expected_ship_date
                line.promised_ship_date = promised_ship_date(sold_under[line.sku], self.created_at)
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
        charged_now = Money(plan.charged_now, self.currency)
        discount = min(self.discount, charged_now)
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
        self.charged_now = charged_now - discount + tax_added
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
        if self.subscription_id is not None:
            self.confirm_prepaid()
            return promises
        self.send(
            payment_contracts.CapturePayment(
                order_id=self.id,
                step="full",
                amount=self.charged_now,
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
            lines=[priced_line(line.sku, line.title, line.quantity, line.unit_price) for line in self.lines],
            subtotal=self.subtotal,
            shipping=self.shipping,
            total=self.total,
            shipping_address=Address.model_validate(self.shipping_address),
            # On payment terms nothing is charged now: the email says so instead of thanking for a payment.
            charged_now=self.zero()
            if self.payment_terms is not None
            else self.charged_now
            if preorder_lines
            else None,
            preorder_lines=[preorder_summary(line, self.created_at) for line in preorder_lines],
        )

    def confirm_on_terms(self) -> None:
        """Stock is held for an order on payment terms: confirm it and send its units to fulfillment unpaid."""
        self.move_to(OrderStatus.CONFIRMED)
        self.payment_token = None
        self.record(
            "confirmed",
            payment_terms=self.payment_terms,
            payment_due=self.payment_due_amount.amount if self.payment_due_amount is not None else None,
            payment_due_date=self.payment_due_date.isoformat() if self.payment_due_date else None,
        )
        self.send(self.confirmation())
        for group in self.groups_in(GroupStatus.RESERVED, GroupStatus.AWAITING_CONFIRMATION):
            self.advance(group)

    def confirm_prepaid(self) -> None:
        """Stock is held for a subscription's cycle, charged before it was placed: confirm it and send its units
        to fulfillment."""
        self.move_to(OrderStatus.CONFIRMED)
        self.payment_token = None
        self.charged_now = self.captured
        self.record("confirmed", subscription_id=self.subscription_id, paid_before=self.captured.amount)
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


ORDER_COLUMNS = frozenset(f.name for f in dataclasses.fields(OrderState)) - {
    "lines",
    "groups",
    "timeline",
    "messages",
}
ORDER_MONEY = money_fields(OrderState)
OrderState.fields = ORDER_COLUMNS
