"""Public routes for cancellations: cancel an order in any state (waiting briefly while fulfillment stops what
is with the warehouse), follow a cancellation, the customer's feedback from the cancellation email's link, and
for staff the figures by reason, the feedback given and the win-back offers by reason."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from shop_api.orders.checkout import CancellationIn, FeedbackIn
from shop_api.orders.client import OrderAccess
from shop_gateway import ratelimit
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
    "/admin/cancellations/offers",
    summary="Show the win-back offer of each cancellation reason",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_offers(services: ServicesDep) -> JSONResponse:
    """What a customer who cancels is offered, by reason (``SHOP_ORDERS_WIN_BACK_OFFERS``): a single-use code tied
    to them (``percent``, ``fixed_amount`` per currency, ``free_shipping``, each valid ``valid_days``) or a
    ``link`` (size guide, similar products) with no code. A reason not listed offers nothing."""
    return passed_on(await services.orders.cancellation_offers())


@router.get(
    "/admin/cancellations/feedback",
    summary="List customers' feedback on their cancellations",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_feedback(
    services: ServicesDep,
    since: datetime,
    until: datetime,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JSONResponse:
    """Feedback given in [since, until), newest first: each with the order, the cancellation reason, who
    cancelled, the note written with it, the score (1-5) and the customer's comment."""
    return passed_on(
        await services.orders.cancellation_feedback(since=since, until=until, limit=limit, offset=offset)
    )


async def feedback_limit(request: Request) -> None:
    """At most so many feedback posts per client address (per replica), at the rates of logins: a token cannot
    be guessed, but a flood of them still reaches orders' database."""
    state = request.app.state
    limiter: ratelimit.RateLimiter | None = getattr(state, "feedback_limiter", None)
    if limiter is None:  # made on first use from the app's settings, once per app
        settings: GatewaySettings = state.settings
        limiter = state.feedback_limiter = ratelimit.RateLimiter(
            rate=settings.gateway_login_rate_per_client_per_second,
            burst=settings.gateway_login_burst_per_client,
        )
    ratelimit.enforce(request, limiter, "feedback from this client")


@router.post(
    "/cancellations/{order_id}/feedback",
    summary="Tell the shop why you cancelled",
    tags=["storefront"],
    dependencies=[Depends(feedback_limit)],
    responses={
        201: {"description": "Kept"},
        200: {"description": "Feedback was already given for this cancellation: what was kept"},
        **problems(401, 429),
    },
)
async def give_feedback(
    order_id: uuid.UUID,
    body: FeedbackIn,
    services: ServicesDep,
    token: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="The token of the cancellation email's feedback link: it opens this order's feedback only",
        ),
    ],
) -> JSONResponse:
    """A score from 1 to 5 and a comment (up to 2,000 characters) about a cancellation, from the feedback link of
    the cancellation email: no login, the link's token is the credential (signed for this one cancelled order
    and for feedback, and it expires: ``SHOP_ORDERS_FEEDBACK_LINK_DAYS``). Feedback is kept once: posting again
    answers 200 with what was kept, whatever the new body says. A token that is not one answers 400
    ``malformed_token``; one for another order or changed 401 ``invalid_token``; an expired one 401
    ``expired_token``."""
    return passed_on(await services.orders.give_feedback(order_id, body, token=token))
