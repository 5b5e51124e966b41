"""Draft orders' use cases: staff build an order for a customer, hold its stock, send an invoice, and the draft
becomes an ordinary order when it is paid (card through the invoice's link, or a bank transfer staff saw).

Each function is one unit of work that commits. Catalog holds a draft's units under a reservation id of its
own (a new one each time the lines change); a draft completed while its units are held becomes the order with
that id, so the reservation carries over and the saga continues from "stock reserved". A draft whose
reservation lapsed completes into a new order that reserves again as any checkout does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts.values import Customer, LocatedLine, PricedLine, RequestedLine
from shop_orders import handlers, repository
from shop_orders.customer_handlers import NewCustomer, account_for_email
from shop_orders.domain import (
    NotSoldInCurrency,
    OrderStatus,
    TaxTable,
    UnknownCustomer,
    UnknownShippingMethod,
    UnknownSku,
    checkout_fingerprint,
)
from shop_orders.draft_pricing import (
    BANK_TRANSFER_TOKEN_PREFIX,
    Discount,
    DraftLine,
    DraftNotOpen,
    DraftNotReady,
    DraftTotals,
    InvalidDraft,
    UnknownDraft,
    check_lines,
    payment_due_date,
    price_draft,
)
from shop_orders.tables import customers, draft_orders, order_lines, orders, scheduled_jobs
from shop_runtime import scheduling
from shop_runtime.database import UnitOfWork

RESERVATION_LAPSES = "draft_reservation_lapses"
DRAFT_EXPIRES = "draft_expires"
HOLDING = ("requested", "held")
"""Reservation states in which catalog holds (or is about to hold) the draft's units."""


@dataclass(frozen=True)
class LineInput:
    quantity: int
    sku: str | None = None
    title: str | None = None
    unit_price: int | None = None
    """A custom line's price."""
    price_override: int | None = None
    """A catalog line's price instead of the catalog's."""
    discount: Discount | None = None


@dataclass(frozen=True)
class ShippingInput:
    method: str | None = None
    title: str | None = None
    price: int | None = None


@dataclass(frozen=True)
class DraftSettings:
    shipping_rates: dict[str, dict[str, int]]
    taxes: TaxTable
    expiry: timedelta


@dataclass(frozen=True)
class CustomerInput:
    customer_id: str | None = None
    email: str | None = None
    name: str | None = None
    locale: str | None = None


@dataclass(frozen=True)
class Completed:
    order_id: str
    status: str
    created: bool


# Building and changing a draft -------------------------------------------------------------------------------


async def create_draft(
    uow: UnitOfWork,
    *,
    customer: CustomerInput,
    currency: str,
    lines: list[LineInput],
    order_discount: Discount | None,
    shipping: ShippingInput | None,
    shipping_address: dict[str, Any] | None,
    payment_terms: str,
    net_days: int | None,
    reserve_until: datetime | None,
    note: str | None,
    settings: DraftSettings,
    now: datetime,
    duplicated_from: str | None = None,
) -> str:
    """A new open draft for an existing customer, or for the account of an email (made when there is none);
    its catalog units are reserved until ``reserve_until`` when given."""
    customer_id = await _customer_for(uow, customer, now)
    stored_lines = await _lines(uow, lines, currency)
    draft_id = str(uuid.uuid4())
    await uow.session.execute(
        sa.insert(draft_orders).values(
            id=draft_id,
            status="open",
            customer_id=customer_id,
            currency=currency,
            lines=stored_lines,
            order_discount=_discount_value(order_discount),
            shipping_line=_shipping(shipping, currency, settings.shipping_rates),
            shipping_address=shipping_address,
            payment_terms=payment_terms,
            net_days=net_days if payment_terms == "net" else None,
            note=note,
            reserve_until=reserve_until,
            expires_at=now + settings.expiry,
            duplicated_from=duplicated_from,
            created_at=now,
            updated_at=now,
        )
    )
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        kind=DRAFT_EXPIRES,
        key=f"{DRAFT_EXPIRES}:{draft_id}",
        due_at=now + settings.expiry,
        payload={"draft_id": draft_id},
    )
    draft = await _lock(uow, draft_id)
    await _reserve_again(uow, draft, now=now)
    await uow.commit()
    return draft_id


