"""Orders' use cases and the saga steps: each is one async function in one unit of work that commits it.

An order's units travel in shipment groups: the in-stock units at each location form one group when stock
is reserved; every allocation of received stock to a waiting pre-order forms a group of its own, whose
balance (if any) is charged before it is released to fulfillment. A pre-order line whose balance is due at
a time gets its group when the order is confirmed, before its units have a location: the schedule charges
it then, and its units join it (and ship) when stock is allocated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.values import (
    Address,
    Customer,
    LocatedLine,
    PreorderLine,
    PreorderPolicy,
    PricedLine,
    RequestedLine,
)
from shop_orders import repository
from shop_orders.domain import (
    ACCEPTED,
    SAME_DAY,
    UNALLOCATED,
    CatalogVariant,
    CheckoutLine,
    GroupStatus,
    IdempotencyKeyReused,
    OrderNotOnTerms,
    OrderStatus,
    PlanLine,
    SameDayArea,
    TaxTable,
    balance_for_units,
    can_move,
    charge_time_on_allocation,
    checkout_fingerprint,
    discount_for,
    order_tax,
    plan_checkout_charge,
    price_checkout,
    promise_check_due,
    promised_ship_date,
    reminder_time,
    same_day_locations,
)
from shop_orders.draft_pricing import bank_transfer_reference, draft_token
from shop_orders.tables import (
    cancellations,
    discount_codes,
    draft_orders,
    order_lines,
    orders,
    refund_outcomes,
    scheduled_jobs,
    shipment_groups,
)
from shop_runtime import scheduling
from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter
from shop_runtime.preorder_pricing import balance_due_at

# Business counters, counted once the unit of work committed (the order-flow dashboard reads them).
ORDERS_PLACED = business_counter("shop_orders_placed", "Orders placed at checkout", ["currency"])
ORDERS_CONFIRMED = business_counter(
    "shop_orders_confirmed", "Orders whose checkout payment went through", ["currency"]
)
ORDERS_REJECTED = business_counter("shop_orders_rejected", "Orders rejected", ["reason"])
ORDERS_CANCELLED = business_counter("shop_orders_cancelled", "Orders cancelled", ["reason"])
CHARGED_AT_CHECKOUT = business_counter(
    "shop_orders_charged_at_checkout_minor_units", "Money taken at checkout, in minor units", ["currency"]
)
PAYMENT_OVERDUE = "order_payment_overdue"
PREORDER_UNITS = business_counter("shop_preorder_units", "Units accepted as pre-orders (in confirmed orders)")


@dataclass(frozen=True)
class Checkout:
    """A storefront's checkout request, as orders needs it."""

    idempotency_key: str
    email: str
    locale: str
    currency: str
    lines: list[CheckoutLine]
    shipping_address: dict[str, Any]
    shipping_method: str
    payment_token: str
    request: dict[str, Any]
    """The request body as received, to recognise a retry of the same checkout."""
    discount_code: str | None = None
    customer_id: str | None = None
    """The signed-in customer's account; None for a guest."""
    stock_at_locations: dict[str, dict[str, int]] | None = None
    """Available units by location and SKU as catalog showed them at checkout (for same-day delivery)."""


@dataclass(frozen=True)
class PlacedOrder:
    order_id: str
    status: str
    created: bool


async def upsert_catalog_variant(
    uow: UnitOfWork,
    *,
    sku: str,
    product_id: str,
    variant_id: str,
    title: str,
    options: dict[str, str],
    prices: dict[str, int],
    version: int,
) -> None:
    await repository.upsert_variant(
        uow.session,
        {
            "sku": sku,
            "product_id": product_id,
            "variant_id": variant_id,
            "title": title,
            "options": options,
            "prices": prices,
            "version": version,
        },
    )
    await uow.commit()


async def record_availability(
    uow: UnitOfWork,
    *,
    sku: str,
    in_stock_units: int,
    preorder_units_left: int | None,
    policy_version: int | None,
    version: int,
) -> None:
    """Keep what catalog says a SKU can still sell, so checkout refuses at once what it rules out."""
    await repository.upsert_availability(
        uow.session,
        {
            "sku": sku,
            "in_stock_units": in_stock_units,
            "preorder_units_left": preorder_units_left,
            "policy_version": policy_version,
            "version": version,
        },
    )
    await uow.commit()


async def upsert_preorder_policy(
    uow: UnitOfWork, *, sku: str, policy: PreorderPolicy | None, version: int
) -> None:
    await repository.upsert_preorder_policy(
        uow.session, sku, policy.model_dump(mode="json") if policy else None, version
    )
    await uow.commit()


