"""Rows as the services would write them, for the ops tool's integration tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from shop_catalog import tables as catalog
from shop_fulfillment import tables as fulfillment
from shop_notifications import tables as notifications
from shop_orders.core import tables as orders
from shop_payments import tables as payments


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def order(
    order_id: str, status: str, *, total: int = 39000, since: datetime | None = None, **values: Any
) -> sa.Insert:
    since = since or ago(minutes=1)
    return sa.insert(orders.orders).values(
        id=order_id,
        status=status,
        email="buyer@example.com",
        locale="ko-KR",
        currency="KRW",
        subtotal=total - 3000,
        shipping=3000,
        total=total,
        shipping_address={"name": "Kim", "line1": "1 Sejong-daero", "city": "Seoul", "country": "KR"},
        shipping_method="standard",
        idempotency_key=f"key-{order_id}",
        request_fingerprint=f"fingerprint-{order_id}",
        created_at=since - timedelta(seconds=5),
        updated_at=since,
        **values,
    )


def timeline(order_id: str, event: str, at: datetime, **detail: Any) -> sa.Insert:
    return sa.insert(orders.order_timeline).values(order_id=order_id, event=event, at=at, detail=detail)


def payment(
    order_id: str,
    *,
    amount: int = 39000,
    step: str = "full",
    status: str = "succeeded",
    at: datetime | None = None,
) -> tuple[uuid.UUID, list[sa.Insert]]:
    payment_id = uuid.uuid4()
    statements = [
        sa.insert(payments.payments).values(
            id=payment_id,
            order_id=order_id,
            step=step,
            amount=amount,
            currency="KRW",
            status=status,
            psp_reference=f"psp-{payment_id}",
            decline_code=None if status == "succeeded" else "card_declined",
            card_brand="visa",
            card_last4="4242",
            created_at=at or ago(minutes=1),
        )
    ]
    if status == "succeeded":
        statements.append(ledger(order_id, payment_id, "capture", amount, at=at))
    return payment_id, statements


def ledger(
    order_id: str, payment_id: uuid.UUID, kind: str, amount: int, *, at: datetime | None = None
) -> sa.Insert:
    return sa.insert(payments.ledger_entries).values(
        order_id=order_id,
        payment_id=payment_id,
        kind=kind,
        amount=amount,
        currency="KRW",
        created_at=at or ago(minutes=1),
    )


def fulfillment_order(
    order_id: str, status: str, *, at: datetime | None = None, location: str = "seoul-1"
) -> tuple[uuid.UUID, sa.Insert]:
    fulfillment_id = uuid.uuid4()
    shipped = status in ("shipped", "delivered")
    table = fulfillment.fulfillment_orders
    grouping = {"group_key": location} if "group_key" in table.c else {}
    return fulfillment_id, sa.insert(table).values(
        **grouping,
        id=fulfillment_id,
        order_id=order_id,
        location=location,
        lines=[{"sku": "SHIRT-M", "quantity": 1}],
        shipping_address={"name": "Kim"},
        shipping_method="standard",
        status=status,
        carrier="CJ Logistics" if shipped else None,
        tracking_number="CJ0001" if shipped else None,
        created_at=at or ago(minutes=1),
    )


def fulfillment_event(fulfillment_id: uuid.UUID, kind: str, at: datetime) -> sa.Insert:
    return sa.insert(fulfillment.fulfillment_events).values(fulfillment_id=fulfillment_id, type=kind, at=at)


def product_with_stock(
    sku: str, *, on_hand: int, reserved: int, location: str = "seoul-1"
) -> list[sa.Insert]:
    product_id, variant_id = uuid.uuid4(), uuid.uuid4()
    return [
        sa.insert(catalog.products).values(id=product_id, title=f"Product {sku}"),
        sa.insert(catalog.variants).values(
            id=variant_id, product_id=product_id, sku=sku, options={}, position=0
        ),
        sa.insert(catalog.stock_levels).values(
            sku=sku, location=location, on_hand=on_hand, reserved=reserved
        ),
    ]


def preorders_under_cap(sku: str, *, cap: int, accepted: list[tuple[int, str]]) -> list[sa.Insert]:
    """A variant on pre-order with ``cap`` and pre-orders of (quantity, status) in queue order."""
    product_id = uuid.uuid4()
    statements: list[sa.Insert] = [
        sa.insert(catalog.products).values(id=product_id, title=f"Product {sku}"),
        sa.insert(catalog.variants).values(
            id=uuid.uuid4(), product_id=product_id, sku=sku, options={}, position=0
        ),
        sa.insert(catalog.preorder_policies).values(
            sku=sku,
            payment_mode="pay_now",
            deposit_amounts={},
            cap=cap,
            balance_due="on_ready",
            deposit_refundable=True,
            continue_selling_when_sold_out=False,
            early_bird_tiers=[],
            version=1,
            last_queue_position=len(accepted),
        ),
    ]
    for position, (quantity, status) in enumerate(accepted, start=1):
        statements.append(
            sa.insert(catalog.preorders).values(
                id=uuid.uuid4(),
                order_id=f"o-{sku}-{position}",
                sku=sku,
                quantity=quantity,
                queue_position=position,
                status=status,
                created_at=ago(hours=1),
            )
        )
    return statements


def reservation(
    order_id: str, sku: str, quantity: int, status: str = "reserved", *, at: datetime | None = None
) -> sa.Insert:
    return sa.insert(catalog.reservations).values(
        order_id=order_id,
        sku=sku,
        location="seoul-1",
        quantity=quantity,
        status=status,
        updated_at=at or ago(minutes=1),
    )


def notification(
    order_id: str,
    template: str,
    *,
    at: datetime,
    sent: bool = True,
    superseded_by: str | None = None,
    suppressed_reason: str | None = None,
) -> sa.Insert:
    status = (
        "superseded"
        if superseded_by
        else "suppressed"
        if suppressed_reason
        else "sent"
        if sent
        else "pending"
    )
    return sa.insert(notifications.notifications).values(
        id=uuid.uuid4(),
        source_message_id=uuid.uuid4(),
        order_id=order_id,
        template=template,
        channel="email",
        locale="ko-KR",
        recipient="buyer@example.com",
        subject=template,
        body="...",
        status=status,
        superseded_by=superseded_by,
        suppressed_reason=suppressed_reason,
        created_at=at,
        sent_at=at + timedelta(milliseconds=500) if status == "sent" else None,
    )


def outbox_row(table: sa.Table, *, created_at: datetime, published: bool) -> tuple[uuid.UUID, sa.Insert]:
    message_id = uuid.uuid4()
    return message_id, sa.insert(table).values(
        message_id=message_id,
        message_type="orders.order.placed.v1",
        exchange="shop.events",
        routing_key="orders.order.placed.v1",
        body=b"{}",
        headers={},
        created_at=created_at,
        published_at=created_at if published else None,
    )


def draft_with_customer(
    draft_id: str,
    *,
    status: str,
    reservation_id: str,
    reservation_status: str,
    earlier: tuple[str, ...] = (),
    updated_at: datetime | None = None,
) -> list[sa.Insert]:
    """A draft order (and the staff-made customer it is for) as orders stores it."""
    customer_id = str(uuid.uuid4())
    return [
        sa.insert(orders.customers).values(
            id=customer_id,
            email=f"{customer_id}@example.com",
            email_key=f"{customer_id}@example.com",
            name="Jane",
            locale="en",
            created_by="staff",
        ),
        sa.insert(orders.draft_orders).values(
            id=draft_id,
            status=status,
            customer_id=customer_id,
            currency="KRW",
            lines=[],
            payment_terms="due_on_receipt",
            reservation_id=reservation_id,
            reservation_status=reservation_status,
            earlier_reservations=list(earlier),
            expires_at=ago(minutes=-60),
            updated_at=updated_at or ago(hours=1),
        ),
    ]