async def update_draft(
    uow: UnitOfWork, *, draft_id: str, changes: dict[str, Any], settings: DraftSettings, now: datetime
) -> None:
    """Change what staff sent (``changes`` holds only the fields given). Changed lines reserve again under a
    new reservation; a changed ``reserve_until`` moves the hold (or reserves again when it had lapsed)."""
    draft = await _open(uow, draft_id)
    values: dict[str, Any] = {"updated_at": now}
    if "lines" in changes:
        values["lines"] = await _lines(uow, changes["lines"], draft.currency)
    if "order_discount" in changes:
        values["order_discount"] = _discount_value(changes["order_discount"])
    if "shipping" in changes:
        values["shipping_line"] = _shipping(changes["shipping"], draft.currency, settings.shipping_rates)
    for name in ("shipping_address", "note", "reserve_until"):
        if name in changes:
            values[name] = changes[name]
    if "payment_terms" in changes:
        values["payment_terms"] = changes["payment_terms"]
        values["net_days"] = changes.get("net_days") if changes["payment_terms"] == "net" else None
    lines_changed = "lines" in values and _catalog_lines(values["lines"]) != _catalog_lines(draft.lines)
    hold_changed = "reserve_until" in values and values["reserve_until"] != draft.reserve_until
    await uow.session.execute(sa.update(draft_orders).where(draft_orders.c.id == draft_id).values(**values))
    if lines_changed or hold_changed:
        updated = await _lock(uow, draft_id)
        if not lines_changed and draft.reservation_status in HOLDING and _holds_until(updated, now):
            await scheduling.reschedule(
                uow.session,
                scheduled_jobs,
                kind=RESERVATION_LAPSES,
                key=f"{RESERVATION_LAPSES}:{draft.reservation_id}",
                due_at=updated.reserve_until,
                payload={"draft_id": draft_id, "reservation_id": draft.reservation_id},
            )
        else:
            await _reserve_again(uow, updated, now=now)
    await uow.commit()


async def delete_draft(uow: UnitOfWork, *, draft_id: str, now: datetime) -> None:
    """Delete an open draft: its held units go back to stock. Deleting it again changes nothing."""
    draft = await _lock(uow, draft_id)
    if draft.status == "deleted":
        return
    if draft.status != "open":
        raise DraftNotOpen(f"draft {draft_id} is {draft.status}; only an open draft can be deleted")
    await _close(uow, draft, status="deleted", reservation_status="released", now=now)
    await uow.commit()


async def duplicate_draft(uow: UnitOfWork, *, draft_id: str, settings: DraftSettings, now: datetime) -> str:
    """A new open draft with the same customer, lines (catalog lines at today's catalog price unless
    overridden), discounts, shipping, address, terms and note; it holds no stock until given a
    ``reserve_until``."""
    source = await _draft(uow, draft_id)
    return await create_draft(
        uow,
        customer=CustomerInput(customer_id=source.customer_id),
        currency=source.currency,
        lines=[_line_input(line) for line in source.lines],
        order_discount=_discount(source.order_discount),
        shipping=ShippingInput(**source.shipping_line) if source.shipping_line else None,
        shipping_address=source.shipping_address,
        payment_terms=source.payment_terms,
        net_days=source.net_days,
        reserve_until=None,
        note=source.note,
        settings=settings,
        now=now,
        duplicated_from=draft_id,
    )


