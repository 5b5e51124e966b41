"""Public routes for returns (RMA): a customer asks for shipped units back, staff approve (the label is emailed)
or reject, the warehouse reports what it received and in which condition; orders then refunds."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from shop_gateway.api import STAFF_CALL, ServicesDep, order_access, problems, require
from shop_gateway.domain import Permission
from shop_gateway.schemas import SKU_PATTERN, Strict, example

router = APIRouter(prefix="/v1", responses=problems(400, 413, 422, 503))


class ReturnLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100, description="Units of this SKU to send back")
    exchange_for: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=SKU_PATTERN,
        description="Another variant (SKU) of the same product to get instead of a refund: reserved and shipped "
        "when the returned units arrive, the price difference charged with the order's saved card or refunded; "
        "refunded instead when it is out of stock (422 exchange_refused for another product or a pre-order)",
    )


class ReturnIn(Strict):
    model_config = example(
        {
            "lines": [{"sku": "SHIRT-LINEN-M", "quantity": 1, "exchange_for": "SHIRT-LINEN-L"}],
            "reason": "size",
        }
    )

    lines: list[ReturnLineIn] = Field(min_length=1, max_length=50)
    reason: Literal["damaged", "wrong_item", "not_as_described", "changed_mind", "size", "other"]
    note: str | None = Field(default=None, max_length=1000)


class ReturnRejectionIn(Strict):
    model_config = example({"reason": "The return window closed on 2 March"})

    reason: str = Field(min_length=1, max_length=500, description="Why, as the customer is told by email")


class ReceivedLineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=10_000)
    condition: Literal["resellable", "damaged"] = Field(
        description="resellable units go back to stock at the location; damaged units are disposed"
    )


class ReturnReceiptIn(Strict):
    model_config = example({"lines": [{"sku": "SHIRT-LINEN-M", "quantity": 1, "condition": "resellable"}]})

    lines: list[ReceivedLineIn] = Field(min_length=1, max_length=100)


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
    headers: Annotated[dict[str, str], order_access(Permission.ORDERS_WRITE)],
) -> JSONResponse:
    """Ask for shipped units back with a reason, within the return window (SHOP_ORDERS_RETURN_WINDOW_DAYS from
    delivery, or from shipment while not delivered); never more units than shipped and not already returned
    (422 ``return_refused`` naming the line). 201 with the return, status ``requested``."""
    return await services.forward(
        "orders", "POST", f"/orders/{order_id}/returns", json=body.model_dump(mode="json"), headers=headers
    )


@router.get(
    "/orders/{order_id}/returns",
    summary="List an order's returns",
    tags=["storefront"],
    responses=problems(401, 403, 404),
)
async def list_order_returns(
    order_id: uuid.UUID,
    services: ServicesDep,
    headers: Annotated[dict[str, str], order_access(Permission.ORDERS_READ)],
) -> JSONResponse:
    """An order's returns, each with its status and the history of its steps (requested, approved or rejected,
    label_sent, received with units restocked or disposed per line, refunded with the fees kept)."""
    return await services.forward("orders", "GET", f"/orders/{order_id}/returns", headers=headers)


@router.get(
    "/admin/returns",
    summary="List returns",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_returns(
    services: ServicesDep,
    status: Literal["requested", "approved", "rejected", "label_sent", "received", "refunded"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JSONResponse:
    """Returns, newest first, optionally only those in ``status``."""
    params: dict[str, str | int] = {"limit": limit}
    if status is not None:
        params["status"] = status
    return await services.forward("orders", "GET", "/returns", params=params)


@router.post(
    "/admin/returns/{return_id}/approve",
    summary="Approve a return",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def approve_return(return_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """Approve a requested return: fulfillment makes a carrier label and the customer gets it by email."""
    return await services.forward("orders", "POST", f"/returns/{return_id}/approve")


@router.post(
    "/admin/returns/{return_id}/reject",
    summary="Reject a return",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def reject_return(return_id: uuid.UUID, body: ReturnRejectionIn, services: ServicesDep) -> JSONResponse:
    """Reject a requested return, saying why; the customer is told by email."""
    return await services.forward(
        "orders", "POST", f"/returns/{return_id}/reject", json=body.model_dump(mode="json")
    )


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
    return await services.forward(
        "fulfillment", "POST", f"/returns/{return_id}/received", json=body.model_dump(mode="json")
    )
