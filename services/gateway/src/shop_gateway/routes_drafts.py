"""Public routes for draft orders: staff build an order for a customer, hold its stock, email an invoice, mark
it paid by bank transfer, duplicate or delete it; the customer opens the invoice's link and pays it by card."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shop_gateway.api import STAFF_CALL, ServicesDep, checkout_limit, problems, require
from shop_gateway.domain import Permission
from shop_gateway.schemas import MAX_AMOUNT, AddressIn, Currency, PaymentIn, Sku, Strict, example
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1", responses=problems(400, 413, 422, 503))

invoice_token_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="DraftInvoiceToken",
    description="The token of the invoice email's checkout link; it opens that draft's invoice only.",
)


class DiscountIn(Strict):
    kind: Literal["percent", "fixed"]
    value: int = Field(ge=1, le=MAX_AMOUNT, description="Percent (1-100) or an amount in minor units")
    reason: str = Field(min_length=1, max_length=200, description="Why, as the draft and the invoice show it")


class DraftLineIn(Strict):
    """A catalog line (``sku``, optionally ``price_override``) or a custom line (``title`` and ``unit_price``,
    no SKU; never reserved, never shipped)."""

    sku: Sku | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=1000)
    unit_price: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, description="A custom line's price")
    price_override: int | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="A catalog line's price instead of the catalog's"
    )
    discount: DiscountIn | None = None


class ShippingIn(Strict):
    """A configured rate by ``method`` (standard, express), or a custom ``title`` and ``price``."""

    method: str | None = Field(default=None, min_length=1, max_length=32, examples=["standard"])
    title: str | None = Field(default=None, min_length=1, max_length=200)
    price: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)


class PaymentTermsIn(Strict):
    type: Literal["due_on_receipt", "net", "on_fulfillment"] = "due_on_receipt"
    net_days: int | None = Field(default=None, ge=1, le=365, description="For net terms only")


class DraftCustomerIn(Strict):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    name: str = Field(min_length=1, max_length=200)
    locale: Literal["ko", "en"] = "ko"


class DraftChangesIn(Strict):
    """Only the fields sent change; ``reserve_until: null`` releases the held units."""

    model_config = example(
        {"note": "Deliver to the loading dock", "shipping": {"title": "Freight", "price": 25000}}
    )

    lines: list[DraftLineIn] | None = Field(default=None, min_length=1, max_length=50)
    order_discount: DiscountIn | None = None
    shipping: ShippingIn | None = None
    shipping_address: AddressIn | None = None
    payment_terms: PaymentTermsIn | None = None
    reserve_until: AwareDatetime | None = Field(
        default=None, description="Catalog lines' units are held until then (in the future)"
    )
    note: str | None = Field(default=None, max_length=2000)


class DraftIn(Strict):
    """A draft for an existing customer (``customer_id``) or for the account of ``customer.email`` (made
    without a password when there is none)."""

    model_config = example(
        {
            "customer": {"email": "buyer@example.com", "name": "Lee Jiwoo", "locale": "ko"},
            "currency": "KRW",
            "lines": [
                {"sku": "SHIRT-LINEN-M", "quantity": 30},
                {"title": "Embroidered logo", "quantity": 30, "unit_price": 3000},
            ],
            "order_discount": {"kind": "percent", "value": 5, "reason": "Wholesale"},
            "shipping": {"method": "standard"},
            "payment_terms": {"type": "net", "net_days": 30},
        }
    )

    customer_id: uuid.UUID | None = None
    customer: DraftCustomerIn | None = None
    currency: Currency
    lines: list[DraftLineIn] = Field(min_length=1, max_length=50)
    order_discount: DiscountIn | None = None
    shipping: ShippingIn | None = None
    shipping_address: AddressIn | None = None
    payment_terms: PaymentTermsIn | None = None
    reserve_until: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=2000)


class MarkPaidIn(Strict):
    model_config = example({"reference": "KB-20270302-0042"})

    reference: str = Field(min_length=1, max_length=200, description="The bank transfer's reference")


class DraftCheckoutIn(Strict):
    model_config = example({"payment": {"token": "tok_visa"}})

    payment: PaymentIn


class Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class DraftTotalsOut(Out):
    subtotal: int
    discount: int
    shipping: int
    tax: int
    tax_included: bool
    total: int


class DraftOut(Out):
    """A draft order: its lines, discounts, shipping, totals (tax included), payment terms, reservation."""

    id: str
    status: Literal["open", "completed", "deleted", "expired"]
    currency: str
    totals: DraftTotalsOut
    order_id: str | None = None


class DraftListOut(Out):
    drafts: list[DraftOut]


class DraftCompletedOut(Out):
    """The order the draft became; its access token opens it at ``GET /v1/orders/{order_id}``."""

    draft_id: str
    order_id: str
    status: str
    access_token: str


def _draft_response(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": DraftOut, "description": description}}


def invoice_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(invoice_token_scheme)] = None,
) -> dict[str, str]:
    if bearer is None or not bearer.credentials.strip():
        raise Problem(
            401,
            "Send the invoice link's token as 'Authorization: Bearer <token>'",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return {"X-Draft-Token": bearer.credentials.strip()}


@router.post(
    "/admin/draft-orders",
    summary="Make a draft order",
    status_code=201,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(201, "The draft is made"), **STAFF_CALL},
)
async def create_draft(body: DraftIn, services: ServicesDep) -> JSONResponse:
    """Make a draft order; with ``reserve_until`` its catalog lines' units are held until then."""
    return await services.forward(
        "orders", "POST", "/drafts", json=body.model_dump(mode="json", exclude_unset=True)
    )