async def send_invoice(
    uow: UnitOfWork, *, draft_id: str, token: str, settings: DraftSettings, now: datetime
) -> None:
    """Email the customer the invoice: its amounts, terms and a checkout link carrying ``token``."""
    draft = await _open(uow, draft_id)
    _check_completable(draft)
    account = await _account(uow, draft.customer_id)
    totals = draft_totals(draft, settings.taxes)
    due_date = payment_due_date(draft.payment_terms, draft.net_days, now)
    expires_at = draft.expires_at
    if due_date is not None and _end_of(due_date) > expires_at:
        # Net terms past the draft's expiry: the invoice stays payable until the end of its due date.
        expires_at = _end_of(due_date)
        await scheduling.reschedule(
            uow.session,
            scheduled_jobs,
            kind=DRAFT_EXPIRES,
            key=f"{DRAFT_EXPIRES}:{draft_id}",
            due_at=expires_at,
            payload={"draft_id": draft_id},
        )
    await uow.session.execute(
        sa.update(draft_orders)
        .where(draft_orders.c.id == draft_id)
        .values(invoice_sent_at=now, updated_at=now, expires_at=expires_at)
    )
    uow.publish(
        contracts.DraftInvoiceSent(
            draft_id=draft_id,
            customer=Customer(email=account.email, locale=account.locale),
            currency=draft.currency,
            lines=[
                contracts.DraftInvoiceLine(
                    sku=line.sku,
                    title=line.title,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount=line.discount_amount,
                    line_total=line.gross - line.discount_amount,
                )
                for line in _priced_lines(draft.lines)
            ],
            subtotal=totals.subtotal,
            discount=totals.discounts,
            shipping=totals.shipping,
            tax=totals.tax.amount,
            tax_included=totals.tax.included,
            total=totals.total,
            payment_terms=draft.payment_terms,
            net_days=draft.net_days,
            due_date=due_date,
            checkout_token=token,
            expires_at=expires_at,
        ),
        subject=draft_id,
        correlation_id=draft_id,
    )
    await uow.commit()


# Completing a draft into an order ----------------------------------------------------------------------------


