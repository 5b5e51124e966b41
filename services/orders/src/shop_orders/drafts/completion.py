"""Completing a draft: the staff mark it paid, complete it on payment terms, or the customer pays the invoice by card;
each turns the draft into an order in the same unit of work."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts.money import Money
from shop_contracts.values import Customer, LocatedLine, PricedLine, RequestedLine
from shop_orders.checkout import handlers as checkout
from shop_orders.core.domain import BANK_TRANSFER_TOKEN_PREFIX, OrderStatus, payment_due_date
from shop_orders.core.order import Order
from shop_orders.core.parts import OrderLine
from shop_orders.core.pricing import checkout_fingerprint
from shop_orders.core.repository import SqlOrders
from shop_orders.core.tables import draft_orders, orders
from shop_orders.drafts.domain import (
    DraftNotOpen,
    DraftNotReady,
    catalog_lines,
)
from shop_orders.drafts.handlers import DraftSettings, check_completable
from shop_orders.drafts.queries import (
    account_of,
    draft_totals,
    priced_lines,
)
from shop_orders.drafts.reservations import (
    DRAFT_EXPIRES,
    after_close,
    cancel_lapse,
    lock_draft,
    release_reservation,
)
from shop_orders.payment import terms as on_terms
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class Completed:
    order_id: str
    status: str
    created: bool


async def complete_with_card(
    uow: UnitOfWork, *, draft_id: str, payment_token: str, settings: DraftSettings, now: datetime
) -> Completed:
    """The customer pays the invoice with a PSP token: the draft becomes an order and the saga charges it.
    Asked again (a retry), the answer is the same order."""
    draft = await lock_draft(uow, draft_id)
    if draft.status == "completed":
        return await _completed(uow, draft)
    if draft.status != "open":
        raise DraftNotOpen(f"this invoice is no longer payable: the draft is {draft.status}")
    return await _complete(
        uow, draft, payment_token=payment_token, paid_by="card", reference=None, settings=settings, now=now
    )


async def complete_on_terms(
    uow: UnitOfWork, *, draft_id: str, settings: DraftSettings, now: datetime
) -> Completed:
    """Staff complete a draft on net or on-fulfillment terms into an order before it is paid: the order
    reserves (or takes over the draft's hold), is confirmed and ships; what it owes is due N days after today
    (net) or from its shipment (on fulfillment), and is paid later. Asked again, the same order."""
    draft = await lock_draft(uow, draft_id)
    if draft.status == "completed":
        return await _completed(uow, draft)
    if draft.status != "open":
        raise DraftNotOpen(f"draft {draft_id} is {draft.status}; it cannot be completed")
    if draft.payment_terms == "due_on_receipt":
        raise DraftNotReady(
            "the draft's payment terms are due on receipt: it becomes an order once paid (by card through the "
            "invoice link, or mark-paid for a bank transfer); change the terms to net or on_fulfillment to "
            "complete it unpaid",
            field="payment_terms",
        )
    return await _complete(
        uow, draft, payment_token=None, paid_by=None, reference=None, settings=settings, now=now
    )


async def mark_as_paid(
    uow: UnitOfWork, *, draft_id: str, reference: str, settings: DraftSettings, now: datetime
) -> Completed:
    """Staff saw the bank transfer arrive: the draft becomes a paid order (payments records the transfer in
    its ledger). Its units must still be held, so the money never pays for goods the shop no longer has.
    For a draft already completed on terms, the transfer pays its order (asked again: nothing more)."""
    draft = await lock_draft(uow, draft_id)
    if draft.status == "completed" and draft.paid_by is None:
        await on_terms.request_payment_on_terms(
            uow,
            order_id=draft.order_id,
            payment_token=f"{BANK_TRANSFER_TOKEN_PREFIX}{reference}",
            bank_transfer_reference=reference,
        )
        await uow.session.execute(
            sa.update(draft_orders)
            .where(draft_orders.c.id == draft_id, draft_orders.c.payment_reference.is_(None))
            .values(payment_reference=reference, updated_at=now)
        )
        completed = await _completed(uow, draft)
        return completed
    if draft.status == "completed":
        return await _completed(uow, draft)
    if draft.status != "open":
        raise DraftNotOpen(f"draft {draft_id} is {draft.status}; it cannot be paid")
    if draft.reservation_status != "held":
        raise DraftNotReady(
            f"the draft's units are not held (reservation {draft.reservation_status}): set reserve_until to "
            "reserve them again before recording a payment",
            field="reserve_until",
        )
    return await _complete(
        uow,
        draft,
        payment_token=f"{BANK_TRANSFER_TOKEN_PREFIX}{reference}",
        paid_by="bank_transfer",
        reference=reference,
        settings=settings,
        now=now,
    )


async def _complete(
    uow: UnitOfWork,
    draft: Row[Any],
    *,
    payment_token: str | None,
    paid_by: str | None,
    reference: str | None,
    settings: DraftSettings,
    now: datetime,
) -> Completed:
    check_completable(draft)
    account = await account_of(uow, draft.customer_id)
    totals = draft_totals(draft, settings.taxes)
    carried_over = draft.reservation_status == "held"
    order_id = draft.reservation_id if carried_over else str(uuid.uuid4())
    if not carried_over and draft.reservation_status == "requested":
        release_reservation(uow, draft.reservation_id, reason="draft_completed")
    if draft.reservation_id is not None:
        await cancel_lapse(uow, draft.reservation_id, now)
    await uow.jobs.cancel(key=f"{DRAFT_EXPIRES}:{draft.id}", now=now)
    shipping = draft.shipping_line or {}
    terms: dict[str, Any] = {}
    if payment_token is None:  # completed on terms: paid later
        terms = {
            "payment_terms": draft.payment_terms,
            "net_days": draft.net_days,
            "payment_due_amount": Money(totals.total, draft.currency),
            "payment_due_date": payment_due_date(draft.payment_terms, draft.net_days, now),
            "payment_status": "awaiting_payment",
        }
    priced = priced_lines(draft.lines)
    zero = Money.zero(draft.currency)
    order = Order(
        id=order_id,
        status=OrderStatus.PENDING,
        email=account.email,
        locale=account.locale,
        currency=draft.currency,
        subtotal=Money(totals.subtotal, draft.currency),
        shipping=Money(totals.shipping, draft.currency),
        total=Money(totals.total, draft.currency),
        discount=Money(totals.discounts, draft.currency),
        tax_rate=totals.tax.rate,
        tax_added_on_top=not totals.tax.included,
        tax_added=zero if totals.tax.included else Money(totals.tax.amount, draft.currency),
        captured=zero,
        refund_requested=zero,
        shipping_address=draft.shipping_address,
        shipping_method=shipping.get("method") or "custom",
        payment_token=payment_token,
        idempotency_key=f"draft:{draft.id}",
        request_fingerprint=checkout_fingerprint({"draft_id": draft.id}),
        customer_id=draft.customer_id,
        created_at=now,
        updated_at=now,
        **terms,
        lines=[
            OrderLine(
                order_id=order_id,
                position=position,
                sku=line.sku or f"custom:{position + 1}",
                title=line.title,
                quantity=line.quantity,
                unit_price=Money(line.unit_price, draft.currency),
                line_total=Money(line.gross, draft.currency),
                paid_now=zero,
                balance=zero,
                balance_assigned=zero,
                kind="in_stock" if line.sku else "custom",
            )
            for position, line in enumerate(priced)
        ],
    )
    order.record("placed", total=totals.total, currency=draft.currency, draft_id=draft.id, paid_by=paid_by)
    await SqlOrders(uow.session).add(order)
    if terms.get("payment_due_date") is not None:
        await on_terms.schedule_payment_overdue(uow, order_id=order_id, due_date=terms["payment_due_date"])
    await uow.session.execute(
        sa.update(draft_orders)
        .where(draft_orders.c.id == draft.id)
        .values(
            status="completed",
            order_id=order_id,
            paid_by=paid_by,
            payment_reference=reference,
            completed_at=now,
            updated_at=now,
            reservation_status="carried_over" if carried_over else after_close(draft.reservation_status),
        )
    )
    customer = Customer(email=account.email, locale=account.locale)
    uow.publish(
        contracts.OrderPlaced(
            order_id=order_id,
            customer=customer,
            lines=[
                PricedLine(
                    sku=line.sku or f"custom:{position + 1}",
                    title=line.title,
                    quantity=line.quantity,
                    unit_price=Money(line.unit_price, draft.currency),
                    line_total=Money(line.gross, draft.currency),
                )
                for position, line in enumerate(priced)
            ],
            total=Money(totals.total, draft.currency),
        ),
        subject=order_id,
        correlation_id=order_id,
    )
    if carried_over:
        # Catalog already holds the units under this id: continue the saga from "stock reserved", in this unit of work.
        await checkout.take_payment_for_reserved_stock(
            uow,
            order_id=order_id,
            lines=[LocatedLine.model_validate(line) for line in draft.reserved_lines],
            preorder_lines=[],
        )
    else:
        uow.publish(
            catalog_contracts.ReserveStock(
                order_id=order_id,
                lines=[
                    RequestedLine(sku=sku, quantity=quantity) for sku, quantity in catalog_lines(draft.lines)
                ],
                customer_email=account.email,
            ),
            subject=order_id,
            correlation_id=order_id,
        )
    return Completed(order_id=order_id, status=OrderStatus.PENDING.value, created=True)


async def _completed(uow: UnitOfWork, draft: Row[Any]) -> Completed:
    status = await uow.session.scalar(sa.select(orders.c.status).where(orders.c.id == draft.order_id))
    return Completed(order_id=draft.order_id, status=str(status), created=False)
