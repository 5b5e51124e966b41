"""Customer accounts in the public API: sign-up, login (short-lived bearer tokens), the customer's own profile,
addresses and orders under /v1/me, and staff finding customers and giving orders to them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

from shop_gateway.api import ALWAYS, STAFF_CALL, ServicesDep, problems, require
from shop_gateway.customer_auth import CustomerAuthDep, CustomerDep, limit_logins
from shop_gateway.domain import Permission
from shop_gateway.logs import request_path_var
from shop_gateway.schemas import AddressIn, Strict, example
from shop_gateway.services import public_body
from shop_runtime.problems import PROBLEM_JSON, Problem

router = APIRouter(prefix="/v1", responses=problems(*ALWAYS))

EMAIL = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, examples=["kim@example.com"])
CUSTOMER_CALL = problems(*ALWAYS, 401, 404)


class SignUpIn(Strict):
    model_config = example(
        {"email": "kim@example.com", "name": "Kim Minsu", "password": "correct horse battery", "locale": "ko"}
    )

    email: str = EMAIL
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(
        min_length=1, max_length=1024, description="At least 10 characters, not the email address."
    )
    locale: Literal["ko", "en"] = Field(description="The language of the customer's messages.")
    marketing_consent: bool = Field(default=False, description="Marketing email; when given is recorded.")


class StaffCustomerIn(Strict):
    """An account made by staff: it has no password and cannot log in."""

    model_config = example({"email": "kim@example.com", "name": "Kim Minsu", "locale": "ko"})

    email: str = EMAIL
    name: str = Field(min_length=1, max_length=200)
    locale: Literal["ko", "en"]
    marketing_consent: bool = False


class LoginIn(Strict):
    model_config = example({"email": "kim@example.com", "password": "correct horse battery"})

    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class ProfileChangesIn(Strict):
    """Only the fields sent change."""

    model_config = example({"locale": "en", "marketing_consent": True})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: Literal["ko", "en"] | None = None
    marketing_consent: bool | None = None

    @field_validator("name", "locale", "marketing_consent", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class SavedAddressIn(AddressIn):
    model_config = example(
        {
            "name": "Kim Minsu",
            "line1": "1 Teheran-ro",
            "city": "Seoul",
            "postal_code": "06236",
            "country": "KR",
            "default_shipping": True,
        }
    )

    default_shipping: bool = Field(default=False, description="Checkout uses it when no address is sent.")


class AddressChangesIn(Strict):
    """Only the fields sent change; ``line2`` and ``region`` may be cleared with null."""

    model_config = example({"line2": "Apt 1203", "default_shipping": True})

    name: str | None = Field(default=None, min_length=1, max_length=200)
    line1: str | None = Field(default=None, min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, min_length=1, max_length=20)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    default_shipping: Literal[True] | None = Field(default=None, description="Make this the default address.")

    @field_validator("name", "line1", "city", "postal_code", "country", "default_shipping", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value


class OrderCustomerIn(Strict):
    """Exactly one of ``customer_id`` (an existing account) or ``customer`` (a new account made in this call)."""

    model_config = example({"customer_id": "0b6f1c7e-3f4a-4d2b-9b1e-5c8d7a6e4f21"})

    customer_id: uuid.UUID | None = None
    customer: StaffCustomerIn | None = None


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
    return await services.forward("orders", "POST", "/customers", json=body.model_dump(mode="json"))


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
    response = await services.call(
        "orders", "POST", "/customers/authenticate", json=body.model_dump(mode="json")
    )
    if response.status_code == 401:
        raise Problem(
            401,
            "The email or password is wrong",
            code="invalid_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if response.status_code != 200:
        return _passed_on(response)
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
    return await services.forward("orders", "GET", f"/customers/{customer}")


@router.patch("/me", summary="Change my account", tags=["customers"], responses=CUSTOMER_CALL)
async def change_my_account(
    body: ProfileChangesIn, customer: CustomerDep, services: ServicesDep
) -> JSONResponse:
    """Change name, locale (the language of messages) or marketing consent (when given is recorded)."""
    return await services.forward(
        "orders", "PATCH", f"/customers/{customer}", json=body.model_dump(mode="json", exclude_unset=True)
    )


@router.get("/me/addresses", summary="List my addresses", tags=["customers"], responses=CUSTOMER_CALL)
async def list_my_addresses(customer: CustomerDep, services: ServicesDep) -> JSONResponse:
    return await services.forward("orders", "GET", f"/customers/{customer}/addresses")


@router.post(
    "/me/addresses",
    summary="Save an address",
    status_code=201,
    tags=["customers"],
    responses={**CUSTOMER_CALL, **problems(409)},
)
async def add_my_address(body: SavedAddressIn, customer: CustomerDep, services: ServicesDep) -> JSONResponse:
    """Save an address (at most 20); the first one, or one sent with ``default_shipping``, is the default."""
    return await services.forward(
        "orders", "POST", f"/customers/{customer}/addresses", json=body.model_dump(mode="json")
    )


@router.patch(
    "/me/addresses/{address_id}",
    summary="Change a saved address",
    tags=["customers"],
    responses=CUSTOMER_CALL,
)
async def change_my_address(
    address_id: uuid.UUID, body: AddressChangesIn, customer: CustomerDep, services: ServicesDep
) -> JSONResponse:
    return await services.forward(
        "orders",
        "PATCH",
        f"/customers/{customer}/addresses/{address_id}",
        json=body.model_dump(mode="json", exclude_unset=True),
    )


@router.delete(
    "/me/addresses/{address_id}",
    summary="Forget an address",
    status_code=204,
    tags=["customers"],
    responses=CUSTOMER_CALL,
)
async def delete_my_address(address_id: uuid.UUID, customer: CustomerDep, services: ServicesDep) -> Response:
    """Forget an address; when it was the default, the oldest remaining one becomes the default."""
    response = await services.call("orders", "DELETE", f"/customers/{customer}/addresses/{address_id}")
    if response.status_code == 204:
        return Response(status_code=204)
    return _passed_on(response)


@router.get("/me/orders", summary="List my orders", tags=["customers"], responses=CUSTOMER_CALL)
async def list_my_orders(
    customer: CustomerDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """The signed-in customer's orders, newest first (open one with GET /v1/orders/{id} and the same token)."""
    return await services.forward(
        "orders", "GET", f"/customers/{customer}/orders", params={"limit": limit, "offset": offset}
    )


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
    return await services.forward("orders", "GET", "/customers", params={"email": email})


@router.get(
    "/admin/customers/{customer_id}",
    summary="Show an account",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_customer(customer_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """An account with its addresses and its orders, newest first (staff and support)."""
    return await services.forward(
        "orders", "GET", f"/customers/{customer_id}", params={"with_orders": "true"}
    )


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
    return await services.forward("orders", "POST", "/customers", json=body.model_dump(mode="json"))


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
    if (body.customer_id is None) == (body.customer is None):
        message = "send either customer_id or customer, not both and not neither"
        raise Problem(
            422,
            message,
            code="validation_error",
            errors=[{"field": "customer_id", "message": message}, {"field": "customer", "message": message}],
        )
    return await services.forward(
        "orders", "PUT", f"/orders/{order_id}/customer", json=body.model_dump(mode="json", exclude_none=True)
    )


def _passed_on(response: Any) -> JSONResponse:
    content_type = response.headers.get("content-type", "")
    return JSONResponse(
        public_body(response, request_path_var.get()),
        status_code=response.status_code,
        media_type=PROBLEM_JSON if content_type.startswith(PROBLEM_JSON) else "application/json",
    )
