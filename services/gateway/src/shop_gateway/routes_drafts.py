"""Public routes for draft orders: staff build an order for a customer, hold its stock, email an invoice, mark
it paid by bank transfer, duplicate or delete it; the customer opens the invoice's link and pays it by card."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shop_api.orders.drafts import (
    DraftChangesIn,
    DraftCheckoutIn,
    DraftCompletedOut,
    DraftIn,
    DraftListOut,
    DraftOut,
    DraftStatus,
    MarkPaidIn,
)
from shop_gateway import routes_pages
from shop_gateway.api import STAFF_CALL, ServicesDep, checkout_limit, problems, require
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1", responses=problems(400, 413, 422, 503))

invoice_token_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="DraftInvoiceToken",
    description="The token of the invoice email's checkout link; it opens that draft's invoice only.",
)


def _draft_response(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": DraftOut, "description": description}}


async def invoice_token(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(invoice_token_scheme)] = None,
) -> str:
    if bearer is None or not bearer.credentials.strip():
        raise Problem(
            401,
            "Send the invoice link's token as 'Authorization: Bearer <token>'",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return bearer.credentials.strip()


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
    return passed_on(await services.orders.create_draft(body))


@router.get(
    "/admin/draft-orders",
    summary="List draft orders",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses={200: {"model": DraftListOut, "description": "Drafts, newest first"}, **STAFF_CALL},
)
async def list_drafts(
    services: ServicesDep,
    status: DraftStatus | None = None,
    customer_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    return passed_on(await services.orders.drafts(status=status, customer_id=customer_id, limit=limit))


@router.get(
    "/admin/draft-orders/{draft_id}",
    summary="Show a draft order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses={**_draft_response(200, "The draft"), **STAFF_CALL},
)
async def get_draft(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    return passed_on(await services.orders.draft(draft_id))


@router.patch(
    "/admin/draft-orders/{draft_id}",
    summary="Change an open draft order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(200, "The changed draft"), **STAFF_CALL},
)
async def update_draft(draft_id: uuid.UUID, body: DraftChangesIn, services: ServicesDep) -> JSONResponse:
    """Change an open draft. Changed catalog lines are reserved again; a new ``reserve_until`` moves the hold."""
    return passed_on(await services.orders.change_draft(draft_id, body))


@router.delete(
    "/admin/draft-orders/{draft_id}",
    summary="Delete an open draft order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(200, "The deleted draft"), **STAFF_CALL},
)
async def delete_draft(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Delete an open draft; its held units go back to stock."""
    return passed_on(await services.orders.delete_draft(draft_id))


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
    return passed_on(await services.orders.duplicate_draft(draft_id))


@router.post(
    "/admin/draft-orders/{draft_id}/invoice",
    summary="Email a draft order's invoice",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses={**_draft_response(200, "The invoice is on its way"), **STAFF_CALL},
)
async def send_invoice(draft_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Email the customer (in their locale) the invoice with the amounts, the terms and a checkout link."""
    return passed_on(await services.orders.send_invoice(draft_id))


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
    return passed_on(await services.orders.complete_on_terms(draft_id))


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
    return passed_on(await services.orders.mark_as_paid(draft_id, body))


@router.get(
    "/draft-orders/{draft_id}/invoice",
    summary="Show a draft order's invoice",
    tags=["storefront"],
    responses={200: {"model": DraftOut, "description": "The invoice"}, **problems(401, 404)},
)
async def view_invoice(
    draft_id: uuid.UUID, services: ServicesDep, token: Annotated[str, Depends(invoice_token)]
) -> JSONResponse:
    """The invoice the link opens (its token as ``Authorization: Bearer``): lines, totals, terms, whether paid."""
    token = await routes_pages.action_token_of(services, token, "invoice", str(draft_id))
    return passed_on(await services.orders.invoice(draft_id, draft_token=token))


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
    token: Annotated[str, Depends(invoice_token)],
) -> JSONResponse:
    """Pay the invoice with a PSP token: the draft becomes an order that is charged, confirmed and sent to the
    warehouse like any other (follow it with the answered access token). Asked again, the same order."""
    token = await routes_pages.action_token_of(services, token, "invoice", str(draft_id))
    return passed_on(await services.orders.pay_invoice(draft_id, body, draft_token=token))
