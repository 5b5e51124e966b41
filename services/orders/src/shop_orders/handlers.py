"""Orders' use cases and the saga steps: each is one async function in one unit of work that commits it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row

from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.values import Address, Customer, LocatedLine, PricedLine, RequestedLine
from shop_orders import repository
from shop_orders.domain import (
    CheckoutLine,
    IdempotencyKeyReused,
    OrderStatus,
    can_move,
    checkout_fingerprint,
    price_checkout,
)
from shop_orders.tables import order_allocations, order_fulfillments, order_lines, orders
from shop_runtime.database import UnitOfWork


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


async def place_order(
    uow: UnitOfWork, *, checkout: Checkout, shipping_rates: dict[str, dict[str, int]]
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
    )
    order_id = str(uuid.uuid4())
    await uow.session.execute(
        sa.insert(orders).values(
            id=order_id,
            status=OrderStatus.PENDING.value,
            email=checkout.email,
            locale=checkout.locale,
            currency=checkout.currency,
            subtotal=priced.subtotal,
            shipping=priced.shipping,
            total=priced.total,
            shipping_address=checkout.shipping_address,
            shipping_method=checkout.shipping_method,
            payment_token=checkout.payment_token,
            idempotency_key=checkout.idempotency_key,
            request_fingerprint=fingerprint,
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
            }
            for position, line in enumerate(priced.lines)
        ],
    )
    await repository.add_to_timeline(
        uow.session, order_id, "placed", total=priced.total, currency=priced.currency
    )
    customer = Customer(email=checkout.email, locale=checkout.locale)
    uow.publish(
        contracts.OrderPlaced(
            order_id=order_id,
            customer=customer,
            currency=priced.currency,
            lines=[
                _priced_line(line.sku, line.title, line.quantity, line.unit_price) for line in priced.lines
            ],
            total=priced.total,
        ),
        subject=order_id,
        correlation_id=order_id,
    )
    uow.publish(
        catalog_contracts.ReserveStock(
            order_id=order_id,
            lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in checkout.lines],
        ),
        subject=order_id,
        correlation_id=order_id,
    )
    await uow.commit()
    return PlacedOrder(order_id=order_id, status=OrderStatus.PENDING.value, created=True)


async def take_payment_for_reserved_stock(
    uow: UnitOfWork, *, order_id: str, lines: list[LocatedLine]
) -> None:
    """Stock is held: record where it sits and charge the order's total."""
    order = await repository.lock_order(uow.session, order_id)
    if not can_move(OrderStatus(order.status), OrderStatus.RESERVED):
        return
    await uow.session.execute(
        sa.insert(order_allocations),
        [
            {"order_id": order_id, "sku": line.sku, "location": line.location, "quantity": line.quantity}
            for line in lines
        ],
    )
    await repository.set_status(uow.session, order_id, OrderStatus.RESERVED)
    await repository.add_to_timeline(
        uow.session, order_id, "stock_reserved", lines=[line.model_dump() for line in lines]
    )
    uow.publish(
        payment_contracts.CapturePayment(
            order_id=order_id,
            step="full",
            amount=order.total,
            currency=order.currency,
            payment_token=order.payment_token,
        ),
        subject=order_id,
    )
    await uow.commit()


async def reject_for_missing_stock(uow: UnitOfWork, *, order_id: str, detail: str) -> None:
    """Not enough stock: reject; nothing was charged."""
    order = await repository.lock_order(uow.session, order_id)
    if not can_move(OrderStatus(order.status), OrderStatus.REJECTED):
        return
    await _reject(uow, order, reason="out_of_stock", detail=detail)
    await uow.commit()


async def confirm_paid_order(uow: UnitOfWork, *, order_id: str, payment_id: str, amount: int) -> None:
    """Paid in full: confirm, tell the customer and hand each stock location's lines to fulfillment."""
    order = await repository.lock_order(uow.session, order_id)
    if not can_move(OrderStatus(order.status), OrderStatus.CONFIRMED):
        return
    await repository.set_status(uow.session, order_id, OrderStatus.CONFIRMED)
    await uow.session.execute(sa.update(orders).where(orders.c.id == order_id).values(payment_token=None))
    await repository.add_to_timeline(
        uow.session, order_id, "payment_captured", payment_id=payment_id, amount=amount
    )
    await repository.add_to_timeline(uow.session, order_id, "confirmed")
    lines = await repository.lines_of(uow.session, order_id)
    uow.publish(
        contracts.OrderConfirmed(
            order_id=order_id,
            customer=_customer(order),
            currency=order.currency,
            lines=[_priced_line(line.sku, line.title, line.quantity, line.unit_price) for line in lines],
            subtotal=order.subtotal,
            shipping=order.shipping,
            total=order.total,
            shipping_address=Address.model_validate(order.shipping_address),
        ),
        subject=order_id,
    )
    allocations = (
        await uow.session.execute(
            sa.select(order_allocations)
            .where(order_allocations.c.order_id == order_id)
            .order_by(order_allocations.c.location, order_allocations.c.sku)
        )
    ).all()
    by_location: dict[str, list[LocatedLine]] = {}
    for allocation in allocations:
        by_location.setdefault(allocation.location, []).append(
            LocatedLine(sku=allocation.sku, quantity=allocation.quantity, location=allocation.location)
        )
    for location, located in by_location.items():
        uow.publish(
            fulfillment_contracts.CreateFulfillmentOrder(
                order_id=order_id,
                location=location,
                lines=located,
                shipping_address=Address.model_validate(order.shipping_address),
                shipping_method=order.shipping_method,
            ),
            subject=order_id,
        )
    await uow.commit()


