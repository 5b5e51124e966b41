"""Customer accounts' use cases: sign-up, profile and addresses, staff's segments, and staff giving an order to a
customer.

Each is one async function working in the unit of work it is given. Passwords arrive already hashed: hashing is
slow on purpose and runs off the event loop, in the API, before the transaction starts. A new account, and a change
of its consent to marketing, is told to the other services (``CustomerMarketingConsentChanged``) from the same
transaction, so notifications honours the consent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row

from shop_api.orders.customers import MAX_SEGMENTS
from shop_contracts.orders import CustomerMarketingConsentChanged
from shop_orders.core import repository
from shop_orders.core.errors import (
    EmailTaken,
    InvalidSegment,
    OrderHasAnotherCustomer,
    TooManyAddresses,
    TooManySegments,
    UnknownAddress,
    UnknownCustomer,
)
from shop_orders.core.groups import store
from shop_orders.core.tables import customer_addresses, customer_segments, customers
from shop_orders.customers.domain import MAX_ADDRESSES, email_key, segment_problem
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class NewCustomer:
    email: str
    name: str
    locale: str
    marketing_consent: bool
    password_hash: str | None
    """None for an account staff made: it cannot log in."""
    created_by: str = "customer"


async def create_customer(uow: UnitOfWork, *, new: NewCustomer, now: datetime) -> str:
    """A new account; the email (in any case) must not have one yet."""
    customer_id = await insert_customer(uow, new, now)
    return customer_id


async def update_customer(
    uow: UnitOfWork,
    *,
    customer_id: str,
    name: str | None = None,
    locale: str | None = None,
    marketing_consent: bool | None = None,
    now: datetime,
) -> None:
    """Change what the customer may change; consent records when it was given and is cleared when withdrawn."""
    current = await _lock_customer(uow, customer_id)
    values: dict[str, Any] = {"updated_at": now}
    if name is not None:
        values["name"] = name
    if locale is not None:
        values["locale"] = locale
    consent_changed = marketing_consent is not None and marketing_consent != current.marketing_consent
    if consent_changed:
        values["marketing_consent"] = marketing_consent
        values["marketing_consent_at"] = now if marketing_consent else None
    await uow.session.execute(sa.update(customers).where(customers.c.id == customer_id).values(**values))
    if consent_changed:
        assert marketing_consent is not None
        tell_consent(uow, customer_id=customer_id, email=current.email, consent=marketing_consent, at=now)


async def add_address(
    uow: UnitOfWork, *, customer_id: str, address: dict[str, Any], default_shipping: bool, now: datetime
) -> str:
    """Save an address; the first one is the default shipping address whatever was asked."""
    await _lock_customer(uow, customer_id)
    count = await uow.session.scalar(
        sa.select(sa.func.count()).where(customer_addresses.c.customer_id == customer_id)
    )
    if (count or 0) >= MAX_ADDRESSES:
        raise TooManyAddresses(f"an account keeps at most {MAX_ADDRESSES} addresses; delete one first")
    if default_shipping:
        await _clear_default(uow, customer_id)
    address_id = str(uuid.uuid4())
    await uow.session.execute(
        sa.insert(customer_addresses).values(
            id=address_id,
            customer_id=customer_id,
            address=address,
            default_shipping=default_shipping or not count,
            created_at=now,
        )
    )
    return address_id


async def update_address(
    uow: UnitOfWork,
    *,
    customer_id: str,
    address_id: str,
    address: dict[str, Any] | None,
    default_shipping: bool | None,
) -> None:
    """Replace an address's fields and/or make it the default (a default is changed by choosing another)."""
    await _lock_customer(uow, customer_id)
    await _address(uow, customer_id, address_id)
    values: dict[str, Any] = {}
    if address is not None:
        values["address"] = address
    if default_shipping:
        await _clear_default(uow, customer_id)
        values["default_shipping"] = True
    if values:
        await uow.session.execute(
            sa.update(customer_addresses).where(customer_addresses.c.id == address_id).values(**values)
        )


async def delete_address(uow: UnitOfWork, *, customer_id: str, address_id: str) -> None:
    """Forget an address; when it was the default, the oldest remaining one becomes the default."""
    await _lock_customer(uow, customer_id)
    deleted = await _address(uow, customer_id, address_id)
    await uow.session.execute(sa.delete(customer_addresses).where(customer_addresses.c.id == address_id))
    if deleted.default_shipping:
        oldest = await uow.session.scalar(
            sa.select(customer_addresses.c.id)
            .where(customer_addresses.c.customer_id == customer_id)
            .order_by(customer_addresses.c.created_at, customer_addresses.c.id)
            .limit(1)
        )
        if oldest is not None:
            await uow.session.execute(
                sa.update(customer_addresses)
                .where(customer_addresses.c.id == oldest)
                .values(default_shipping=True)
            )


async def add_segment(uow: UnitOfWork, *, customer_id: str, segment: str, now: datetime) -> bool:
    """Staff: put the account in ``segment`` (a slug); False when it was in it already (nothing changes)."""
    problem = segment_problem(segment)
    if problem is not None:
        raise InvalidSegment(f"{segment!r} is not a segment name: {problem}", field="segment")
    await _lock_customer(uow, customer_id)
    held = set(
        await uow.session.scalars(
            sa.select(customer_segments.c.segment).where(customer_segments.c.customer_id == customer_id)
        )
    )
    if segment in held:
        return False
    if len(held) >= MAX_SEGMENTS:
        raise TooManySegments(
            f"an account is in at most {MAX_SEGMENTS} segments; remove one first", field="segment"
        )
    await uow.session.execute(
        sa.insert(customer_segments).values(customer_id=customer_id, segment=segment, added_at=now)
    )
    return True


