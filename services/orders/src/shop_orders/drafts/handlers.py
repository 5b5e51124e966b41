"""Draft orders' use cases: create, change, delete, duplicate, and send the invoice."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from shop_contracts import orders as contracts
from shop_contracts.money import Money
from shop_contracts.values import Customer
from shop_orders.core import repository
from shop_orders.core.domain import payment_due_date
from shop_orders.core.errors import (
    NotSellable,
    NotSoldInCurrency,
    UnknownCustomer,
    UnknownShippingMethod,
    UnknownSku,
)
from shop_orders.core.pricing import TaxTable
from shop_orders.core.tables import customers, draft_orders
from shop_orders.customers.handlers import NewCustomer, account_for_email
from shop_orders.drafts.domain import (
    Discount,
    DraftNotOpen,
    DraftNotReady,
    InvalidDraft,
    catalog_lines,
    check_lines,
)
from shop_orders.drafts.queries import (
    account_of,
    discount_value,
    draft_discount,
    draft_totals,
    load_draft,
    priced_lines,
)
from shop_orders.drafts.reservations import (
    DRAFT_EXPIRES,
    HOLDING,
    RESERVATION_LAPSES,
    ExpireDraft,
    LapseDraftReservation,
    close_draft,
    end_of,
    holds_until,
    lock_draft,
    open_draft,
    reserve_again,
)
from shop_runtime.database import UnitOfWork


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
            order_discount=discount_value(order_discount),
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
    await uow.jobs.schedule(
        ExpireDraft(draft_id=draft_id),
        key=f"{DRAFT_EXPIRES}:{draft_id}",
        due_at=now + settings.expiry,
    )
    draft = await lock_draft(uow, draft_id)
    await reserve_again(uow, draft, now=now)
    return draft_id


async def update_draft(
    uow: UnitOfWork, *, draft_id: str, changes: dict[str, Any], settings: DraftSettings, now: datetime
) -> None:
    """Change what staff sent (``changes`` holds only the fields given). Changed lines reserve again under a
    new reservation; a changed ``reserve_until`` moves the hold (or reserves again when it had lapsed)."""
    draft = await open_draft(uow, draft_id)
    values: dict[str, Any] = {"updated_at": now}
    if "lines" in changes:
        values["lines"] = await _lines(uow, changes["lines"], draft.currency)
    if "order_discount" in changes:
        values["order_discount"] = discount_value(changes["order_discount"])
    if "shipping" in changes:
        values["shipping_line"] = _shipping(changes["shipping"], draft.currency, settings.shipping_rates)
    for name in ("shipping_address", "note", "reserve_until"):
        if name in changes:
            values[name] = changes[name]
    if "payment_terms" in changes:
        values["payment_terms"] = changes["payment_terms"]
        values["net_days"] = changes.get("net_days") if changes["payment_terms"] == "net" else None
    lines_changed = "lines" in values and catalog_lines(values["lines"]) != catalog_lines(draft.lines)
    hold_changed = "reserve_until" in values and values["reserve_until"] != draft.reserve_until
    await uow.session.execute(sa.update(draft_orders).where(draft_orders.c.id == draft_id).values(**values))
    if lines_changed or hold_changed:
        updated = await lock_draft(uow, draft_id)
        if not lines_changed and draft.reservation_status in HOLDING and holds_until(updated, now):
            await uow.jobs.reschedule(
                LapseDraftReservation(draft_id=draft_id, reservation_id=draft.reservation_id),
                key=f"{RESERVATION_LAPSES}:{draft.reservation_id}",
                due_at=updated.reserve_until,
            )
        else:
            await reserve_again(uow, updated, now=now)


async def delete_draft(uow: UnitOfWork, *, draft_id: str, now: datetime) -> None:
    """Delete an open draft: its held units go back to stock. Deleting it again changes nothing."""
    draft = await lock_draft(uow, draft_id)
    if draft.status == "deleted":
        return
    if draft.status != "open":
        raise DraftNotOpen(f"draft {draft_id} is {draft.status}; only an open draft can be deleted")
    await close_draft(uow, draft, status="deleted", reservation_status="released", now=now)


async def duplicate_draft(uow: UnitOfWork, *, draft_id: str, settings: DraftSettings, now: datetime) -> str:
    """A new open draft with the same customer, lines (catalog lines at today's catalog price unless
    overridden), discounts, shipping, address, terms and note; it holds no stock until given a
    ``reserve_until``."""
    source = await load_draft(uow, draft_id)
    return await create_draft(
        uow,
        customer=CustomerInput(customer_id=source.customer_id),
        currency=source.currency,
        lines=[_line_input(line) for line in source.lines],
        order_discount=draft_discount(source.order_discount),
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
    draft = await open_draft(uow, draft_id)
    check_completable(draft)
    account = await account_of(uow, draft.customer_id)
    totals = draft_totals(draft, settings.taxes)

    def money(amount: int) -> Money:
        return Money(amount, draft.currency)

    due_date = payment_due_date(draft.payment_terms, draft.net_days, now)
    expires_at = draft.expires_at
    if due_date is not None and end_of(due_date) > expires_at:
        # Net terms past the draft's expiry: the invoice stays payable until the end of its due date.
        expires_at = end_of(due_date)
        await uow.jobs.reschedule(
            ExpireDraft(draft_id=draft_id),
            key=f"{DRAFT_EXPIRES}:{draft_id}",
            due_at=expires_at,
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
            lines=[
                contracts.DraftInvoiceLine(
                    sku=line.sku,
                    title=line.title,
                    quantity=line.quantity,
                    unit_price=money(line.unit_price),
                    discount=money(line.discount_amount),
                    line_total=money(line.gross - line.discount_amount),
                )
                for line in priced_lines(draft.lines)
            ],
            subtotal=money(totals.subtotal),
            discount=money(totals.discounts),
            shipping=money(totals.shipping),
            tax=money(totals.tax.amount),
            tax_included=totals.tax.included,
            total=money(totals.total),
            payment_terms=draft.payment_terms,
            net_days=draft.net_days,
            due_date=due_date,
            checkout_token=token,
            expires_at=expires_at,
        ),
        subject=draft_id,
        correlation_id=draft_id,
    )


def check_completable(draft: Row[Any]) -> None:
    if not catalog_lines(draft.lines):
        raise DraftNotReady("a draft needs at least one catalog line to become an order", field="lines")
    if draft.shipping_address is None:
        raise DraftNotReady("the draft has no shipping address", field="shipping_address")
    if draft.shipping_line is None:
        raise DraftNotReady("the draft has no shipping line", field="shipping")


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
            if not variant.sellable:
                raise NotSellable(
                    f"{line.sku} is no longer sold (the variant was retired or its product archived)",
                    field=f"lines[{index}].sku",
                )
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
                "discount": discount_value(line.discount),
            }
        )
    check_lines(priced_lines(stored))
    return stored


def _line_input(line: dict[str, Any]) -> LineInput:
    if line["sku"] is None:
        return LineInput(
            quantity=line["quantity"],
            title=line["title"],
            unit_price=line["unit_price"],
            discount=draft_discount(line["discount"]),
        )
    return LineInput(
        quantity=line["quantity"],
        sku=line["sku"],
        price_override=line["price_override"],
        discount=draft_discount(line["discount"]),
    )


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