async def reject_for_failed_payment(
    uow: UnitOfWork, *, order_id: str, decline_code: str, message: str
) -> None:
    """The card was declined: give the stock back and reject."""
    order = await repository.lock_order(uow.session, order_id)
    if not can_move(OrderStatus(order.status), OrderStatus.REJECTED):
        return
    await uow.session.execute(sa.update(orders).where(orders.c.id == order_id).values(payment_token=None))
    await repository.add_to_timeline(uow.session, order_id, "payment_failed", decline_code=decline_code)
    uow.publish(
        catalog_contracts.ReleaseStock(order_id=order_id, reason="payment_declined"), subject=order_id
    )
    await _reject(uow, order, reason="payment_declined", detail=f"{decline_code}: {message}")
    await uow.commit()


async def record_fulfillment_created(
    uow: UnitOfWork, *, order_id: str, fulfillment_id: str, location: str
) -> None:
    await repository.lock_order(uow.session, order_id)
    await uow.session.execute(
        insert(order_fulfillments)
        .values(fulfillment_id=fulfillment_id, order_id=order_id, location=location, status="pick_requested")
        .on_conflict_do_nothing()
    )
    await repository.add_to_timeline(
        uow.session, order_id, "pick_requested", fulfillment_id=fulfillment_id, location=location
    )
    await uow.commit()


async def record_fulfillment_progress(
    uow: UnitOfWork, *, order_id: str, fulfillment_id: str, status: str
) -> None:
    """The warehouse picked or packed a fulfillment order."""
    await repository.lock_order(uow.session, order_id)
    await _set_fulfillment(uow, fulfillment_id, status=status)
    await repository.add_to_timeline(uow.session, order_id, status, fulfillment_id=fulfillment_id)
    await uow.commit()


async def record_shipment(
    uow: UnitOfWork,
    *,
    order_id: str,
    fulfillment_id: str,
    lines: list[LocatedLine],
    carrier: str,
    tracking_number: str,
) -> None:
    """A shipment left: take its units out of stock, tell the customer, and mark the order shipped when all left."""
    order = await repository.lock_order(uow.session, order_id)
    await _set_fulfillment(
        uow, fulfillment_id, status="shipped", carrier=carrier, tracking_number=tracking_number
    )
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "shipped",
        fulfillment_id=fulfillment_id,
        carrier=carrier,
        tracking_number=tracking_number,
    )
    uow.publish(catalog_contracts.CommitStock(order_id=order_id, lines=lines), subject=order_id)
    uow.publish(
        contracts.OrderShipped(
            order_id=order_id,
            customer=_customer(order),
            fulfillment_id=fulfillment_id,
            carrier=carrier,
            tracking_number=tracking_number,
        ),
        subject=order_id,
    )
    if await _all_fulfillments_reached(uow, order_id, {"shipped", "delivered"}) and can_move(
        OrderStatus(order.status), OrderStatus.SHIPPED
    ):
        await repository.set_status(uow.session, order_id, OrderStatus.SHIPPED)
    await uow.commit()


async def record_delivery(uow: UnitOfWork, *, order_id: str, fulfillment_id: str) -> None:
    order = await repository.lock_order(uow.session, order_id)
    await _set_fulfillment(uow, fulfillment_id, status="delivered")
    await repository.add_to_timeline(uow.session, order_id, "delivered", fulfillment_id=fulfillment_id)
    uow.publish(
        contracts.OrderDelivered(order_id=order_id, customer=_customer(order), fulfillment_id=fulfillment_id),
        subject=order_id,
    )
    if await _all_fulfillments_reached(uow, order_id, {"delivered"}) and can_move(
        OrderStatus(order.status), OrderStatus.DELIVERED
    ):
        await repository.set_status(uow.session, order_id, OrderStatus.DELIVERED)
    await uow.commit()


async def record_notification(uow: UnitOfWork, *, order_id: str, template: str, channel: str) -> None:
    await repository.lock_order(uow.session, order_id)
    await repository.add_to_timeline(
        uow.session, order_id, "customer_notified", template=template, channel=channel
    )
    await uow.commit()


async def _reject(uow: UnitOfWork, order: Row[Any], *, reason: str, detail: str) -> None:
    await repository.set_status(uow.session, order.id, OrderStatus.REJECTED, reason=reason)
    await repository.add_to_timeline(uow.session, order.id, "rejected", reason=reason, detail=detail)
    uow.publish(
        contracts.OrderRejected(order_id=order.id, customer=_customer(order), reason=reason, detail=detail),
        subject=order.id,
    )


async def _set_fulfillment(uow: UnitOfWork, fulfillment_id: str, *, status: str, **values: str) -> None:
    result = await uow.session.execute(
        sa.update(order_fulfillments)
        .where(order_fulfillments.c.fulfillment_id == fulfillment_id)
        .values(status=status, **values)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise LookupError(f"fulfillment {fulfillment_id} is not known yet; the message will be retried")


async def _all_fulfillments_reached(uow: UnitOfWork, order_id: str, statuses: set[str]) -> bool:
    rows = await uow.session.execute(
        sa.select(order_fulfillments.c.status).where(order_fulfillments.c.order_id == order_id)
    )
    found = list(rows.scalars())
    return bool(found) and all(status in statuses for status in found)


def _customer(order: Row[Any]) -> Customer:
    return Customer(email=order.email, locale=order.locale)


def _priced_line(sku: str, title: str, quantity: int, unit_price: int) -> PricedLine:
    return PricedLine(
        sku=sku, title=title, quantity=quantity, unit_price=unit_price, line_total=unit_price * quantity
    )
