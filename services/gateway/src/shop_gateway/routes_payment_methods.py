"""The public route where a customer replaces the card of an order whose balance is charged later."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shop_api.orders.client import OrderAccess
from shop_api.payments import PaymentMethodIn
from shop_gateway.api import ServicesDep, order_access, problems
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1")

CLOSED = {"cancelled", "rejected", "delivered"}


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
    access: Annotated[OrderAccess, order_access(Permission.ORDERS_WRITE)],
) -> JSONResponse:
    """Replace the saved card that an order's later balances are charged to (the storefront's "update your
    payment method" page, linked from the reminder and dunning emails). The new card is verified first; a
    balance that could not be charged is charged again at once. For the order's customer (its access token)
    or staff. Answers the card's brand and last four digits."""
    path = f"/v1/orders/{order_id}/payment-method"
    order = await services.orders.order(order_id, access=access)
    if order.status_code != 200:
        return passed_on(order, path)
    status = order.json()["status"]
    if status in CLOSED:
        raise Problem(
            409,
            f"This order is {status}; there is nothing left to charge to a new payment method",
            code="order_closed",
            errors=[{"field": "order_id", "message": f"the order is {status}"}],
        )
    return passed_on(await services.payments.replace_payment_method(order_id, body), path)
