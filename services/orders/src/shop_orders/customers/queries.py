"""Read side of customer accounts: an account with its addresses, its orders, and what checkout takes from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.core.errors import UnknownAddress, UnknownCustomer
from shop_orders.core.tables import customer_addresses, customer_segments, customers, orders
from shop_orders.customers.domain import email_key


@dataclass(frozen=True)
class Credentials:
    customer_id: str
    password_hash: str | None


@dataclass(frozen=True)
class CheckoutAccount:
    """What a signed-in customer's checkout takes from the account when the body leaves it out."""

    customer_id: str
    email: str
    locale: str
    address: dict[str, Any] | None
    """The saved address asked for, else the default shipping address, else None."""
    segments: list[str]
    """The segments staff put the account in: catalog opens early access to pre-orders by them."""


async def customer_view(session: AsyncSession, customer_id: str) -> dict[str, Any]:
    row = (await session.execute(sa.select(customers).where(customers.c.id == customer_id))).first()
    if row is None:
        raise UnknownCustomer(f"no customer {customer_id}", field="customer_id")
    return {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "locale": row.locale,
        "marketing_consent": row.marketing_consent,
        "marketing_consent_at": row.marketing_consent_at,
        "can_log_in": row.password_hash is not None,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "segments": await segments_of(session, customer_id),
        "addresses": await addresses_of(session, customer_id),
    }


async def segments_of(session: AsyncSession, customer_id: str) -> list[str]:
    """The segments an account is in, by name."""
    rows = await session.scalars(
        sa.select(customer_segments.c.segment)
        .where(customer_segments.c.customer_id == customer_id)
        .order_by(customer_segments.c.segment)
    )
    return list(rows)


async def customers_by_email(session: AsyncSession, email: str) -> list[dict[str, Any]]:
    """The account with this email, in any case (a list: empty or one)."""
    rows = await session.execute(
        sa.select(customers.c.id).where(customers.c.email_key == email_key(email)).order_by(customers.c.id)
    )
    return [await customer_view(session, row.id) for row in rows]


async def credentials_by_email(session: AsyncSession, email: str) -> Credentials | None:
    row = (
        await session.execute(
            sa.select(customers.c.id, customers.c.password_hash).where(
                customers.c.email_key == email_key(email)
            )
        )
    ).first()
    return None if row is None else Credentials(customer_id=row.id, password_hash=row.password_hash)


async def addresses_of(session: AsyncSession, customer_id: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(customer_addresses)
        .where(customer_addresses.c.customer_id == customer_id)
        .order_by(customer_addresses.c.created_at, customer_addresses.c.id)
    )
    return [address_view(row) for row in rows]


def address_view(row: Any) -> dict[str, Any]:
    return {"id": row.id, **row.address, "default_shipping": row.default_shipping}


async def orders_of(session: AsyncSession, customer_id: str, *, limit: int, offset: int) -> dict[str, Any]:
    """A customer's orders, newest first, as a list of summaries (the full view is GET /orders/{id})."""
    rows = await session.execute(
        sa.select(
            orders.c.id,
            orders.c.status,
            orders.c.currency,
            orders.c.total,
            orders.c.created_at,
            orders.c.updated_at,
        )
        .where(orders.c.customer_id == customer_id)
        .order_by(orders.c.created_at.desc(), orders.c.id)
        .limit(limit)
        .offset(offset)
    )
    return {"items": [dict(row._mapping) for row in rows], "limit": limit, "offset": offset}


async def checkout_account(
    session: AsyncSession, customer_id: str, address_id: str | None
) -> CheckoutAccount:
    account = (
        await session.execute(
            sa.select(customers.c.email, customers.c.locale).where(customers.c.id == customer_id)
        )
    ).first()
    if account is None:
        raise UnknownCustomer("the signed-in customer no longer exists", field="header:Authorization")
    chosen = sa.select(customer_addresses).where(customer_addresses.c.customer_id == customer_id)
    if address_id is not None:
        chosen = chosen.where(customer_addresses.c.id == address_id)
    else:
        chosen = chosen.where(customer_addresses.c.default_shipping)
    address = (await session.execute(chosen)).first()
    if address_id is not None and address is None:
        raise UnknownAddress(f"you have no saved address {address_id}", field="shipping_address_id")
    return CheckoutAccount(
        customer_id=customer_id,
        email=account.email,
        locale=account.locale,
        address=dict(address.address) if address is not None else None,
        segments=await segments_of(session, customer_id),
    )
