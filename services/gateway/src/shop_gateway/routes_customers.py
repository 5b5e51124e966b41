"""Customer accounts in the public API: sign-up, login (short-lived bearer tokens), the customer's own profile,
addresses and orders under /v1/me, and staff finding customers, putting them in segments and giving orders to
them."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from shop_api.orders.customers import (
    AddressChangesIn,
    LoginIn,
    OrderCustomerIn,
    ProfileChangesIn,
    SavedAddressIn,
    Segment,
    SegmentsOut,
    SignUpIn,
    StaffCustomerIn,
)
from shop_gateway.api import ALWAYS, STAFF_CALL, ServicesDep, problems, require
from shop_gateway.customer_auth import CustomerAuthDep, CustomerDep, limit_logins
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1", responses=problems(*ALWAYS))

CUSTOMER_CALL = problems(*ALWAYS, 401, 404)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the token expires; then log in again.")
    expires_at: str
    customer_id: str


@router.post(
    "/customers", summary="Open an account", status_code=201, tags=["customers"], responses=problems(409, 429)
)
async def sign_up(
    body: SignUpIn, request: Request, services: ServicesDep, auth: CustomerAuthDep
) -> JSONResponse:
    """Open an account (email unique whatever its case); then log in with POST /v1/auth/token.

    Rate-limited per client address with logins (429 with ``Retry-After``)."""
    limit_logins(request, auth, None)
    return passed_on(await services.orders.create_customer(body))


@router.post(
    "/auth/token",
    summary="Log in",
    tags=["customers"],
    responses={200: {"model": TokenOut, "description": "A bearer token"}, **problems(401, 429)},
)
async def log_in(
    body: LoginIn, request: Request, services: ServicesDep, auth: CustomerAuthDep
) -> JSONResponse:
    """Exchange email and password for a short-lived bearer token. A wrong password and an unknown email get
    the same 401. Limited per email and per client address: 429 with ``Retry-After``."""
    limit_logins(request, auth, body.email)
    response = await services.orders.authenticate(body)
    if response.status_code == 401:
        raise Problem(
            401,
            "The email or password is wrong",
            code="invalid_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if response.status_code != 200:
        return passed_on(response)
    issued = auth.issue(str(response.json()["customer_id"]))
    return JSONResponse(
        TokenOut(
            access_token=issued.token,
            token_type="bearer",
            expires_in=int(auth.lifetime.total_seconds()),
            expires_at=issued.expires_at.isoformat(),
            customer_id=issued.customer_id,
        ).model_dump()
    )


@router.get("/me", summary="Show my account", tags=["customers"], responses=CUSTOMER_CALL)
async def get_my_account(customer: CustomerDep, services: ServicesDep) -> JSONResponse:
    """The signed-in customer's account with its addresses."""
    return passed_on(await services.orders.customer(customer))


@router.patch("/me", summary="Change my account", tags=["customers"], responses=CUSTOMER_CALL)
async def change_my_account(
    body: ProfileChangesIn, customer: CustomerDep, services: ServicesDep
) -> JSONResponse:
    """Change name, locale (the language of messages) or marketing consent (when given is recorded)."""
    return passed_on(await services.orders.change_customer(customer, body))


@router.get("/me/addresses", summary="List my addresses", tags=["customers"], responses=CUSTOMER_CALL)
async def list_my_addresses(customer: CustomerDep, services: ServicesDep) -> JSONResponse:
    return passed_on(await services.orders.addresses(customer))


@router.post(
    "/me/addresses",
    summary="Save an address",
    status_code=201,
    tags=["customers"],
    responses={**CUSTOMER_CALL, **problems(409)},
)
async def add_my_address(body: SavedAddressIn, customer: CustomerDep, services: ServicesDep) -> JSONResponse:
    """Save an address (at most 20); the first one, or one sent with ``default_shipping``, is the default."""
    return passed_on(await services.orders.add_address(customer, body))


@router.patch(
    "/me/addresses/{address_id}",
    summary="Change a saved address",
    tags=["customers"],
    responses=CUSTOMER_CALL,
)
async def change_my_address(
    address_id: uuid.UUID, body: AddressChangesIn, customer: CustomerDep, services: ServicesDep
) -> JSONResponse:
    return passed_on(await services.orders.change_address(customer, address_id, body))