async def place_order(
    uow: UnitOfWork,
    *,
    checkout: Checkout,
    shipping_rates: dict[str, dict[str, int]],
    now: datetime,
    free_shipping_over: dict[str, int] | None = None,
    taxes: TaxTable | None = None,
    same_day_areas: dict[str, list[SameDayArea]] | None = None,
) -> PlacedOrder:
    """Store a pending order priced from orders' own view of the catalog, then ask catalog for stock.

    Needs no other service to be up: the saga continues from the outbox when they are.
    """
    fingerprint = checkout_fingerprint(checkout.request)
    existing = await repository.order_by_idempotency_key(uow.session, checkout.idempotency_key)
    if existing is not None:
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different checkout; use a new key for a new order",
                field="header:Idempotency-Key",
            )
        return PlacedOrder(order_id=existing.id, status=existing.status, created=False)
    variants = await repository.variants_by_sku(uow.session, [line.sku for line in checkout.lines])
    priced = price_checkout(
        currency=checkout.currency,
        lines=checkout.lines,
        variants=variants,
        shipping_method=checkout.shipping_method,
        shipping_rates=shipping_rates,
        now=now,
        free_shipping_over=free_shipping_over,
    )
    same_day_from = None
    if checkout.shipping_method == SAME_DAY:
        same_day_from = same_day_locations(
            address=checkout.shipping_address,
            lines=checkout.lines,
            areas=same_day_areas or {},
            preorder_skus={sku for sku, variant in variants.items() if variant.preorder_policy is not None},
            stock=checkout.stock_at_locations,
        )
    order_id = str(uuid.uuid4())
    discount = 0
    if checkout.discount_code is not None:
        percent_off = await repository.redeem_discount_code(
            uow.session, code=checkout.discount_code, order_id=order_id, now=now
        )
        discount = discount_for(subtotal=priced.subtotal, percent_off=percent_off)
    tax = order_tax(
        address=checkout.shipping_address,
        rates=taxes.rates if taxes else {},
        added_on_top_countries=taxes.added_on_top_countries if taxes else frozenset(),
        subtotal=priced.subtotal,
        discount=discount,
        shipping=priced.shipping,
    )
    tax_added = tax.amount if tax.added_on_top else 0
    total = priced.total - discount + tax_added
    await uow.session.execute(
        sa.insert(orders).values(
            id=order_id,
            status=OrderStatus.PENDING.value,
            email=checkout.email,
            locale=checkout.locale,
            currency=checkout.currency,
            subtotal=priced.subtotal,
            shipping=priced.shipping,
            total=total,
            discount=discount,
            discount_code=checkout.discount_code,
            tax_rate=tax.rate,
            tax_added_on_top=tax.added_on_top,
            tax_added=tax_added,
            shipping_address=checkout.shipping_address,
            shipping_method=checkout.shipping_method,
            payment_token=checkout.payment_token,
            idempotency_key=checkout.idempotency_key,
            request_fingerprint=fingerprint,
            customer_id=checkout.customer_id,
            created_at=now,
        )
    )
    await uow.session.execute(
        sa.insert(order_lines),
        [
            {
                "order_id": order_id,
                "position": position,
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "line_total": line.line_total,
                "percent_off": line.percent_off,
                "preorder_policy": line.preorder_policy.model_dump(mode="json")
                if line.preorder_policy
                else None,
            }
            for position, line in enumerate(priced.lines)
        ],
    )
    await repository.add_to_timeline(uow.session, order_id, "placed", total=total, currency=priced.currency)
    uow.publish(
        contracts.OrderPlaced(
            order_id=order_id,
            customer=Customer(email=checkout.email, locale=checkout.locale),
            currency=priced.currency,
            lines=[
                _priced_line(line.sku, line.title, line.quantity, line.unit_price) for line in priced.lines
            ],
            total=total,
        ),
        subject=order_id,
        correlation_id=order_id,
    )
    uow.publish(
        catalog_contracts.ReserveStock(
            order_id=order_id,
            lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in checkout.lines],
            customer_email=checkout.email,
            only_at_one_of=same_day_from,
        ),
        subject=order_id,
        correlation_id=order_id,
    )
    uow.after_commit(ORDERS_PLACED.labels(priced.currency).inc)
    await uow.commit()
    return PlacedOrder(order_id=order_id, status=OrderStatus.PENDING.value, created=True)


async def take_payment_for_reserved_stock(
    uow: UnitOfWork, *, order_id: str, lines: list[LocatedLine], preorder_lines: list[PreorderLine]
) -> None:
    """Stock is held and pre-orders have their places: charge what is due now and save the card for later."""
    order = await repository.lock_order(uow.session, order_id)
    if OrderStatus(order.status) is OrderStatus.CANCELLED:
        # Cancelled before catalog answered: the reservation that landed after the cancel goes back.
        await repository.add_to_timeline(uow.session, order_id, "late_reservation_released")
        uow.publish(
            catalog_contracts.ReleaseStock(order_id=order_id, reason=order.status_reason or "cancelled"),
            subject=order_id,
        )
        await uow.commit()
        return
    if not can_move(OrderStatus(order.status), OrderStatus.RESERVED):
        return
    stored = {line.sku: line for line in await repository.lines_of(uow.session, order_id)}
    waiting = {line.sku: line for line in preorder_lines}
    current = await repository.variants_by_sku(uow.session, list(waiting)) if waiting else {}
    plan = plan_checkout_charge(
        [
            PlanLine(
                sku=sku,
                quantity=line.quantity,
                line_total=line.line_total,
                preorder_policy=_policy_of(line, current.get(sku)) if sku in waiting else None,
            )
            for sku, line in stored.items()
        ],
        shipping=order.shipping,
        currency=order.currency,
    )
    for sku in stored:
        values: dict[str, Any] = {"paid_now": plan.paid_now[sku], "balance": plan.balance[sku]}
        if sku in waiting:
            sold_under = _policy_of(stored[sku], current.get(sku))
            promised = promised_ship_date(sold_under, order.created_at)
            values |= {
                "kind": "preorder",
                "preorder_policy": sold_under.model_dump(mode="json"),
                "queue_position": waiting[sku].queue_position,
                "expected_ship_date": waiting[sku].expected_ship_date,
                "promised_ship_date": promised,
            }
            await schedule_promise_check(uow, order_id=order_id, sku=sku, promised=promised)
        await uow.session.execute(
            sa.update(order_lines)
            .where(order_lines.c.order_id == order_id, order_lines.c.sku == sku)
            .values(**values)
        )
    by_location: dict[str, list[LocatedLine]] = {}
    for located in lines:
        by_location.setdefault(located.location, []).append(located)
    for location, located_lines in sorted(by_location.items()):
        await _add_group(
            uow,
            order_id,
            kind="in_stock",
            location=location,
            lines=located_lines,
            status=GroupStatus.RESERVED,
        )
    # A discount code comes off what is charged at checkout (never more than that charge). Tax added on top
    # is charged in full at checkout, also the part of a pre-order's balance charged later.
    discount = min(order.discount, plan.charged_now)
    tax_added = order.tax_added
    if order.tax_added_on_top and discount != order.discount:
        tax_added = order_tax(
            address=order.shipping_address,
            rates={},
            added_on_top_countries=[],
            subtotal=order.subtotal,
            discount=discount,
            shipping=order.shipping,
            fixed=(order.tax_rate, True),
        ).amount
    charged_now = plan.charged_now - discount + tax_added
    await repository.set_status(
        uow.session,
        order_id,
        OrderStatus.RESERVED,
        charged_now=charged_now,
        shipping_deferred=plan.shipping_deferred,
        discount=discount,
        total=order.subtotal + order.shipping - discount + tax_added,
        tax_added=tax_added,
    )
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "stock_reserved",
        lines=[line.model_dump() for line in lines],
        preorder_lines=[line.model_dump(mode="json") for line in preorder_lines],
    )
    if order.payment_terms is not None:
        # A draft completed on net or on-fulfillment terms: nothing is charged now; it is paid later.
        await _confirm_on_terms(uow, order_id)
        await uow.commit()
        return
    uow.publish(
        payment_contracts.CapturePayment(
            order_id=order_id,
            step="full",
            amount=charged_now,
            currency=order.currency,
            payment_token=order.payment_token,
            # Kept for every order: a later balance, or the price difference of an exchange, is charged
            # off-session with it.
            save_method=True,
            balance_later=sum(plan.balance.values()) > 0,
            bank_transfer_reference=bank_transfer_reference(order.payment_token),
        ),
        subject=order_id,
    )
    await uow.commit()