@router.get(
    "/admin/draft-orders",
    summary="List draft orders",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses={200: {"model": DraftListOut, "description": "Drafts, newest first"}, **STAFF_CALL},
)
async def list_drafts(
    services: ServicesDep,
    status: Literal["open", "completed", "deleted", "expired"] | None = None,
    customer_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    params: dict[str, str | int] = {"limit": limit}
    if status is not None:
        params["status"] = status
    if customer_id is not None:
        params["customer_id"] = str(customer_id)
    return await services.forward("orders", "GET", "/drafts", params=params)


@router.get(
    "/admin/draft-orders/{draft_id}",
    summary="Show a draft order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses={**_draft_response(200, "The draft"), **STAFF_CALL},
)
async def get_draft(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    return await services.forward("orders", "GET", f"/drafts/{draft_id}")


@router.patch(
    "/admin/draft-orders/{draft_id}",
    summary="Change an open draft order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(200, "The changed draft"), **STAFF_CALL},
)
async def update_draft(draft_id: uuid.UUID, body: DraftChangesIn, services: ServicesDep) -> JSONResponse:
    """Change an open draft. Changed catalog lines are reserved again; a new ``reserve_until`` moves the hold."""
    return await services.forward(
        "orders", "PATCH", f"/drafts/{draft_id}", json=body.model_dump(mode="json", exclude_unset=True)
    )


@router.delete(
    "/admin/draft-orders/{draft_id}",
    summary="Delete an open draft order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(200, "The deleted draft"), **STAFF_CALL},
)
async def delete_draft(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Delete an open draft; its held units go back to stock."""
    return await services.forward("orders", "DELETE", f"/drafts/{draft_id}")


@router.post(
    "/admin/draft-orders/{draft_id}/duplicate",
    summary="Copy a draft order",
    status_code=201,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(201, "The new draft"), **STAFF_CALL},
)
async def duplicate_draft(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """A new open draft with the same customer, lines, discounts, shipping, address and terms (no stock held)."""
    return await services.forward("orders", "POST", f"/drafts/{draft_id}/duplicate")


@router.post(
    "/admin/draft-orders/{draft_id}/invoice",
    summary="Email a draft order's invoice",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(200, "The invoice is on its way"), **STAFF_CALL},
)
async def send_invoice(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Email the customer (in their locale) the invoice with the amounts, the terms and a checkout link."""
    return await services.forward("orders", "POST", f"/drafts/{draft_id}/invoice")


@router.post(
    "/admin/draft-orders/{draft_id}/complete",
    summary="Complete a draft order on payment terms",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={
        200: {"model": DraftCompletedOut, "description": "The order, unpaid on its terms"},
        **STAFF_CALL,
    },
)
async def complete_on_terms(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Complete a draft on ``net`` or ``on_fulfillment`` terms into an order that is confirmed and ships before
    it is paid; its ``payment_due`` (amount, due date, status) shows on the order. Terms ``due_on_receipt``
    answer 409 ``draft_not_ready``: such a draft becomes an order once paid. Asked again, the same order."""
    return await services.forward("orders", "POST", f"/drafts/{draft_id}/complete")


@router.post(
    "/admin/draft-orders/{draft_id}/mark-paid",
    summary="Mark a draft order paid by bank transfer",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={200: {"model": DraftCompletedOut, "description": "The paid order"}, **STAFF_CALL},
)
async def mark_as_paid(draft_id: uuid.UUID, body: MarkPaidIn, services: ServicesDep) -> JSONResponse:
    """A bank transfer arrived: the draft becomes a paid order (payments records the transfer). Its units must
    still be held (409 ``draft_not_ready`` otherwise). For a draft completed on terms, the transfer pays its
    order (409 ``order_not_payable`` once that order was cancelled). Asked again, the same order."""
    return await services.forward(
        "orders", "POST", f"/drafts/{draft_id}/mark-paid", json=body.model_dump(mode="json")
    )


@router.get(
    "/draft-orders/{draft_id}/invoice",
    summary="Show a draft order's invoice",
    tags=["storefront"],
    responses={200: {"model": DraftOut, "description": "The invoice"}, **problems(401, 404)},
)
async def view_invoice(
    draft_id: uuid.UUID, services: ServicesDep, headers: Annotated[dict[str, str], Depends(invoice_token)]
) -> JSONResponse:
    """The invoice the link opens (its token as ``Authorization: Bearer``): lines, totals, terms, whether paid."""
    return await services.forward("orders", "GET", f"/drafts/{draft_id}/invoice", headers=headers)


@router.post(
    "/draft-orders/{draft_id}/checkout",
    summary="Pay a draft order's invoice",
    status_code=202,
    tags=["storefront"],
    dependencies=[Depends(checkout_limit)],
    responses={
        202: {"model": DraftCompletedOut, "description": "The order is placed"},
        **problems(401, 404, 409, 429),
    },
)
async def pay_invoice(
    draft_id: uuid.UUID,
    body: DraftCheckoutIn,
    services: ServicesDep,
    headers: Annotated[dict[str, str], Depends(invoice_token)],
) -> JSONResponse:
    """Pay the invoice with a PSP token: the draft becomes an order that is charged, confirmed and sent to the
    warehouse like any other (follow it with the answered access token). Asked again, the same order."""
    return await services.forward(
        "orders", "POST", f"/drafts/{draft_id}/checkout", json=body.model_dump(mode="json"), headers=headers
    )
