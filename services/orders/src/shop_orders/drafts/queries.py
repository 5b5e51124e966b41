"""Read side of draft orders: a draft with its totals, the list, and the invoice the customer sees."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from shop_orders.core.domain import payment_due_date
from shop_orders.core.errors import UnknownCustomer
from shop_orders.core.pricing import TaxTable
from shop_orders.core.tables import customers, draft_orders
from shop_orders.drafts.domain import (
    Discount,
    DraftLine,
    DraftTotals,
    UnknownDraft,
    price_draft,
)
from shop_runtime.database import UnitOfWork


def draft_totals(draft: Row[Any], taxes: TaxTable) -> DraftTotals:
    return price_draft(
        priced_lines(draft.lines),
        currency=draft.currency,
        order_discount=draft_discount(draft.order_discount),
        shipping=int((draft.shipping_line or {}).get("price") or 0),
        shipping_address=draft.shipping_address,
        taxes=taxes,
    )


async def draft_view(uow: UnitOfWork, draft_id: str, *, taxes: TaxTable) -> dict[str, Any]:
    draft = await load_draft(uow, draft_id)
    account = await account_of(uow, draft.customer_id)
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
    priced = priced_lines(draft.lines)
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
                "discount": discount_value(line.discount),
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


def priced_lines(stored: list[dict[str, Any]]) -> list[DraftLine]:
    return [
        DraftLine(
            title=line["title"],
            quantity=int(line["quantity"]),
            unit_price=int(line["unit_price"]),
            sku=line["sku"],
            catalog_price=line["catalog_price"],
            discount=draft_discount(line["discount"]),
        )
        for line in stored
    ]


def draft_discount(value: dict[str, Any] | None) -> Discount | None:
    if value is None:
        return None
    return Discount(kind=value["kind"], value=int(value["value"]), reason=value["reason"])


def discount_value(discount: Discount | None) -> dict[str, Any] | None:
    if discount is None:
        return None
    return {"kind": discount.kind, "value": discount.value, "reason": discount.reason}


async def load_draft(uow: UnitOfWork, draft_id: str) -> Row[Any]:
    row = (await uow.session.execute(sa.select(draft_orders).where(draft_orders.c.id == draft_id))).first()
    if row is None:
        raise UnknownDraft(f"no draft order {draft_id}", field="draft_id")
    return row


async def account_of(uow: UnitOfWork, customer_id: str) -> Row[Any]:
    row = (await uow.session.execute(sa.select(customers).where(customers.c.id == customer_id))).first()
    if row is None:
        raise UnknownCustomer(f"no customer {customer_id}", field="customer_id")
    return row