async def reject_for_missing_stock(uow: UnitOfWork, *, order_id: str, detail: str) -> None:
    """Not enough stock, or no pre-order place: reject; nothing was charged."""
    order = await repository.lock_order(uow.session, order_id)
    if not can_move(OrderStatus(order.status), OrderStatus.REJECTED):
        return
    await _reject(uow, order, reason="out_of_stock", detail=detail)
    uow.after_commit(ORDERS_REJECTED.labels("out_of_stock").inc)
    await uow.commit()


async def confirm_paid_order(
    uow: UnitOfWork,
    *,
    order_id: str,
    payment_id: str,
    amount: int,
    now: datetime,
    balance_notice: timedelta,
) -> None:
    """Checkout is paid: confirm, tell the customer, send each group that may ship on its way, and schedule
    the balances that are due by the clock."""
    order = await repository.lock_order(uow.session, order_id)
    if OrderStatus(order.status) is OrderStatus.CANCELLED:
        from shop_orders import cancellations  # it builds on this module

        await cancellations.refund_after_cancel(
            uow, order_id=order_id, payment_id=payment_id, amount=amount, what="checkout"
        )
        return
    if order.payment_terms is not None:
        await _record_payment_on_terms(uow, order, payment_id=payment_id, amount=amount, now=now)
        return
    if not can_move(OrderStatus(order.status), OrderStatus.CONFIRMED):
        return
    await repository.set_status(
        uow.session, order_id, OrderStatus.CONFIRMED, payment_token=None, captured=amount
    )
    await repository.add_events_to_timeline(
        uow.session,
        order_id,
        [("payment_captured", {"payment_id": payment_id, "amount": amount}), ("confirmed", {})],
    )
    lines = await repository.lines_of(uow.session, order_id)
    preorder_lines = [line for line in lines if line.kind == "preorder"]
    uow.publish(_order_confirmed(order, lines), subject=order_id)
    for group in await _groups(uow, order_id, GroupStatus.RESERVED, GroupStatus.AWAITING_CONFIRMATION):
        if group.kind == "preorder" and group.balance_amount > 0:  # allocated while checkout was being paid
            line = next(line for line in preorder_lines if line.sku == _sku_of(group))
            await _charge_after_notice(uow, order, group, line=line, now=now, notice=balance_notice)
        else:
            await _advance(uow, order, group)
    await _schedule_balances_due_by_the_clock(uow, order, preorder_lines, now=now, notice=balance_notice)
    uow.after_commit(ORDERS_CONFIRMED.labels(order.currency).inc)
    uow.after_commit(lambda: CHARGED_AT_CHECKOUT.labels(order.currency).inc(amount))
    await uow.commit()
    for line in preorder_lines:
        PREORDER_UNITS.inc(line.quantity)


def _order_confirmed(order: Row[Any], lines: list[Row[Any]]) -> contracts.OrderConfirmed:
    preorder_lines = [line for line in lines if line.kind == "preorder"]
    return contracts.OrderConfirmed(
        order_id=order.id,
        customer=_customer(order),
        currency=order.currency,
        lines=[_priced_line(line.sku, line.title, line.quantity, line.unit_price) for line in lines],
        subtotal=order.subtotal,
        shipping=order.shipping,
        total=order.total,
        shipping_address=Address.model_validate(order.shipping_address),
        # On payment terms nothing is charged now: the email says so instead of thanking for a payment.
        charged_now=0 if order.payment_terms is not None else order.charged_now if preorder_lines else None,
        preorder_lines=[_preorder_summary(line, order.created_at) for line in preorder_lines],
    )


async def _confirm_on_terms(uow: UnitOfWork, order_id: str) -> None:
    """Stock is held for an order on payment terms: confirm it and send its units to fulfillment unpaid."""
    await repository.set_status(uow.session, order_id, OrderStatus.CONFIRMED, payment_token=None)
    order = await repository.lock_order(uow.session, order_id)
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "confirmed",
        payment_terms=order.payment_terms,
        payment_due=order.payment_due_amount,
        payment_due_date=order.payment_due_date.isoformat() if order.payment_due_date else None,
    )
    uow.publish(_order_confirmed(order, await repository.lines_of(uow.session, order_id)), subject=order_id)
    for group in await _groups(uow, order_id, GroupStatus.RESERVED, GroupStatus.AWAITING_CONFIRMATION):
        await _advance(uow, order, group)
    ORDERS_CONFIRMED.labels(order.currency).inc()


async def schedule_payment_overdue(uow: UnitOfWork, *, order_id: str, due_date: date) -> None:
    """An order on terms becomes overdue when its due date has passed unpaid (in the caller's unit of work)."""
    await scheduling.reschedule(
        uow.session,
        scheduled_jobs,
        kind=PAYMENT_OVERDUE,
        key=f"{PAYMENT_OVERDUE}:{order_id}",
        due_at=datetime.combine(due_date + timedelta(days=1), time(), tzinfo=UTC),
        payload={"order_id": order_id},
    )