async def complete_with_card(
    uow: UnitOfWork, *, draft_id: str, payment_token: str, settings: DraftSettings, now: datetime
) -> Completed:
    """The customer pays the invoice with a PSP token: the draft becomes an order and the saga charges it.
    Asked again (a retry), the answer is the same order."""
    draft = await _lock(uow, draft_id)
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
    draft = await _lock(uow, draft_id)
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
    draft = await _lock(uow, draft_id)
    if draft.status == "completed" and draft.paid_by is None:
        await handlers.request_payment_on_terms(
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
        await uow.commit()
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
    _check_completable(draft)
    account = await _account(uow, draft.customer_id)
    totals = draft_totals(draft, settings.taxes)
    carried_over = draft.reservation_status == "held"
    order_id = draft.reservation_id if carried_over else str(uuid.uuid4())
    if not carried_over and draft.reservation_status == "requested":
        _release(uow, draft.reservation_id, reason="draft_completed")
    if draft.reservation_id is not None:
        await _cancel_lapse(uow, draft.reservation_id, now)
    await scheduling.cancel(uow.session, scheduled_jobs, key=f"{DRAFT_EXPIRES}:{draft.id}", now=now)
    shipping = draft.shipping_line or {}
    terms: dict[str, Any] = {}
    if payment_token is None:  # completed on terms: paid later
        terms = {
            "payment_terms": draft.payment_terms,
            "net_days": draft.net_days,
            "payment_due_amount": totals.total,
            "payment_due_date": payment_due_date(draft.payment_terms, draft.net_days, now),
            "payment_status": "awaiting_payment",
        }
    await uow.session.execute(
        sa.insert(orders).values(
            id=order_id,
            status=OrderStatus.PENDING.value,
            email=account.email,
            locale=account.locale,
            currency=draft.currency,
            subtotal=totals.subtotal,
            shipping=totals.shipping,
            total=totals.total,
            discount=totals.discounts,
            tax_rate=totals.tax.rate,
            tax_added_on_top=not totals.tax.included,
            tax_added=0 if totals.tax.included else totals.tax.amount,
            shipping_address=draft.shipping_address,
            shipping_method=shipping.get("method") or "custom",
            payment_token=payment_token,
            idempotency_key=f"draft:{draft.id}",
            request_fingerprint=checkout_fingerprint({"draft_id": draft.id}),
            customer_id=draft.customer_id,
            created_at=now,
            **terms,
        )
    )
    if terms.get("payment_due_date") is not None:
        await handlers.schedule_payment_overdue(uow, order_id=order_id, due_date=terms["payment_due_date"])
    priced = _priced_lines(draft.lines)
    await uow.session.execute(
        sa.insert(order_lines),
        [
            {
                "order_id": order_id,
                "position": position,
                "sku": line.sku or f"custom:{position + 1}",
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "line_total": line.gross,
                "kind": "in_stock" if line.sku else "custom",
            }
            for position, line in enumerate(priced)
        ],
    )
    await repository.add_to_timeline(
        uow.session,
        order_id,
        "placed",
        total=totals.total,
        currency=draft.currency,
        draft_id=draft.id,
        paid_by=paid_by,
    )
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
            reservation_status="carried_over" if carried_over else _after_close(draft.reservation_status),
        )
    )
    customer = Customer(email=account.email, locale=account.locale)
    uow.publish(
        contracts.OrderPlaced(
            order_id=order_id,
            customer=customer,
            currency=draft.currency,
            lines=[
                PricedLine(
                    sku=line.sku or f"custom:{position + 1}",
                    title=line.title,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    line_total=line.gross,
                )
                for position, line in enumerate(priced)
            ],
            total=totals.total,
        ),
        subject=order_id,
        correlation_id=order_id,
    )
    if carried_over:
        # Catalog already holds the units under this id: continue the saga from "stock reserved" (it commits).
        await handlers.take_payment_for_reserved_stock(
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
                    RequestedLine(sku=sku, quantity=quantity) for sku, quantity in _catalog_lines(draft.lines)
                ],
                customer_email=account.email,
            ),
            subject=order_id,
            correlation_id=order_id,
        )
        await uow.commit()
    return Completed(order_id=order_id, status=OrderStatus.PENDING.value, created=True)


async def _completed(uow: UnitOfWork, draft: Row[Any]) -> Completed:
    status = await uow.session.scalar(sa.select(orders.c.status).where(orders.c.id == draft.order_id))
    return Completed(order_id=draft.order_id, status=str(status), created=False)


def _check_completable(draft: Row[Any]) -> None:
    if not _catalog_lines(draft.lines):
        raise DraftNotReady("a draft needs at least one catalog line to become an order", field="lines")
    if draft.shipping_address is None:
        raise DraftNotReady("the draft has no shipping address", field="shipping_address")
    if draft.shipping_line is None:
        raise DraftNotReady("the draft has no shipping line", field="shipping")


# Reservation outcomes and the schedule -----------------------------------------------------------------------


async def is_draft_reservation(uow: UnitOfWork, reservation_id: str) -> bool:
    """Whether catalog's answer about ``reservation_id`` is for a draft (not for an order that took it over)."""
    found = await uow.session.scalar(
        sa.select(sa.func.count())
        .select_from(draft_orders)
        .where(
            sa.or_(
                sa.and_(
                    draft_orders.c.reservation_id == reservation_id,
                    sa.or_(draft_orders.c.order_id.is_(None), draft_orders.c.order_id != reservation_id),
                ),
                sa.literal(reservation_id) == sa.any_(draft_orders.c.earlier_reservations),
            )
        )
    )
    return bool(found)


