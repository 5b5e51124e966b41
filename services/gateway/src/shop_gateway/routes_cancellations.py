"""Public routes for cancellations: cancel an order in any state (waiting briefly while fulfillment stops what
is with the warehouse), follow a cancellation, staff figures by reason and the win-back discount offer."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from shop_api.orders.checkout import CancellationIn, OfferIn
from shop_api.orders.client import OrderAccess
from shop_gateway.api import STAFF_CALL, ServicesDep, order_access, problems, require
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on
from shop_gateway.settings import GatewaySettings
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1", responses=problems(400, 413, 422, 503))

POLL_INTERVAL_SECONDS = 0.1


@router.post(
    "/orders/{order_id}/cancel",
    summary="Cancel an order",
    tags=["storefront"],
    responses=problems(401, 403, 404, 409),
)
async def cancel_order(
    order_id: uuid.UUID,
    body: CancellationIn,
    request: Request,
    services: ServicesDep,
    access: Annotated[OrderAccess, order_access(Permission.ORDERS_WRITE)],
) -> JSONResponse:
    """Cancel an order, with a reason, in any state before it leaves: stock and pre-order places are released,
    captures refunded per the policy, pick work with the warehouse stopped. Part of an order that shipped is
    kept (the rest is cancelled); once packed or shipped, 409: request a return. Asking again answers the same.

    For its customer (its access token) or staff; support may not. While fulfillment is being asked this waits
    a few seconds; an answer of 202 means it is still being asked (follow ``/cancellation``)."""
    answer = passed_on(await services.orders.cancel_order(order_id, body, access=access))
    if answer.status_code != 202:
        return answer
    settings: GatewaySettings = request.app.state.settings
    deadline = time.monotonic() + settings.gateway_cancel_wait_seconds
    view = json.loads(bytes(answer.body))
    while view.get("status") == "requested" and time.monotonic() < deadline:
        await asyncio.sleep(POLL_INTERVAL_SECONDS)
        # orders and fulfillment decide through messages; the gateway only waits for the outcome.
        followed = await services.orders.cancellation(order_id, access=access)
        if followed.status_code == 200:
            view = followed.json()
    if view.get("status") == "refused":
        raise Problem(
            409,
            "This order can no longer be cancelled",
            view.get("refused_because") or "request a return instead",
            code="not_cancellable",
        )
    fields = ("id", "status", "reason", "refund")  # the same answer as a cancel decided at once
    return JSONResponse(
        {key: view[key] for key in fields if key in view},
        status_code=202 if view.get("status") == "requested" else 200,
    )


@router.get(
    "/orders/{order_id}/cancellation",
    summary="Show an order's cancellation",
    tags=["storefront"],
    responses=problems(401, 403, 404),
)
async def get_cancellation(
    order_id: uuid.UUID,
    services: ServicesDep,
    access: Annotated[OrderAccess, order_access(Permission.ORDERS_READ)],
) -> JSONResponse:
    """An order's cancellation: status, reason, refund and the discount code offered, if any."""
    return passed_on(await services.orders.cancellation(order_id, access=access))


@router.get(
    "/admin/cancellations",
    summary="Count cancellations by reason",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def count_cancellations(
    services: ServicesDep,
    since: datetime,
    until: datetime,
    within_days: Annotated[float | None, Query(gt=0, le=365)] = None,
) -> JSONResponse:
    """Cancellations completed in [since, until) by reason, with how many customers were saved (they ordered
    again within ``within_days``, default SHOP_ORDERS_SAVED_WITHIN_DAYS), lost, or may still come back."""
    return passed_on(
        await services.orders.cancellation_stats(since=since, until=until, within_days=within_days)
    )


@router.get(
    "/admin/cancellations/offer",
    summary="Show the discount offered after a cancellation",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_offer(services: ServicesDep) -> JSONResponse:
    """The discount code offered after a cancellation (percent 0: none)."""
    return passed_on(await services.orders.cancellation_offer())


@router.put(
    "/admin/cancellations/offer",
    summary="Set the discount offered after a cancellation",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def set_offer(body: OfferIn, services: ServicesDep) -> JSONResponse:
    """Switch the win-back discount code on (a percent and how long it holds) or off (0)."""
    return passed_on(await services.orders.set_cancellation_offer(body))