async def request_payment_on_terms(
    uow: UnitOfWork, *, order_id: str, payment_token: str, bank_transfer_reference: str | None
) -> None:
    """The customer pays an order on terms (or staff saw the bank transfer): payments captures what is due as
    the order's one checkout step, so asking again never charges twice; its outcome is told once, from the
    transaction that recorded it (in the caller's unit of work)."""
    order = await repository.lock_order(uow.session, order_id)
    if order.payment_terms is None:
        raise OrderNotOnTerms(f"order {order_id} is not on payment terms", field="order_id")
    if order.payment_status == "paid":
        return
    if OrderStatus(order.status) in (OrderStatus.CANCELLED, OrderStatus.REJECTED):
        raise OrderNotOnTerms(f"order {order_id} is {order.status}: nothing is due", field="order_id")
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "payment_requested",
        amount=order.payment_due_amount,
        reference=bank_transfer_reference,
    )
    uow.publish(
        payment_contracts.CapturePayment(
            order_id=order_id,
            step="full",
            amount=order.payment_due_amount,
            currency=order.currency,
            payment_token=payment_token,
            bank_transfer_reference=bank_transfer_reference,
        ),
        subject=order_id,
    )


async def _record_payment_on_terms(
    uow: UnitOfWork, order: Row[Any], *, payment_id: str, amount: int, now: datetime
) -> None:
    if order.payment_status != "paid":
        await uow.session.execute(
            sa.update(orders)
            .where(orders.c.id == order.id)
            .values(payment_status="paid", paid_at=now, captured=orders.c.captured + amount, updated_at=now)
        )
        await repository.add_to_timeline(
            uow.session, order.id, "payment_captured", payment_id=payment_id, amount=amount
        )
        await scheduling.cancel(uow.session, scheduled_jobs, key=f"{PAYMENT_OVERDUE}:{order.id}", now=now)
        CHARGED_AT_CHECKOUT.labels(order.currency).inc(amount)
    await uow.commit()


async def mark_payment_overdue(uow: UnitOfWork, *, order_id: str, now: datetime, token_secret: str) -> None:
    """The due date of an order on terms passed unpaid: it shows overdue and the customer is reminded."""
    order = await repository.lock_order(uow.session, order_id)
    if order.payment_status == "awaiting_payment" and OrderStatus(order.status) not in (
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
    ):
        await uow.session.execute(
            sa.update(orders).where(orders.c.id == order_id).values(payment_status="overdue", updated_at=now)
        )
        draft_id = str(
            await uow.session.scalar(sa.select(draft_orders.c.id).where(draft_orders.c.order_id == order_id))
        )
        await repository.add_to_timeline(
            uow.session,
            order_id,
            "payment_overdue",
            amount=order.payment_due_amount,
            due_date=order.payment_due_date.isoformat(),
        )
        uow.publish(
            contracts.OrderPaymentOverdue(
                order_id=order_id,
                customer=_customer(order),
                currency=order.currency,
                amount=order.payment_due_amount,
                due_date=order.payment_due_date,
                draft_id=draft_id,
                checkout_token=draft_token(token_secret, draft_id),
            ),
            subject=order_id,
        )
    await uow.commit()


async def reject_for_failed_payment(
    uow: UnitOfWork, *, order_id: str, decline_code: str, message: str
) -> None:
    """The card was declined: give the stock and pre-order places back and reject."""
    order = await repository.lock_order(uow.session, order_id)
    if not can_move(OrderStatus(order.status), OrderStatus.REJECTED):
        return
    await uow.session.execute(sa.update(orders).where(orders.c.id == order_id).values(payment_token=None))
    await repository.add_to_timeline(uow.session, order_id, "payment_failed", decline_code=decline_code)
    uow.publish(
        catalog_contracts.ReleaseStock(order_id=order_id, reason="payment_declined"), subject=order_id
    )
    await _reject(uow, order, reason="payment_declined", detail=f"{decline_code}: {message}")
    uow.after_commit(ORDERS_REJECTED.labels("payment_declined").inc)
    await uow.commit()


async def receive_preorder_allocation(
    uow: UnitOfWork,
    *,
    order_id: str,
    allocation_id: str,
    sku: str,
    location: str,
    quantity: int,
    now: datetime,
    balance_notice: timedelta,
) -> None:
    """Received stock was allocated to this order's pre-order: its units become a shipment group whose
    share of the balance is charged (when the balance is due on readiness) before it ships, no sooner than
    ``balance_notice`` after the customer was reminded of it."""
    order = await repository.lock_order(uow.session, order_id)
    if await _group(uow, allocation_id) is not None or OrderStatus(order.status) in (
        OrderStatus.REJECTED,
        OrderStatus.CANCELLED,
    ):
        return
    line = next(line for line in await repository.lines_of(uow.session, order_id) if line.sku == sku)
    units = min(quantity, line.quantity - line.units_allocated)
    scheduled = await _unallocated_group(uow, order_id, sku)
    if scheduled is not None and units > 0:
        await _allocate_to_scheduled_group(
            uow, order, scheduled, allocation_id=allocation_id, line=line, location=location, units=units
        )
        await uow.commit()
        return
    balance = balance_for_units(
        balance_left=line.balance - line.balance_assigned,
        units_left=line.quantity - line.units_allocated,
        units=units,
    )
    if order.shipping_deferred:
        balance += order.shipping  # pay later: shipping is charged with the first balance
        await uow.session.execute(
            sa.update(orders).where(orders.c.id == order_id).values(shipping_deferred=False)
        )
    await uow.session.execute(
        sa.update(order_lines)
        .where(order_lines.c.order_id == order_id, order_lines.c.sku == sku)
        .values(
            units_allocated=line.units_allocated + units, balance_assigned=line.balance_assigned + balance
        )
    )
    group = await _add_group(
        uow,
        order_id,
        kind="preorder",
        location=location,
        lines=[LocatedLine(sku=sku, quantity=units, location=location)],
        status=GroupStatus.AWAITING_CONFIRMATION,
        group_id=allocation_id,
        balance_amount=balance,
        expected_ship_date=line.expected_ship_date,
    )
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "preorder_allocated",
        group_id=allocation_id,
        sku=sku,
        quantity=units,
        location=location,
    )
    cancelling = await uow.session.scalar(
        sa.select(sa.func.count()).where(
            cancellations.c.order_id == order_id, cancellations.c.status == "requested"
        )
    )
    # While a cancellation waits for fulfillment the new group waits too; the cancellation releases it.
    if OrderStatus(order.status) in ACCEPTED and not cancelling:
        if group.balance_amount > 0:
            await _charge_after_notice(uow, order, group, line=line, now=now, notice=balance_notice)
        else:
            await _advance(uow, order, group)
    await uow.commit()


