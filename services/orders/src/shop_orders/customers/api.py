"""Orders' internal HTTP API for customer accounts (called by the gateway, which has already checked who calls).

Paths under /customers/{customer_id} act for that customer: the gateway puts the id of the signed-in customer
there, or staff's choice. Passwords are hashed and checked here, off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.exc import IntegrityError

from shop_api.orders.checkout import AddressIn
from shop_api.orders.customers import (
    AddressChangesIn,
    CredentialsIn,
    CustomerIn,
    OrderCustomerIn,
    ProfileChangesIn,
    SavedAddressIn,
    StaffCustomerIn,
)
from shop_orders.core.errors import EmailTaken, InvalidSegment, OrderError, UnknownAddress
from shop_orders.customers import handlers as customer_handlers
from shop_orders.customers import queries as customer_queries
from shop_orders.customers.domain import hash_password, password_matches, password_problem, segment_problem
from shop_orders.customers.handlers import NewCustomer
from shop_orders.http import order_problem
from shop_runtime.database import Database, UnitOfWork
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()

_UNUSED_HASH = hash_password("an unused password to spend the same time on an unknown email")
"""Checked against when no account has the email, so a login takes as long whether the email exists or not."""


def customer_problem(error: OrderError) -> Problem:
    return order_problem(error, otherwise="invalid_customer")


async def _hashed(password: str, email: str) -> str:
    problem = password_problem(password, email=email)
    if problem is not None:
        raise Problem(
            422,
            f"the password is not acceptable: {problem}",
            code="weak_password",
            errors=[{"field": "password", "message": problem}],
        )
    return await asyncio.to_thread(hash_password, password)


def _new_customer(body: StaffCustomerIn, password_hash: str | None, created_by: str) -> NewCustomer:
    return NewCustomer(
        email=body.email,
        name=body.name,
        locale=body.locale,
        marketing_consent=body.marketing_consent,
        password_hash=password_hash,
        created_by=created_by,
    )


@router.post("/customers", status_code=201)
async def create_customer(
    body: CustomerIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    """Sign-up (with a password) or staff making an account (without one)."""
    password_hash = await _hashed(body.password, body.email) if body.password is not None else None
    created_by = "customer" if password_hash is not None else "staff"
    try:
        customer_id = await committed(
            uow,
            customer_handlers.create_customer(
                uow, new=_new_customer(body, password_hash, created_by), now=clock.now()
            ),
        )
    except OrderError as error:
        raise customer_problem(error) from error
    except IntegrityError as error:  # the same email signed up concurrently
        raise customer_problem(EmailTaken("this email already has an account", field="email")) from error
    return await _committed(request, customer_id)


@router.post("/customers/authenticate")
async def authenticate(body: CredentialsIn, uow: UnitOfWorkDep) -> dict[str, str]:
    """The customer whose email and password these are; one 401 for a wrong password and an unknown email."""
    credentials = await customer_queries.credentials_by_email(uow.session, body.email)
    stored = credentials.password_hash if credentials and credentials.password_hash else _UNUSED_HASH
    matches = await asyncio.to_thread(password_matches, body.password, stored)
    if credentials is None or credentials.password_hash is None or not matches:
        raise Problem(401, "The email or password is wrong", code="invalid_credentials")
    return {"customer_id": credentials.customer_id}


@router.get("/customers")
async def find_customers(
    uow: UnitOfWorkDep, email: Annotated[str, Query(min_length=1, max_length=254)]
) -> dict[str, Any]:
    return {"items": await customer_queries.customers_by_email(uow.session, email)}


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: str, uow: UnitOfWorkDep, with_orders: bool = False) -> dict[str, Any]:
    view = await _view(uow, customer_id)
    if with_orders:
        view["orders"] = (await customer_queries.orders_of(uow.session, customer_id, limit=100, offset=0))[
            "items"
        ]
    return view


@router.patch("/customers/{customer_id}")
async def update_customer(
    customer_id: str, body: ProfileChangesIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    try:
        await committed(
            uow,
            customer_handlers.update_customer(
                uow,
                customer_id=customer_id,
                name=body.name,
                locale=body.locale,
                marketing_consent=body.marketing_consent,
                now=clock.now(),
            ),
        )
    except OrderError as error:
        raise customer_problem(error) from error
    return await _committed(request, customer_id)


@router.get("/customers/{customer_id}/addresses")
async def list_addresses(customer_id: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    await _view(uow, customer_id)
    return {"items": await customer_queries.addresses_of(uow.session, customer_id)}


@router.post("/customers/{customer_id}/addresses", status_code=201)
async def add_address(
    customer_id: str, body: SavedAddressIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    try:
        address_id = await committed(
            uow,
            customer_handlers.add_address(
                uow,
                customer_id=customer_id,
                address=body.model_dump(exclude={"default_shipping"}),
                default_shipping=body.default_shipping,
                now=clock.now(),
            ),
        )
    except OrderError as error:
        raise customer_problem(error) from error
    return await _committed(request, customer_id, address_id)


@router.patch("/customers/{customer_id}/addresses/{address_id}")
async def update_address(
    customer_id: str, address_id: str, body: AddressChangesIn, request: Request, uow: UnitOfWorkDep
) -> dict[str, Any]:
    current = await _address(uow, customer_id, address_id)
    changes = body.model_dump(exclude_unset=True, exclude={"default_shipping"})
    address = None
    if changes:
        merged = {key: value for key, value in current.items() if key in AddressIn.model_fields} | changes
        address = AddressIn.model_validate(merged).model_dump()
    try:
        await committed(
            uow,
            customer_handlers.update_address(
                uow,
                customer_id=customer_id,
                address_id=address_id,
                address=address,
                default_shipping=body.default_shipping,
            ),
        )
    except OrderError as error:
        raise customer_problem(error) from error
    return await _committed(request, customer_id, address_id)


@router.delete("/customers/{customer_id}/addresses/{address_id}", status_code=204)
async def delete_address(customer_id: str, address_id: str, uow: UnitOfWorkDep) -> Response:
    try:
        await committed(
            uow, customer_handlers.delete_address(uow, customer_id=customer_id, address_id=address_id)
        )
    except OrderError as error:
        raise customer_problem(error) from error
    return Response(status_code=204)


@router.get("/customers/{customer_id}/orders")
async def customer_orders(
    customer_id: str,
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    await _view(uow, customer_id)
    return await customer_queries.orders_of(uow.session, customer_id, limit=limit, offset=offset)


@router.get("/customers/{customer_id}/segments")
async def list_segments(customer_id: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    """Staff: the segments the account is in (catalog opens early access to pre-orders by them)."""
    await _view(uow, customer_id)
    return {"customer_id": customer_id, "items": await customer_queries.segments_of(uow.session, customer_id)}


@router.put("/customers/{customer_id}/segments/{segment}")
async def add_segment(
    customer_id: str, segment: str, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    """Staff: put the account in a segment; doing it again changes nothing. Answers the account."""
    try:
        await committed(
            uow, customer_handlers.add_segment(uow, customer_id=customer_id, segment=segment, now=clock.now())
        )
    except OrderError as error:
        raise customer_problem(error) from error
    return await _committed(request, customer_id)


@router.delete("/customers/{customer_id}/segments/{segment}", status_code=204)
async def remove_segment(customer_id: str, segment: str, uow: UnitOfWorkDep) -> Response:
    """Staff: take the account out of a segment; 204 also when it was not in it (a retry changes nothing)."""
    try:
        if (problem := segment_problem(segment)) is not None:
            raise InvalidSegment(f"{segment!r} is not a segment name: {problem}", field="segment")
        await committed(uow, customer_handlers.remove_segment(uow, customer_id=customer_id, segment=segment))
    except OrderError as error:
        raise customer_problem(error) from error
    return Response(status_code=204)


@router.put("/orders/{order_id}/customer")
async def give_order_to_customer(
    order_id: str, body: OrderCustomerIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    """Staff: the order belongs to this customer from now on (an existing one, or one made in this call)."""
    if errors := body.not_exactly_one():
        raise Problem(422, errors[0]["message"], code="validation_error", errors=errors)
    try:
        customer_id = await committed(
            uow,
            customer_handlers.give_order_to_customer(
                uow,
                order_id=order_id,
                customer_id=None if body.customer_id is None else str(body.customer_id),
                new=_new_customer(body.customer, None, "staff") if body.customer is not None else None,
                now=clock.now(),
            ),
        )
    except EmailTaken as error:
        raise customer_problem(EmailTaken(str(error), field="customer.email")) from error
    except OrderError as error:
        raise customer_problem(error) from error
    except IntegrityError as error:
        raise customer_problem(
            EmailTaken("this email already has an account", field="customer.email")
        ) from error
    return {"order_id": order_id, "customer": await _committed(request, customer_id)}


async def _committed(request: Request, customer_id: str, address_id: str | None = None) -> dict[str, Any]:
    """The account (or one of its addresses) as just committed, read in a transaction of its own."""
    database: Database = request.app.state.database
    async with database.unit_of_work() as uow:
        if address_id is not None:
            return await _address(uow, customer_id, address_id)
        return await _view(uow, customer_id)


async def _view(uow: UnitOfWork, customer_id: str) -> dict[str, Any]:
    try:
        return await customer_queries.customer_view(uow.session, customer_id)
    except OrderError as error:
        raise customer_problem(error) from error


async def _address(uow: UnitOfWork, customer_id: str, address_id: str) -> dict[str, Any]:
    for address in await customer_queries.addresses_of(uow.session, customer_id):
        if address["id"] == address_id:
            return address
    raise customer_problem(UnknownAddress(f"no address {address_id}", field="address_id"))
