"""The public route where a customer replaces the card of an order whose balance is charged later."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from shop_gateway.api import ServicesDep, order_access, problems
from shop_gateway.domain import Permission
from shop_gateway.schemas import Strict, example
from shop_gateway.services import public_body
from shop_runtime.problems import PROBLEM_JSON, Problem

router = APIRouter(prefix="/v1")

CLOSED = {"cancelled", "rejected", "delivered"}


class PaymentMethodIn(Strict):
    model_config = example({"token": "tok_mastercard"})

    token: str = Field(
        min_length=1,
        max_length=200,
        description="The PSP's token of the new card, made by the PSP's own form; never card numbers.",
    )


@router.put(
    "/orders/{order_id}/payment-method",
    summary="Replace an order's saved card",
    tags=["storefront"],
    responses=problems(400, 401, 403, 404, 409, 413, 422, 503),
)
async def replace_payment_method(
    order_id: uuid.UUID,
    body: PaymentMethodIn,
    services: ServicesDep,
    headers: Annotated[dict[str, str], order_access(Permission.ORDERS_WRITE)],
) -> JSONResponse:
    """Replace the saved card that an order's later balances are charged to (the storefront's "update your
    payment method" page, linked from the reminder and dunning emails). The new card is verified first; a
    balance that could not be charged is charged again at once. For the order's customer (its access token)
    or staff. Answers the card's brand and last four digits."""
    path = f"/v1/orders/{order_id}/payment-method"
    order = await services.call("orders", "GET", f"/orders/{order_id}", headers=headers)
    if order.status_code != 200:
        content_type = order.headers.get("content-type", "")
        return JSONResponse(
            public_body(order, path),
            status_code=order.status_code,
            media_type=PROBLEM_JSON if content_type.startswith(PROBLEM_JSON) else "application/json",
        )
    status = order.json()["status"]
    if status in CLOSED:
        raise Problem(
            409,
            f"This order is {status}; there is nothing left to charge to a new payment method",
            code="order_closed",
            errors=[{"field": "order_id", "message": f"the order is {status}"}],
        )
    return await services.forward(
        "payments",
        "PUT",
        f"/payment-methods/{order_id}",
        json=body.model_dump(mode="json"),
        public_path=path,
    )