async def record_reservation(
    uow: UnitOfWork, *, reservation_id: str, lines: list[LocatedLine], preorder_places: int
) -> None:
    """Catalog holds the units: the draft shows them held, unless it no longer wants them (changed, deleted,
    completed or lapsed meanwhile), in which case they go straight back."""
    draft = await _by_reservation(uow, reservation_id)
    current = draft.reservation_id == reservation_id
    if (
        current
        and draft.status == "open"
        and draft.reservation_status == "requested"
        and preorder_places == 0
    ):
        await _set_reservation(
            uow,
            draft.id,
            "held",
            reserved_lines=[line.model_dump() for line in lines],
            reservation_detail=None,
        )
    elif current and draft.status == "open" and draft.reservation_status == "requested":
        _release(uow, reservation_id, reason="draft_preorder")
        await _set_reservation(
            uow, draft.id, "rejected", reservation_detail="a line is on pre-order: drafts hold stock only"
        )
    else:
        _release(uow, reservation_id, reason="draft_reservation_not_wanted")
    await uow.commit()


async def record_reservation_refused(uow: UnitOfWork, *, reservation_id: str, detail: str) -> None:
    draft = await _by_reservation(uow, reservation_id)
    if draft.reservation_id == reservation_id and draft.reservation_status == "requested":
        await _set_reservation(uow, draft.id, "rejected", reservation_detail=detail)
    await uow.commit()


async def lapse_reservation(uow: UnitOfWork, *, draft_id: str, reservation_id: str, now: datetime) -> None:
    """``reserve_until`` passed: the draft's units go back to stock and the draft shows the hold lapsed."""
    draft = await _lock(uow, draft_id)
    if (
        draft.reservation_id == reservation_id
        and draft.status == "open"
        and draft.reservation_status in HOLDING
    ):
        _release(uow, reservation_id, reason="draft_reservation_lapsed")
        await _set_reservation(
            uow, draft_id, "lapsed", reservation_detail=f"held until {draft.reserve_until}"
        )
    await uow.commit()


async def expire_draft(uow: UnitOfWork, *, draft_id: str, now: datetime) -> None:
    """An open draft past its expiry is marked expired and its units are released."""
    draft = await _lock(uow, draft_id)
    if draft.status == "open":
        await _close(uow, draft, status="expired", reservation_status="released", now=now)
    await uow.commit()


# Reading -----------------------------------------------------------------------------------------------------


def draft_totals(draft: Row[Any], taxes: TaxTable) -> DraftTotals:
    return price_draft(
        _priced_lines(draft.lines),
        order_discount=_discount(draft.order_discount),
        shipping=int((draft.shipping_line or {}).get("price") or 0),
        shipping_address=draft.shipping_address,
        taxes=taxes,
    )


async def draft_view(uow: UnitOfWork, draft_id: str, *, taxes: TaxTable) -> dict[str, Any]:
    draft = await _draft(uow, draft_id)
    account = await _account(uow, draft.customer_id)
    return _view(draft, account, taxes)


async def drafts_list(
    uow: UnitOfWork, *, status: str | None, customer_id: str | None, limit: int, taxes: TaxTable
) -> dict[str, Any]:
    query = sa.select(draft_orders).order_by(draft_orders.c.created_at.desc(), draft_orders.c.id).limit(limit)
    if status is not None:
        query = query.where(draft_orders.c.status == status)
    if customer_id is not None:
        query = query.where(draft_orders.c.customer_id == customer_id)
    rows = list(await uow.session.execute(query))
    accounts = {
        row.id: row
        for row in await uow.session.execute(
            sa.select(customers).where(customers.c.id.in_({row.customer_id for row in rows}))
        )
    }
    return {"drafts": [_view(row, accounts[row.customer_id], taxes) for row in rows]}


def invoice_view(view: dict[str, Any]) -> dict[str, Any]:
    """What the customer sees through the invoice's link: no staff notes, no reservation internals."""
    hidden = {"note", "reservation", "duplicated_from", "payment_reference"}
    return {key: value for key, value in view.items() if key not in hidden}