async def remove_segment(uow: UnitOfWork, *, customer_id: str, segment: str) -> bool:
    """Staff: take the account out of ``segment``; False when it was not in it (nothing changes)."""
    await _lock_customer(uow, customer_id)
    removed = await uow.session.execute(
        sa.delete(customer_segments)
        .where(customer_segments.c.customer_id == customer_id, customer_segments.c.segment == segment)
        .returning(customer_segments.c.segment)
    )
    return removed.first() is not None


async def give_order_to_customer(
    uow: UnitOfWork,
    *,
    order_id: str,
    customer_id: str | None = None,
    new: NewCustomer | None = None,
    now: datetime,
) -> str:
    """Staff: link a (guest) order to an existing account or to one made in the same transaction.

    The order then appears in the account's orders and its messages follow the account's locale. Giving an
    order to the customer it already has changes nothing; an order of another customer is refused.
    """
    order = await repository.lock_order(uow.session, order_id)
    if new is not None:
        customer_id = await insert_customer(uow, new, now)
    assert customer_id is not None, "give an existing customer's id or a new customer"
    account = await _lock_customer(uow, customer_id)
    if order.customer_id == customer_id:
        return customer_id
    if order.customer_id is not None:
        raise OrderHasAnotherCustomer(
            f"order {order_id} already belongs to another customer", field="customer_id"
        )
    order.customer_id = customer_id
    order.locale = account.locale
    order.record("customer_linked", customer_id=customer_id)
    await store(uow, order)
    return customer_id


async def insert_customer(uow: UnitOfWork, new: NewCustomer, now: datetime) -> str:
    """Add an account in the caller's unit of work (not committed); the email must not have one yet."""
    taken = await uow.session.scalar(
        sa.select(customers.c.id).where(customers.c.email_key == email_key(new.email))
    )
    if taken is not None:
        raise EmailTaken("this email already has an account; log in instead", field="email")
    customer_id = str(uuid.uuid4())
    await uow.session.execute(
        sa.insert(customers).values(
            id=customer_id,
            email=new.email.strip(),
            email_key=email_key(new.email),
            name=new.name,
            locale=new.locale,
            marketing_consent=new.marketing_consent,
            marketing_consent_at=now if new.marketing_consent else None,
            password_hash=new.password_hash,
            created_by=new.created_by,
            created_at=now,
            updated_at=now,
        )
    )
    tell_consent(uow, customer_id=customer_id, email=new.email.strip(), consent=new.marketing_consent, at=now)
    return customer_id


def tell_consent(uow: UnitOfWork, *, customer_id: str, email: str, consent: bool, at: datetime) -> None:
    """Tell the other services an account's consent to marketing as it now stands (a new account's too)."""
    uow.publish(
        CustomerMarketingConsentChanged(
            customer_id=customer_id, email=email, marketing_consent=consent, changed_at=at
        ),
        subject=customer_id,
        correlation_id=customer_id,
    )


async def account_for_email(uow: UnitOfWork, new: NewCustomer, now: datetime) -> str:
    """The account of ``new.email``, made (not committed) when there is none. Two callers making the same
    email's account at once both get the one account: the second insert waits for the first to commit and
    then finds it, instead of failing on the unique email."""
    key = email_key(new.email)
    customer_id = await uow.session.scalar(
        pg_insert(customers)
        .values(
            id=str(uuid.uuid4()),
            email=new.email.strip(),
            email_key=key,
            name=new.name,
            locale=new.locale,
            marketing_consent=new.marketing_consent,
            marketing_consent_at=now if new.marketing_consent else None,
            password_hash=new.password_hash,
            created_by=new.created_by,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[customers.c.email_key])
        .returning(customers.c.id)
    )
    if customer_id is None:
        customer_id = await uow.session.scalar(sa.select(customers.c.id).where(customers.c.email_key == key))
    else:  # made here: told as any new account is
        tell_consent(
            uow, customer_id=str(customer_id), email=new.email.strip(), consent=new.marketing_consent, at=now
        )
    assert customer_id is not None
    return str(customer_id)


async def _lock_customer(uow: UnitOfWork, customer_id: str) -> Row[Any]:
    row = (
        await uow.session.execute(sa.select(customers).where(customers.c.id == customer_id).with_for_update())
    ).first()
    if row is None:
        raise UnknownCustomer(f"no customer {customer_id}", field="customer_id")
    return row


async def _address(uow: UnitOfWork, customer_id: str, address_id: str) -> Row[Any]:
    row = (
        await uow.session.execute(
            sa.select(customer_addresses).where(
                customer_addresses.c.id == address_id, customer_addresses.c.customer_id == customer_id
            )
        )
    ).first()
    if row is None:
        raise UnknownAddress(f"no address {address_id}", field="address_id")
    return row


async def _clear_default(uow: UnitOfWork, customer_id: str) -> None:
    await uow.session.execute(
        sa.update(customer_addresses)
        .where(customer_addresses.c.customer_id == customer_id, customer_addresses.c.default_shipping)
        .values(default_shipping=False)
    )