async def release_paid_group(
    uow: UnitOfWork, *, order_id: str, group_id: str, payment_id: str, amount: int
) -> None:
    """A group's balance is paid: it may ship."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _group(uow, group_id)
    if group is not None and GroupStatus(group.status) is GroupStatus.CANCELLED:
        from shop_orders import cancellations  # it builds on this module

        await cancellations.refund_after_cancel(
            uow, order_id=order_id, payment_id=payment_id, amount=amount, what=f"balance:{group_id}"
        )
        return
    if group is None or GroupStatus(group.status) not in (
        GroupStatus.AWAITING_BALANCE,
        GroupStatus.BALANCE_FAILED,
    ):
        return
    await uow.session.execute(
        sa.update(orders).where(orders.c.id == order_id).values(captured=orders.c.captured + amount)
    )
    await repository.add_to_timeline(
        uow.session, order_id, "balance_charged", group_id=group_id, payment_id=payment_id, amount=amount
    )
    uow.publish(
        contracts.OrderBalanceCharged(
            order_id=order_id,
            customer=_customer(order),
            group_id=group_id,
            amount=amount,
            currency=order.currency,
            expected_ship_date=group.expected_ship_date,
        ),
        subject=order_id,
    )
    if group.location == UNALLOCATED:  # charged by the clock before its units arrived
        await _set_group(uow, group.id, status=GroupStatus.PAID_AWAITING_STOCK)
    else:
        await _release(uow, order, group)
    for waiting in await _groups(uow, order_id, GroupStatus.AWAITING_LINE_BALANCE):
        if _sku_of(waiting) == _sku_of(group):
            await _release(uow, order, waiting)
    await uow.commit()


async def hold_unpaid_group(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    decline_code: str,
    message: str,
    requires_action: bool,
    now: datetime,
    retry_after: timedelta,
    dunning_period: timedelta,
) -> None:
    """A group's balance could not be charged: hold it, tell the customer how to fix it, try again later,
    and cancel the pre-order if it is still unpaid when the dunning period ends."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _group(uow, group_id)
    if group is None or GroupStatus(group.status) is not GroupStatus.AWAITING_BALANCE:
        return
    failures = group.balance_failures + 1
    first_failed_at = group.first_failed_at or now
    await _set_group(
        uow,
        group_id,
        status=GroupStatus.BALANCE_FAILED,
        balance_failures=failures,
        first_failed_at=first_failed_at,
    )
    give_up_at = first_failed_at + dunning_period
    retry_at = now + retry_after
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "balance_failed",
        group_id=group_id,
        decline_code=decline_code,
        message=message,
        requires_action=requires_action,
    )
    if retry_at < give_up_at:
        await scheduling.schedule(
            uow.session,
            scheduled_jobs,
            kind=RETRY_BALANCE,
            key=f"{RETRY_BALANCE}:{group_id}:{failures}",
            due_at=retry_at,
            payload={"order_id": order_id, "group_id": group_id, "give_up_at": give_up_at.isoformat()},
        )
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        kind=CANCEL_UNPAID,
        key=f"{CANCEL_UNPAID}:{group_id}",
        due_at=give_up_at,
        payload={"order_id": order_id, "group_id": group_id},
    )
    uow.publish(
        contracts.OrderBalanceChargeFailed(
            order_id=order_id,
            customer=_customer(order),
            group_id=group_id,
            amount=group.balance_amount,
            currency=order.currency,
            reason=decline_code,
            requires_action=requires_action,
            retry_at=retry_at if retry_at < give_up_at else None,
        ),
        subject=order_id,
    )
    await uow.commit()


PROMISE_CHECK = "preorder_promise_check"


async def schedule_promise_check(uow: UnitOfWork, *, order_id: str, sku: str, promised: date) -> None:
    """Check a pre-order line's promise once its promised day is over (``shop_orders.promises``)."""
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        kind=PROMISE_CHECK,
        key=f"{PROMISE_CHECK}:{order_id}:{sku}:{promised.isoformat()}",
        due_at=promise_check_due(promised),
        payload={"order_id": order_id, "sku": sku, "promised": promised.isoformat()},
    )


class BalanceChargeInFlight(Exception):
    """Raised from a scheduled job to run it again later."""


RETRY_BALANCE = "retry_balance"
CANCEL_UNPAID = "cancel_unpaid_preorder"


async def retry_unpaid_balance(
    uow: UnitOfWork, *, order_id: str, group_id: str, now: datetime, give_up_at: datetime
) -> None:
    """Dunning: charge a held group's balance again (payments makes it a new attempt). A retry that comes
    due only after the dunning period ended does nothing: the cancellation job decides then."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _group(uow, group_id)
    if group is None or GroupStatus(group.status) is not GroupStatus.BALANCE_FAILED or now >= give_up_at:
        return
    await repository.add_to_timeline(uow.session, order_id, "balance_retried", group_id=group_id)
    await _advance(uow, order, group)
    await uow.commit()


CHARGE_SCHEDULED_BALANCE = "charge_scheduled_balance"
REMIND_BALANCE = "remind_balance"
REMIND_BALANCE_WHEN_READY = "remind_balance_when_ready"


async def charge_scheduled_balance(uow: UnitOfWork, *, order_id: str, group_id: str) -> None:
    """A group's balance is due by the clock: charge it off-session now, whether or not its units arrived."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _group(uow, group_id)
    if group is None or GroupStatus(group.status) is not GroupStatus.BALANCE_SCHEDULED:
        return
    await repository.add_to_timeline(uow.session, order_id, "balance_due", group_id=group_id)
    await _advance(uow, order, group)
    await uow.commit()