def _view(draft: Row[Any], account: Row[Any], taxes: TaxTable) -> dict[str, Any]:
    totals = draft_totals(draft, taxes)
    priced = _priced_lines(draft.lines)
    return {
        "id": draft.id,
        "status": draft.status,
        "customer": {
            "id": account.id,
            "email": account.email,
            "name": account.name,
            "locale": account.locale,
        },
        "currency": draft.currency,
        "lines": [
            {
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "catalog_price": line.catalog_price,
                "unit_price": line.unit_price,
                "price_overridden": line.sku is not None and line.unit_price != line.catalog_price,
                "discount": _discount_value(line.discount),
                "discount_amount": line.discount_amount,
                "line_total": line.gross - line.discount_amount,
                "reserved": line.sku is not None,
            }
            for line in priced
        ],
        "order_discount": draft.order_discount,
        "shipping": draft.shipping_line,
        "shipping_address": draft.shipping_address,
        "totals": {
            "subtotal": totals.subtotal,
            "line_discounts": totals.line_discounts,
            "order_discount": totals.order_discount,
            "discount": totals.discounts,
            "shipping": totals.shipping,
            "tax": totals.tax.amount,
            "tax_rate": totals.tax.rate,
            "tax_included": totals.tax.included,
            "total": totals.total,
        },
        "payment_terms": _terms(draft),
        "reservation": {
            "status": draft.reservation_status,
            "reserve_until": draft.reserve_until,
            "lines": draft.reserved_lines,
            "detail": draft.reservation_detail,
        },
        "note": draft.note,
        "expires_at": draft.expires_at,
        "invoice_sent_at": draft.invoice_sent_at,
        "order_id": draft.order_id,
        "paid_by": draft.paid_by,
        "payment_reference": draft.payment_reference,
        "duplicated_from": draft.duplicated_from,
        "created_at": draft.created_at,
        "updated_at": draft.updated_at,
    }


def _terms(draft: Row[Any]) -> dict[str, Any]:
    return {
        "type": draft.payment_terms,
        "net_days": draft.net_days,
        "due_date": payment_due_date(draft.payment_terms, draft.net_days, draft.invoice_sent_at),
    }


# Helpers -----------------------------------------------------------------------------------------------------


async def _customer_for(uow: UnitOfWork, customer: CustomerInput, now: datetime) -> str:
    if customer.customer_id is not None:
        found = await uow.session.scalar(
            sa.select(customers.c.id).where(customers.c.id == customer.customer_id)
        )
        if found is None:
            raise UnknownCustomer(f"no customer {customer.customer_id}", field="customer_id")
        return str(found)
    assert customer.email is not None
    assert customer.name is not None
    return await account_for_email(
        uow,
        NewCustomer(
            email=customer.email,
            name=customer.name,
            locale=customer.locale or "ko",
            marketing_consent=False,
            password_hash=None,
            created_by="staff",
        ),
        now,
    )


async def _lines(uow: UnitOfWork, lines: list[LineInput], currency: str) -> list[dict[str, Any]]:
    """The lines as stored: catalog lines take their title and price in ``currency`` from orders' copy of the
    catalog; a custom line keeps what staff gave."""
    variants = await repository.variants_by_sku(uow.session, [line.sku for line in lines if line.sku])
    stored = []
    for index, line in enumerate(lines):
        catalog_price: int | None = None
        if line.sku is not None:
            variant = variants.get(line.sku)
            if variant is None:
                raise UnknownSku(f"no product variant has SKU {line.sku!r}", field=f"lines[{index}].sku")
            if currency not in variant.prices:
                raise NotSoldInCurrency(f"{line.sku} has no price in {currency}", field=f"lines[{index}].sku")
            if variant.preorder_policy is not None:
                raise InvalidDraft(
                    f"{line.sku} is on pre-order; a draft order holds stock only", field=f"lines[{index}].sku"
                )
            catalog_price = variant.prices[currency]
            title = variant.title
            unit_price = line.price_override if line.price_override is not None else catalog_price
        else:
            if line.title is None or line.unit_price is None:
                raise InvalidDraft(
                    "a custom line (no SKU) needs a title and a unit_price", field=f"lines[{index}].title"
                )
            title, unit_price = line.title, line.unit_price
        stored.append(
            {
                "sku": line.sku,
                "title": title,
                "quantity": line.quantity,
                "catalog_price": catalog_price,
                "price_override": line.price_override,
                "unit_price": unit_price,
                "discount": _discount_value(line.discount),
            }
        )
    check_lines(_priced_lines(stored))
    return stored


