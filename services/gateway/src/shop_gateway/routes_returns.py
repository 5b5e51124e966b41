"""Public routes for returns (RMA): a customer asks for shipped units back, staff approve (the label is emailed)
or reject, the warehouse reports what it received and in which condition; orders then refunds."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from shop_api.fulfillment import ReturnReceiptIn
from shop_api.orders.client import OrderAccess
from shop_api.orders.returns import ReturnIn, ReturnRejectionIn, ReturnStatus
from shop_gateway.api import STAFF_CALL, ServicesDep, order_access, problems, require
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on

router = APIRouter(prefix="/v1", responses=problems(400, 413, 422, 503))


@router.post(
    "/orders/{order_id}/returns",
    summary="Request a return",
    tags=["storefront"],
    responses=problems(401, 403, 404),
)
async def request_return(
    order_id: uuid.UUID,
    body: ReturnIn,
    services: ServicesDep,
    access: Annotated[OrderAccess, order_access(Permission.ORDERS_WRITE)],
) -> JSONResponse:
    """Ask for shipped units back with a reason, within the return window (SHOP_ORDERS_RETURN_WINDOW_DAYS from
    delivery, or from shipment while not delivered); never more units than shipped and not already returned
    (422 ``return_refused`` naming the line). 201 with the return, status ``requested``."""
    return passed_on(await services.orders.request_return(order_id, body, access=access))


@router.get(
    "/orders/{order_id}/returns",
    summary="List an order's returns",
    tags=["storefront"],
    responses=problems(401, 403, 404),
)
async def list_order_returns(
    order_id: uuid.UUID,
    services: ServicesDep,
    access: Annotated[OrderAccess, order_access(Permission.ORDERS_READ)],
) -> JSONResponse:
    """An order's returns, each with its status and the history of its steps (requested, approved or rejected,
    label_sent, received with units restocked or disposed per line, refunded with the fees kept)."""
    return passed_on(await services.orders.order_returns(order_id, access=access))


@router.get(
    "/admin/returns",
    summary="List returns",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_returns(
    services: ServicesDep,
    status: ReturnStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """Returns, newest first, optionally only those in ``status``."""
    return passed_on(await services.orders.returns(status=status, limit=limit))


@router.post(
    "/admin/returns/{return_id}/approve",
    summary="Approve a return",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def approve_return(return_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Approve a requested return: fulfillment makes a carrier label and the customer gets it by email."""
    return passed_on(await services.orders.approve_return(return_id))


@router.post(
    "/admin/returns/{return_id}/reject",
    summary="Reject a return",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def reject_return(return_id: uuid.UUID, body: ReturnRejectionIn, services: ServicesDep) -> JSONResponse:
    """Reject a requested return, saying why; the customer is told by email."""
    return passed_on(await services.orders.reject_return(return_id, body))


@router.post(
    "/warehouse/returns/{return_id}/received",
    summary="Report a return received",
    tags=["warehouse"],
    dependencies=[require(Permission.WAREHOUSE)],
    responses=STAFF_CALL,
)
async def receive_return(return_id: uuid.UUID, body: ReturnReceiptIn, services: ServicesDep) -> JSONResponse:
    """Report an approved return received, with each SKU's units and their condition: resellable units go back
    to stock, damaged ones are disposed, and the customer is refunded. 404 until the label was made."""
    return passed_on(await services.fulfillment.receive_return(return_id, body))