async def remind_of_balance(uow: UnitOfWork, *, order_id: str, group_id: str, now: datetime) -> None:
    """Tell the customer a group's balance will be charged soon (what, when, where to change the card).
    A reminder that comes due only when the charge is due too says nothing: there is no time left to act."""
    order = await repository.lock_order(uow.session, order_id)
    group = await _group(uow, group_id)
    if (
        group is None
        or GroupStatus(group.status) is not GroupStatus.BALANCE_SCHEDULED
        or group.balance_due_at is None
        or group.balance_due_at <= now
    ):
        return
    await _remind(
        uow,
        order,
        line_sku=_sku_of(group),
        group_id=group_id,
        amount=group.balance_amount,
        charge_at=group.balance_due_at,
        now=now,
    )
    await uow.commit()


async def remind_of_balance_when_ready(uow: UnitOfWork, *, order_id: str, sku: str, now: datetime) -> None:
    """A day before a pre-order line's goods are expected, tell the customer its balance (due when they are
    ready) will be charged then, so the charge can run as soon as they are allocated."""
    order = await repository.lock_order(uow.session, order_id)
    if OrderStatus(order.status) not in ACCEPTED:
        return
    line = next((line for line in await repository.lines_of(uow.session, order_id) if line.sku == sku), None)
    if line is None or line.units_allocated >= line.quantity or line.balance_assigned >= line.balance:
        return
    if line.expected_ship_date is None:  # the date was withdrawn since: the reminder goes at allocation
        return
    amount = line.balance - line.balance_assigned + (order.shipping if order.shipping_deferred else 0)
    expected_at = _expected_moment(line.expected_ship_date)
    await _remind(
        uow,
        order,
        line_sku=sku,
        group_id=None,
        amount=amount,
        charge_at=expected_at,
        now=now,
        when_ready=True,
    )
    await uow.commit()


async def retry_with_updated_method(uow: UnitOfWork, *, order_id: str, now: datetime) -> None:
    """The customer replaced the order's payment method: charge every held balance again now instead of
    waiting for the next dunning retry, which is cancelled (a decline schedules the next one)."""
    order = await repository.lock_order(uow.session, order_id)
    await repository.add_to_timeline(uow.session, order_id, "payment_method_updated")
    for group in await _groups(uow, order_id, GroupStatus.BALANCE_FAILED):
        await scheduling.cancel(
            uow.session, scheduled_jobs, key=f"{RETRY_BALANCE}:{group.id}:{group.balance_failures}", now=now
        )
        await repository.add_to_timeline(
            uow.session, order_id, "balance_retried", group_id=group.id, cause="payment_method_updated"
        )
        await _advance(uow, order, group)
    await uow.commit()


async def cancel_unpaid_preorder(uow: UnitOfWork, *, order_id: str, group_id: str, now: datetime) -> None:
    """The dunning period ended and the balance is still unpaid: cancel, so the unit goes to the next in line."""
    group = await _group(uow, group_id)
    if group is not None and GroupStatus(group.status) is GroupStatus.AWAITING_BALANCE:
        # A last charge attempt is under way: decide when its outcome is known (the job runs again).
        raise BalanceChargeInFlight(f"group {group_id} has a balance charge in flight")
    if group is None or GroupStatus(group.status) is not GroupStatus.BALANCE_FAILED:
        return
    from shop_orders import cancellations  # it builds on this module

    await cancellations.cancel_order(uow, order_id=order_id, reason="balance_unpaid", now=now)


async def record_refund(
    uow: UnitOfWork, *, order_id: str, event: str, amount: int, detail: str, idempotency_key: str
) -> None:
    """Payments issued (``refunded``) or refused (``refund_rejected``) a refund: recorded once per key, however
    often it is told; an issued refund replaces a rejection told first, never the other way round."""
    await repository.lock_order(uow.session, order_id)
    statement = insert(refund_outcomes).values(
        idempotency_key=idempotency_key, order_id=order_id, outcome=event, amount=amount, detail=detail
    )
    recorded = await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[refund_outcomes.c.idempotency_key],
            set_={"outcome": statement.excluded.outcome, "amount": statement.excluded.amount},
            where=sa.and_(
                refund_outcomes.c.outcome == "refund_rejected", statement.excluded.outcome == "refunded"
            ),
        ).returning(refund_outcomes.c.idempotency_key)
    )
    if recorded.first() is not None:
        await repository.add_to_timeline(uow.session, order_id, event, amount=amount, detail=detail)
    await uow.commit()


async def record_notification(uow: UnitOfWork, *, order_id: str, template: str, channel: str) -> None:
    await repository.lock_order(uow.session, order_id)
    await repository.add_to_timeline(
        uow.session, order_id, "customer_notified", template=template, channel=channel
    )
    await uow.commit()


async def _advance(uow: UnitOfWork, order: Row[Any], group: Row[Any]) -> None:
    """Move a group of an accepted order on: charge its balance first if it has one, else release it."""
    if group.balance_amount > 0:
        await _set_group(uow, group.id, status=GroupStatus.AWAITING_BALANCE)
        uow.publish(
            payment_contracts.ChargeBalance(
                order_id=order.id,
                group_id=group.id,
                amount=group.balance_amount,
                currency=order.currency,
                attempt=group.balance_failures + 1,
            ),
            subject=order.id,
        )
    else:
        await _release(uow, order, group)


async def _release(uow: UnitOfWork, order: Row[Any], group: Row[Any]) -> None:
    await _set_group(uow, group.id, status=GroupStatus.RELEASED)
    uow.publish(
        fulfillment_contracts.CreateFulfillmentOrder(
            order_id=order.id,
            location=group.location,
            lines=[LocatedLine.model_validate(line) for line in group.lines],
            shipping_address=Address.model_validate(order.shipping_address),
            shipping_method=order.shipping_method,
            group_id=group.id,
        ),
        subject=order.id,
    )


async def _add_group(
    uow: UnitOfWork,
    order_id: str,
    *,
    kind: str,
    location: str,
    lines: list[LocatedLine],
    status: GroupStatus,
    group_id: str | None = None,
    balance_amount: int = 0,
    expected_ship_date: date | None = None,
    balance_due_at: datetime | None = None,
) -> Row[Any]:
    row = (
        await uow.session.execute(
            insert(shipment_groups)
            .values(
                id=group_id or str(uuid.uuid4()),
                order_id=order_id,
                kind=kind,
                location=location,
                status=status.value,
                lines=[line.model_dump() for line in lines],
                balance_amount=balance_amount,
                expected_ship_date=expected_ship_date,
                balance_due_at=balance_due_at,
            )
            .returning(*shipment_groups.c)
        )
    ).one()
    return row