def _priced_lines(stored: list[dict[str, Any]]) -> list[DraftLine]:
    return [
        DraftLine(
            title=line["title"],
            quantity=int(line["quantity"]),
            unit_price=int(line["unit_price"]),
            sku=line["sku"],
            catalog_price=line["catalog_price"],
            discount=_discount(line["discount"]),
        )
        for line in stored
    ]


def _line_input(line: dict[str, Any]) -> LineInput:
    if line["sku"] is None:
        return LineInput(
            quantity=line["quantity"],
            title=line["title"],
            unit_price=line["unit_price"],
            discount=_discount(line["discount"]),
        )
    return LineInput(
        quantity=line["quantity"],
        sku=line["sku"],
        price_override=line["price_override"],
        discount=_discount(line["discount"]),
    )


def _catalog_lines(stored: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return sorted((line["sku"], int(line["quantity"])) for line in stored if line["sku"] is not None)


def _discount(value: dict[str, Any] | None) -> Discount | None:
    if value is None:
        return None
    return Discount(kind=value["kind"], value=int(value["value"]), reason=value["reason"])


def _discount_value(discount: Discount | None) -> dict[str, Any] | None:
    if discount is None:
        return None
    return {"kind": discount.kind, "value": discount.value, "reason": discount.reason}


def _shipping(
    shipping: ShippingInput | None, currency: str, rates: dict[str, dict[str, int]]
) -> dict[str, Any] | None:
    """A configured rate by method (its price in the currency) or a custom title and price."""
    if shipping is None:
        return None
    if shipping.method is not None:
        method_rates = rates.get(shipping.method)
        if method_rates is None:
            raise UnknownShippingMethod(
                f"unknown shipping method {shipping.method!r}; choose one of {sorted(rates)}",
                field="shipping.method",
            )
        if currency not in method_rates:
            raise UnknownShippingMethod(
                f"{shipping.method} shipping has no rate in {currency}", field="currency"
            )
        return {"method": shipping.method, "title": shipping.method, "price": method_rates[currency]}
    if shipping.title is None or shipping.price is None:
        raise InvalidDraft("custom shipping needs a title and a price (or give a method)", field="shipping")
    return {"method": None, "title": shipping.title, "price": shipping.price}


async def _reserve_again(uow: UnitOfWork, draft: Row[Any], *, now: datetime) -> None:
    """Give back whatever the draft holds and, when it should hold its catalog lines now, ask catalog for them
    under a new reservation id, released by the schedule at ``reserve_until``."""
    if draft.reservation_status in HOLDING:
        _release(uow, draft.reservation_id, reason="draft_changed")
        await _cancel_lapse(uow, draft.reservation_id, now)
    wanted = _catalog_lines(draft.lines)
    if not wanted or not _holds_until(draft, now):
        status = "released" if draft.reservation_status in HOLDING else draft.reservation_status
        await _set_reservation(uow, draft.id, status, reserved_lines=[])
        return
    reservation_id = str(uuid.uuid4())
    account = await _account(uow, draft.customer_id)
    earlier = list(draft.earlier_reservations)
    if draft.reservation_id is not None:
        earlier.append(draft.reservation_id)
    await _set_reservation(
        uow,
        draft.id,
        "requested",
        reservation_id=reservation_id,
        earlier_reservations=earlier,
        reserved_lines=[],
        reservation_detail=None,
    )
    uow.publish(
        catalog_contracts.ReserveStock(
            order_id=reservation_id,
            lines=[RequestedLine(sku=sku, quantity=quantity) for sku, quantity in wanted],
            customer_email=account.email,
        ),
        subject=reservation_id,
        correlation_id=draft.id,
    )
    await scheduling.schedule(
        uow.session,
        scheduled_jobs,
        kind=RESERVATION_LAPSES,
        key=f"{RESERVATION_LAPSES}:{reservation_id}",
        due_at=draft.reserve_until,
        payload={"draft_id": draft.id, "reservation_id": reservation_id},
    )


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _holds_until(draft: Row[Any], now: datetime) -> bool:
    return draft.reserve_until is not None and draft.reserve_until > now


async def _close(
    uow: UnitOfWork, draft: Row[Any], *, status: str, reservation_status: str, now: datetime
) -> None:
    if draft.reservation_status in HOLDING:
        _release(uow, draft.reservation_id, reason=f"draft_{status}")
        await _cancel_lapse(uow, draft.reservation_id, now)
    await scheduling.cancel(uow.session, scheduled_jobs, key=f"{DRAFT_EXPIRES}:{draft.id}", now=now)
    await uow.session.execute(
        sa.update(draft_orders)
        .where(draft_orders.c.id == draft.id)
        .values(
            status=status,
            updated_at=now,
            reservation_status=reservation_status
            if draft.reservation_status in HOLDING
            else draft.reservation_status,
        )
    )


def _after_close(reservation_status: str) -> str:
    return "released" if reservation_status in HOLDING else reservation_status


def _release(uow: UnitOfWork, reservation_id: str, *, reason: str) -> None:
    uow.publish(
        catalog_contracts.ReleaseStock(order_id=reservation_id, reason=reason),
        subject=reservation_id,
    )


async def _cancel_lapse(uow: UnitOfWork, reservation_id: str, now: datetime) -> None:
    await scheduling.cancel(
        uow.session, scheduled_jobs, key=f"{RESERVATION_LAPSES}:{reservation_id}", now=now
    )


async def _set_reservation(uow: UnitOfWork, draft_id: str, status: str, **values: Any) -> None:
    await uow.session.execute(
        sa.update(draft_orders)
        .where(draft_orders.c.id == draft_id)
        .values(reservation_status=status, updated_at=sa.func.now(), **values)
    )


async def _draft(uow: UnitOfWork, draft_id: str) -> Row[Any]:
    row = (await uow.session.execute(sa.select(draft_orders).where(draft_orders.c.id == draft_id))).first()
    if row is None:
        raise UnknownDraft(f"no draft order {draft_id}", field="draft_id")
    return row


async def _lock(uow: UnitOfWork, draft_id: str) -> Row[Any]:
    row = (
        await uow.session.execute(
            sa.select(draft_orders).where(draft_orders.c.id == draft_id).with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownDraft(f"no draft order {draft_id}", field="draft_id")
    return row


async def _open(uow: UnitOfWork, draft_id: str) -> Row[Any]:
    draft = await _lock(uow, draft_id)
    if draft.status != "open":
        raise DraftNotOpen(f"draft {draft_id} is {draft.status}; it can no longer change", field="draft_id")
    return draft


async def _by_reservation(uow: UnitOfWork, reservation_id: str) -> Row[Any]:
    row = (
        await uow.session.execute(
            sa.select(draft_orders)
            .where(
                sa.or_(
                    draft_orders.c.reservation_id == reservation_id,
                    sa.literal(reservation_id) == sa.any_(draft_orders.c.earlier_reservations),
                )
            )
            .with_for_update()
        )
    ).first()
    if row is None:
        raise UnknownDraft(f"no draft holds reservation {reservation_id}")
    return row


async def _account(uow: UnitOfWork, customer_id: str) -> Row[Any]:
    row = (await uow.session.execute(sa.select(customers).where(customers.c.id == customer_id))).first()
    if row is None:
        raise UnknownCustomer(f"no customer {customer_id}", field="customer_id")
    return row
