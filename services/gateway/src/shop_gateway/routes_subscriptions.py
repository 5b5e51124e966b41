"""Subscriptions in the public API: staff define plans and manage every subscription under /v1/admin; a signed-in
customer subscribes with a card (verified by payments first) and manages their own under /v1/subscriptions."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse

from shop_api.orders.client import SubscriptionMove
from shop_api.orders.subscriptions import (
    PLAN_CODE_PATTERN,
    PlanIn,
    SubscribeIn,
    SubscriptionCancelIn,
    SubscriptionCardIn,
)
from shop_api.payments import PaymentMethodIn
from shop_gateway.api import ALWAYS, STAFF_CALL, ServicesDep, problems, refuse_card_data, require
from shop_gateway.customer_auth import CustomerDep
from shop_gateway.domain import Permission
from shop_gateway.services import Services, passed_on

router = APIRouter(prefix="/v1", responses=problems(*ALWAYS), dependencies=[Depends(refuse_card_data)])

CUSTOMER_CALL = problems(*ALWAYS, 401, 404, 409)
NO_BODY = SubscriptionCancelIn()
"""A cancellation sent without a body: at the end of the paid cycle."""
SubscriptionStatus = Literal["active", "past_due", "paused", "cancelled"]


async def _verified(services: Services, token: str) -> JSONResponse | None:
    """None when payments verified the card (charging nothing); else its answer (422 with why, 503)."""
    verification = await services.payments.verify_payment_method(PaymentMethodIn(token=token))
    if verification.status_code == 200:
        return None
    return passed_on(verification)


# --- staff ----------------------------------------------------------------------------------------------


@router.post(
    "/admin/subscription-plans",
    summary="Define a subscription plan",
    status_code=201,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def create_plan(body: PlanIn, services: ServicesDep) -> JSONResponse:
    """A plan: its interval (monthly, or every N days, weeks or months), its price per cycle in each currency
    (delivery and tax included), an optional trial or first-cycle discount, and what each cycle delivers (an
    ordinary order of ``quantity`` units of ``sku``). Subscribers are in the plan's segment (default
    ``subscribers:<code>``) while subscribed. The same plan again answers it; another under its code is 409."""
    return passed_on(await services.orders.create_plan(body))


@router.get(
    "/admin/subscription-plans",
    summary="List subscription plans",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_plans_for_staff(services: ServicesDep) -> JSONResponse:
    return passed_on(await services.orders.plans())


@router.get(
    "/admin/subscriptions",
    summary="List subscriptions",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_subscriptions(
    services: ServicesDep,
    status: SubscriptionStatus | None = None,
    plan_code: Annotated[str | None, Query(max_length=48, pattern=PLAN_CODE_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """Subscriptions newest first, with their cycles (charged, failed, skipped and their orders), filtered by
    status and plan."""
    return passed_on(
        await services.orders.subscriptions(status=status, plan_code=plan_code, limit=limit, offset=offset)
    )


@router.get(
    "/admin/subscriptions/{subscription_id}",
    summary="Show a subscription",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_subscription_for_staff(subscription_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    return passed_on(await services.orders.subscription(subscription_id, customer_id=None))


@router.post(
    "/admin/subscriptions/{subscription_id}/cancel",
    summary="Cancel a subscription",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def cancel_subscription_for_staff(
    subscription_id: uuid.UUID, services: ServicesDep, body: SubscriptionCancelIn = NO_BODY
) -> JSONResponse:
    """``{"at": "now"}`` ends it at once; ``period_end`` (the default) when the cycle already paid for ends.
    Nothing paid is refunded. 409 when it is cancelled already."""
    return passed_on(
        await services.orders.change_subscription(subscription_id, "cancel", customer_id=None, body=body)
    )


@router.post(
    "/admin/subscriptions/{subscription_id}/{action}",
    summary="Pause, resume or skip a subscription's next cycle",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def change_subscription_for_staff(
    subscription_id: uuid.UUID, action: SubscriptionMove, services: ServicesDep
) -> JSONResponse:
    """``pause`` (no charge while paused), ``resume`` (charging starts again at the next scheduled date) or
    ``skip`` (the next cycle is neither charged nor shipped). 409 when the status does not allow it."""
    return passed_on(await services.orders.change_subscription(subscription_id, action, customer_id=None))


# --- customers ------------------------------------------------------------------------------------------


@router.get(
    "/subscription-plans",
    summary="List the plans one can subscribe to",
    tags=["subscriptions"],
    responses=problems(*ALWAYS),
)
async def list_plans(services: ServicesDep) -> JSONResponse:
    return passed_on(await services.orders.plans())


@router.post(
    "/subscriptions",
    summary="Subscribe to a plan",
    status_code=201,
    tags=["subscriptions"],
    responses=CUSTOMER_CALL,
)
async def subscribe(
    body: SubscribeIn,
    customer: CustomerDep,
    services: ServicesDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
) -> JSONResponse:
    """Subscribe the signed-in customer (an account is required) with a PSP card token, a shipping address and a
    currency the plan is sold in. The card is verified first (422 ``payment_method_not_verified`` when it
    cannot be); every cycle is then charged to it off session, on schedule, and becomes an ordinary order.
    The same ``Idempotency-Key`` answers the same subscription."""
    refused = await _verified(services, body.payment.token)
    if refused is not None:
        return refused
    return passed_on(await services.orders.subscribe(customer, body, idempotency_key=idempotency_key))


@router.get(
    "/subscriptions",
    summary="List my subscriptions",
    tags=["subscriptions"],
    responses=CUSTOMER_CALL,
)
async def list_my_subscriptions(
    customer: CustomerDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    return passed_on(await services.orders.subscriptions(customer_id=customer, limit=limit, offset=offset))


@router.get(
    "/subscriptions/{subscription_id}",
    summary="Show my subscription",
    tags=["subscriptions"],
    responses=CUSTOMER_CALL,
)
async def get_my_subscription(
    subscription_id: uuid.UUID, customer: CustomerDep, services: ServicesDep
) -> JSONResponse:
    """The subscription with its next charge and its cycles (each charged cycle names its order)."""
    return passed_on(await services.orders.subscription(subscription_id, customer_id=customer))


@router.post(
    "/subscriptions/{subscription_id}/cancel",
    summary="Cancel my subscription",
    tags=["subscriptions"],
    responses=CUSTOMER_CALL,
)
async def cancel_my_subscription(
    subscription_id: uuid.UUID,
    customer: CustomerDep,
    services: ServicesDep,
    body: SubscriptionCancelIn = NO_BODY,
) -> JSONResponse:
    """By default at the end of the cycle already paid for (``{"at": "period_end"}``), or at once with
    ``{"at": "now"}``; a paused or past-due subscription ends at once. Nothing paid is refunded."""
    return passed_on(
        await services.orders.change_subscription(subscription_id, "cancel", customer_id=customer, body=body)
    )


@router.post(
    "/subscriptions/{subscription_id}/{action}",
    summary="Pause, resume or skip my subscription's next cycle",
    tags=["subscriptions"],
    responses=CUSTOMER_CALL,
)
async def change_my_subscription(
    subscription_id: uuid.UUID, action: SubscriptionMove, customer: CustomerDep, services: ServicesDep
) -> JSONResponse:
    """``pause`` (nothing is charged or shipped while paused), ``resume`` (charging starts again at the next
    scheduled date; cycles that fell due while paused are not charged) or ``skip`` (the next cycle)."""
    return passed_on(await services.orders.change_subscription(subscription_id, action, customer_id=customer))


@router.put(
    "/subscriptions/{subscription_id}/payment-method",
    summary="Change my subscription's card",
    tags=["subscriptions"],
    responses=CUSTOMER_CALL,
)
async def change_my_card(
    subscription_id: uuid.UUID, body: SubscriptionCardIn, customer: CustomerDep, services: ServicesDep
) -> JSONResponse:
    """Verify a new card (422 when it cannot be) and charge later cycles to it; a cycle whose charge failed is
    charged to it at once (the dunning emails link the storefront page that calls this)."""
    refused = await _verified(services, body.token)
    if refused is not None:
        return refused
    return passed_on(
        await services.orders.change_subscription_card(subscription_id, body, customer_id=customer)
    )