@router.delete(
    "/me/addresses/{address_id}",
    summary="Forget an address",
    status_code=204,
    tags=["customers"],
    responses=CUSTOMER_CALL,
)
async def delete_my_address(address_id: uuid.UUID, customer: CustomerDep, services: ServicesDep) -> Response:
    """Forget an address; when it was the default, the oldest remaining one becomes the default."""
    response = await services.orders.delete_address(customer, address_id)
    if response.status_code == 204:
        return Response(status_code=204)
    return passed_on(response)


@router.get("/me/orders", summary="List my orders", tags=["customers"], responses=CUSTOMER_CALL)
async def list_my_orders(
    customer: CustomerDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """The signed-in customer's orders, newest first (open one with GET /v1/orders/{id} and the same token)."""
    return passed_on(await services.orders.customer_orders(customer, limit=limit, offset=offset))


@router.get(
    "/admin/customers",
    summary="Find an account by email",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def find_customers(
    services: ServicesDep, email: Annotated[str, Query(min_length=1, max_length=254)]
) -> JSONResponse:
    """The account with this email, whatever its case (staff and support)."""
    return passed_on(await services.orders.find_customers(email=email))


@router.get(
    "/admin/customers/{customer_id}",
    summary="Show an account",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_customer(customer_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """An account with its addresses and its orders, newest first (staff and support)."""
    return passed_on(await services.orders.customer(customer_id, with_orders=True))


@router.post(
    "/admin/customers",
    summary="Make an account for a customer",
    status_code=201,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def create_customer(body: StaffCustomerIn, services: ServicesDep) -> JSONResponse:
    """Make an account for a customer (without a password: it cannot log in)."""
    return passed_on(await services.orders.create_customer(body))


SegmentPath = Annotated[
    Segment, Path(description="A slug: lowercase letters and digits, words joined by - or _ (e.g. vip).")
]


@router.get(
    "/admin/customers/{customer_id}/segments",
    summary="List an account's segments",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses={200: {"model": SegmentsOut, "description": "The segments, by name"}, **STAFF_CALL},
)
async def list_segments(customer_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """The segments staff put the account in. A pre-order policy's ``early_access_segment`` opens its window
    early for the accounts in that segment; the customer sees them too (``segments`` of GET /v1/me)."""
    return passed_on(await services.orders.segments(customer_id))


@router.put(
    "/admin/customers/{customer_id}/segments/{segment}",
    summary="Put an account in a segment",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def add_segment(customer_id: uuid.UUID, segment: SegmentPath, services: ServicesDep) -> JSONResponse:
    """Put the account in a segment (at most 20 per account; 409 ``too_many_segments`` past that); doing it
    again changes nothing. Answers the account. Its next checkouts pass its segments to catalog, so a pre-order
    whose early access is for this segment takes its orders from ``early_access_starts_at``."""
    return passed_on(await services.orders.add_segment(customer_id, segment))


@router.delete(
    "/admin/customers/{customer_id}/segments/{segment}",
    summary="Take an account out of a segment",
    status_code=204,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def remove_segment(customer_id: uuid.UUID, segment: SegmentPath, services: ServicesDep) -> Response:
    """Take the account out of a segment; 204 also when it was not in it, so a retry is safe."""
    response = await services.orders.remove_segment(customer_id, segment)
    if response.status_code == 204:
        return Response(status_code=204)
    return passed_on(response)


@router.put(
    "/admin/orders/{order_id}/customer",
    summary="Give an order to a customer's account",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def give_order_to_customer(
    order_id: uuid.UUID, body: OrderCustomerIn, services: ServicesDep
) -> JSONResponse:
    """Give an order (a guest's, typically) to an existing customer or to a new one made in the same call. The
    order then shows in the customer's orders and its messages follow the account's locale."""
    if errors := body.not_exactly_one():
        raise Problem(422, errors[0]["message"], code="validation_error", errors=errors)
    return passed_on(await services.orders.give_order_to_customer(order_id, body))