async def _schedule_balances_due_by_the_clock(
    uow: UnitOfWork, order: Row[Any], lines: list[Row[Any]], *, now: datetime, notice: timedelta
) -> None:
    """Each pre-order line whose balance is due at a time (policy 'at' or 'after') becomes a group of its
    own now, not yet allocated anywhere: its balance is charged at that time whether or not the units
    arrived, with a reminder ``notice`` before; the units join it when stock is allocated."""
    shipping = order.shipping if order.shipping_deferred else 0
    for line in lines:
        charge_at = balance_due_at(_policy_of(line), order.created_at)
        units = line.quantity - line.units_allocated
        amount = line.balance - line.balance_assigned
        if units <= 0 or amount <= 0:
            continue
        if charge_at is None:
            await _schedule_reminder_before_ready(uow, order, line, now=now, notice=notice)
            continue
        group = await _add_group(
            uow,
            order.id,
            kind="preorder",
            location=UNALLOCATED,
            lines=[LocatedLine(sku=line.sku, quantity=units, location=UNALLOCATED)],
            status=GroupStatus.BALANCE_SCHEDULED,
            balance_amount=amount + shipping,  # pay later: shipping goes with the first balance
            expected_ship_date=line.expected_ship_date,
            balance_due_at=charge_at,
        )
        if shipping:
            shipping = 0
            await uow.session.execute(
                sa.update(orders).where(orders.c.id == order.id).values(shipping_deferred=False)
            )
        await uow.session.execute(
            sa.update(order_lines)
            .where(order_lines.c.order_id == order.id, order_lines.c.sku == line.sku)
            .values(balance_assigned=line.balance)
        )
        await repository.add_to_timeline(
            uow.session,
            order.id,
            "balance_scheduled",
            group_id=group.id,
            sku=line.sku,
            amount=group.balance_amount,
            charge_at=charge_at.isoformat(),
        )
        payload = {"order_id": order.id, "group_id": group.id}
        await scheduling.schedule(
            uow.session,
            scheduled_jobs,
            kind=CHARGE_SCHEDULED_BALANCE,
            key=f"{CHARGE_SCHEDULED_BALANCE}:{group.id}",
            due_at=charge_at,
            payload=payload,
        )
        remind_at = reminder_time(charge_at=charge_at, notice=notice, now=now)
        if remind_at is not None:
            await scheduling.schedule(
                uow.session,
                scheduled_jobs,
                kind=REMIND_BALANCE,
                key=f"{REMIND_BALANCE}:{group.id}",
                due_at=remind_at,
                payload=payload,
            )


async def move_reminder_before_ready(
    uow: UnitOfWork,
    *,
    order_id: str,
    line: Row[Any],
    expected_ship_date: date | None,
    now: datetime,
    notice: timedelta,
) -> None:
    """A waiting line's expected date changed: its reminder before an ``on_ready`` balance moves with it (at
    once when the new date is less than ``notice`` away), unless the customer was already reminded."""
    policy = _policy_of(line)
    if policy.balance_due != "on_ready" or line.balance <= line.balance_assigned or line.balance_reminded_at:
        return
    key = f"{REMIND_BALANCE_WHEN_READY}:{order_id}:{line.sku}"
    if expected_ship_date is None:
        await scheduling.cancel(uow.session, scheduled_jobs, key=key, now=now)
        return
    await scheduling.reschedule(
        uow.session,
        scheduled_jobs,
        kind=REMIND_BALANCE_WHEN_READY,
        key=key,
        due_at=max(_expected_moment(expected_ship_date) - notice, now),
        payload={"order_id": order_id, "sku": line.sku},
    )


async def _schedule_reminder_before_ready(
    uow: UnitOfWork, order: Row[Any], line: Row[Any], *, now: datetime, notice: timedelta
) -> None:
    """A balance due when the goods are ready: remind ``notice`` before the day they are expected, so the
    charge can run as soon as they are allocated (if they come earlier, the reminder goes then)."""
    if line.expected_ship_date is None:
        return
    remind_at = _expected_moment(line.expected_ship_date) - notice
    if remind_at <= now:
        return
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        kind=REMIND_BALANCE_WHEN_READY,
        key=f"{REMIND_BALANCE_WHEN_READY}:{order.id}:{line.sku}",
        due_at=remind_at,
        payload={"order_id": order.id, "sku": line.sku},
    )


async def _unallocated_group(uow: UnitOfWork, order_id: str, sku: str) -> Row[Any] | None:
    """The group of a line whose balance is due by the clock, while units of it still wait for stock."""
    rows = await uow.session.execute(
        sa.select(shipment_groups).where(
            shipment_groups.c.order_id == order_id,
            shipment_groups.c.location == UNALLOCATED,
            shipment_groups.c.status != GroupStatus.CANCELLED.value,
        )
    )
    return next((group for group in rows if _sku_of(group) == sku), None)


async def _allocate_to_scheduled_group(
    uow: UnitOfWork,
    order: Row[Any],
    group: Row[Any],
    *,
    allocation_id: str,
    line: Row[Any],
    location: str,
    units: int,
) -> None:
    """Received units of a line whose balance is due by the clock: the last of them take the line's group
    (a partial allocation before that gets a group of its own, owing nothing); either ships as soon as the
    line's balance is paid, at once if it already is."""
    await uow.session.execute(
        sa.update(order_lines)
        .where(order_lines.c.order_id == order.id, order_lines.c.sku == line.sku)
        .values(units_allocated=line.units_allocated + units)
    )
    await repository.add_to_timeline(
        uow.session,
        order.id,
        "preorder_allocated",
        group_id=allocation_id,
        sku=line.sku,
        quantity=units,
        location=location,
    )
    placed = LocatedLine(sku=line.sku, quantity=units, location=location)
    paid = GroupStatus(group.status) is GroupStatus.PAID_AWAITING_STOCK
    waiting = int(group.lines[0]["quantity"])
    if units >= waiting:
        await uow.session.execute(
            sa.update(shipment_groups)
            .where(shipment_groups.c.id == group.id)
            .values(location=location, lines=[placed.model_dump()], updated_at=sa.func.now())
        )
        allocated = await _group(uow, group.id)
        if paid and allocated is not None:
            await _release(uow, order, allocated)
        return
    left = LocatedLine(sku=line.sku, quantity=waiting - units, location=UNALLOCATED)
    await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group.id)
        .values(lines=[left.model_dump()], updated_at=sa.func.now())
    )
    part = await _add_group(
        uow,
        order.id,
        kind="preorder",
        location=location,
        lines=[placed],
        status=GroupStatus.AWAITING_LINE_BALANCE,
        group_id=allocation_id,
        expected_ship_date=line.expected_ship_date,
    )
    if paid:
        await _release(uow, order, part)


async def _charge_after_notice(
    uow: UnitOfWork, order: Row[Any], group: Row[Any], *, line: Row[Any], now: datetime, notice: timedelta
) -> None:
    """Charge a group whose balance is due now that its units are ready: at once if the customer was reminded
    at least ``notice`` ago, otherwise remind them now and charge ``notice`` later."""
    charge_at = charge_time_on_allocation(reminded_at=line.balance_reminded_at, notice=notice, now=now)
    if charge_at <= now:
        await _advance(uow, order, group)
        return
    await _set_group(uow, group.id, status=GroupStatus.BALANCE_SCHEDULED, balance_due_at=charge_at)
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        kind=CHARGE_SCHEDULED_BALANCE,
        key=f"{CHARGE_SCHEDULED_BALANCE}:{group.id}",
        due_at=charge_at,
        payload={"order_id": order.id, "group_id": group.id},
    )
    await repository.add_to_timeline(
        uow.session,
        order.id,
        "balance_scheduled",
        group_id=group.id,
        sku=line.sku,
        amount=group.balance_amount,
        charge_at=charge_at.isoformat(),
    )
    await _remind(
        uow,
        order,
        line_sku=line.sku,
        group_id=group.id,
        amount=group.balance_amount,
        charge_at=charge_at,
        now=now,
    )


async def _remind(
    uow: UnitOfWork,
    order: Row[Any],
    *,
    line_sku: str,
    group_id: str | None,
    amount: int,
    charge_at: datetime,
    now: datetime,
    when_ready: bool = False,
) -> None:
    await uow.session.execute(
        sa.update(order_lines)
        .where(order_lines.c.order_id == order.id, order_lines.c.sku == line_sku)
        .values(balance_reminded_at=now)
    )
    await repository.add_to_timeline(
        uow.session,
        order.id,
        "balance_reminder_sent",
        group_id=group_id,
        sku=line_sku,
        amount=amount,
        charge_at=charge_at.isoformat(),
        when_ready=when_ready,
    )
    uow.publish(
        contracts.OrderBalanceReminder(
            order_id=order.id,
            customer=_customer(order),
            group_id=group_id,
            sku=line_sku,
            amount=amount,
            currency=order.currency,
            charge_at=charge_at,
            when_ready=when_ready,
        ),
        subject=order.id,
    )


def _expected_moment(expected_ship_date: date) -> datetime:
    """The start (UTC) of the day a pre-order line is expected to be ready."""
    return datetime.combine(expected_ship_date, time(), tzinfo=UTC)


def _sku_of(group: Row[Any]) -> str:
    """The SKU of a pre-order group (each holds units of one line)."""
    return str(group.lines[0]["sku"])


async def _group(uow: UnitOfWork, group_id: str) -> Row[Any] | None:
    return (
        await uow.session.execute(sa.select(shipment_groups).where(shipment_groups.c.id == group_id))
    ).first()


async def _groups(uow: UnitOfWork, order_id: str, *statuses: GroupStatus) -> list[Row[Any]]:
    rows = await uow.session.execute(
        sa.select(shipment_groups)
        .where(
            shipment_groups.c.order_id == order_id, shipment_groups.c.status.in_([s.value for s in statuses])
        )
        .order_by(shipment_groups.c.created_at, shipment_groups.c.id)
    )
    return list(rows)


async def _set_group(uow: UnitOfWork, group_id: str, *, status: GroupStatus, **values: Any) -> None:
    await uow.session.execute(
        sa.update(shipment_groups)
        .where(shipment_groups.c.id == group_id)
        .values(status=status.value, updated_at=sa.func.now(), **values)
    )


async def _reject(uow: UnitOfWork, order: Row[Any], *, reason: str, detail: str) -> None:
    await repository.set_status(uow.session, order.id, OrderStatus.REJECTED, reason=reason)
    # A discount code the order redeemed may be used again.
    await uow.session.execute(
        sa.update(discount_codes)
        .where(discount_codes.c.redeemed_by_order == order.id)
        .values(redeemed_by_order=None, redeemed_at=None)
    )
    await repository.add_to_timeline(uow.session, order.id, "rejected", reason=reason, detail=detail)
    uow.publish(
        contracts.OrderRejected(order_id=order.id, customer=_customer(order), reason=reason, detail=detail),
        subject=order.id,
    )


def _policy_of(line: Row[Any], current: CatalogVariant | None = None) -> PreorderPolicy:
    """The policy a pre-order line was sold under: as priced at checkout, else the variant's policy now
    (orders had not heard of it when the order was placed), else pay now in full."""
    if line.preorder_policy:
        return PreorderPolicy.model_validate(line.preorder_policy)
    if current is not None and current.preorder_policy is not None:
        return current.preorder_policy
    return PreorderPolicy(payment_mode="pay_now")


def _preorder_summary(line: Row[Any], ordered_at: datetime) -> contracts.PreorderSummary:
    policy = _policy_of(line)
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


def _customer(order: Row[Any]) -> Customer:
    return Customer(email=order.email, locale=order.locale)


def _priced_line(sku: str, title: str, quantity: int, unit_price: int) -> PricedLine:
    return PricedLine(
        sku=sku, title=title, quantity=quantity, unit_price=unit_price, line_total=unit_price * quantity
    )
