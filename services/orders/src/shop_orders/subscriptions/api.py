"""Orders' internal HTTP API for subscriptions (called by the gateway, which has already checked who calls): staff
define plans and see every subscription; a customer's calls carry ``X-Customer-Id`` and reach only their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from shop_api.orders.subscriptions import PlanIn, SubscribeIn, SubscriptionCancelIn, SubscriptionCardIn
from shop_orders.core.errors import OrderError
from shop_orders.http import order_problem
from shop_orders.settings import OrdersSettings
from shop_orders.subscriptions import handlers, queries
from shop_orders.subscriptions.domain import (
    Interval,
    InvalidPlan,
    NotInStatus,
    Plan,
    PlanExists,
    PlanNotInCurrency,
    Status,
    UnknownPlan,
    UnknownSubscription,
    default_segment,
)
from shop_orders.subscriptions.handlers import NewSubscription, SubscriptionSettings
from shop_runtime.database import Database
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()

CustomerHeader = Annotated[str | None, Header(alias="X-Customer-Id")]

ERROR_STATUSES: dict[type[OrderError], tuple[int, str]] = {
    UnknownPlan: (404, "unknown_plan"),
    PlanExists: (409, "plan_exists"),
    InvalidPlan: (422, "validation_error"),
    PlanNotInCurrency: (422, "not_sold_in_currency"),
    UnknownSubscription: (404, "unknown_subscription"),
    NotInStatus: (409, "subscription_not_in_status"),
}


def subscription_problem(error: OrderError) -> Problem:
    if type(error) in ERROR_STATUSES:
        status, code = ERROR_STATUSES[type(error)]
        errors = [{"field": error.field, "message": str(error)}] if error.field else None
        return Problem(status, str(error), code=code, errors=errors)
    return order_problem(error, otherwise="invalid_subscription")


def subscription_settings(request: Request) -> SubscriptionSettings:
    settings: OrdersSettings = request.app.state.settings
    return settings_of(settings)


def settings_of(settings: OrdersSettings) -> SubscriptionSettings:
    return SubscriptionSettings(
        retry_after=timedelta(hours=settings.subscription_dunning_retry_hours),
        dunning_period=timedelta(days=settings.subscription_dunning_period_days),
        notice=timedelta(hours=settings.subscription_notice_hours),
    )


@router.post("/subscription-plans", status_code=201)
async def create_plan(body: PlanIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep) -> dict[str, Any]:
    plan = Plan(
        code=body.code,
        name=body.name,
        interval=Interval(body.interval.unit, body.interval.count),
        prices={price.currency: price.amount for price in body.prices},
        sku=body.sku,
        quantity=body.quantity,
        segment=body.segment or default_segment(body.code),
        trial_days=body.trial_days,
        first_cycle_percent_off=body.first_cycle_percent_off,
    )
    if len(plan.prices) != len(body.prices):
        raise Problem(
            422,
            "each currency may be priced once",
            code="validation_error",
            errors=[{"field": "prices", "message": "a currency appears twice"}],
        )
    try:
        await committed(uow, handlers.create_plan(uow, plan=plan, now=clock.now()))
    except OrderError as error:
        raise subscription_problem(error) from None
    return await _read(request, lambda session: queries.plan(session, plan.code))


@router.get("/subscription-plans")
async def list_plans(uow: UnitOfWorkDep) -> dict[str, Any]:
    return {"items": await queries.plans(uow.session)}


@router.get("/subscriptions")
async def list_subscriptions(
    uow: UnitOfWorkDep,
    customer_id: str | None = None,
    status: Status | None = None,
    plan_code: Annotated[str | None, Query(max_length=48)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return await queries.subscriptions_list(
        uow.session,
        customer_id=customer_id,
        status=status.value if status is not None else None,
        plan_code=plan_code,
        limit=limit,
        offset=offset,
    )


@router.post("/customers/{customer_id}/subscriptions", status_code=201)
async def subscribe(
    customer_id: str,
    body: SubscribeIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """The gateway verified the card with payments first."""
    new = NewSubscription(
        customer_id=customer_id,
        plan_code=body.plan_code,
        currency=body.currency,
        payment_token=body.payment.token,
        shipping_address=body.shipping_address.model_dump(mode="json"),
        shipping_method=body.shipping_method,
        idempotency_key=idempotency_key,
    )
    try:
        subscription, _ = await committed(
            uow,
            handlers.subscribe(uow, new=new, now=clock.now(), settings=subscription_settings(request)),
        )
    except OrderError as error:
        raise subscription_problem(error) from None
    try:
        return await _subscription(request, subscription.id, customer_id)
    except OrderError as error:
        raise subscription_problem(error) from None


@router.get("/subscriptions/{subscription_id}")
async def get_subscription(
    subscription_id: str, uow: UnitOfWorkDep, x_customer_id: CustomerHeader = None
) -> dict[str, Any]:
    try:
        return await queries.subscription(uow.session, subscription_id, customer_id=x_customer_id)
    except OrderError as error:
        raise subscription_problem(error) from None


@router.post("/subscriptions/{subscription_id}/{action}")
async def change_subscription(
    subscription_id: str,
    action: str,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    body: SubscriptionCancelIn | None = None,
    x_customer_id: CustomerHeader = None,
) -> dict[str, Any]:
    """Pause, resume, skip (the next cycle) or cancel (``body.at``: period_end or now)."""
    now, settings = clock.now(), subscription_settings(request)
    ids: dict[str, Any] = {"subscription_id": subscription_id, "customer_id": x_customer_id, "now": now}
    try:
        if action == "pause":
            await committed(uow, handlers.pause(uow, **ids))
        elif action == "resume":
            await committed(uow, handlers.resume(uow, **ids, settings=settings))
        elif action == "skip":
            await committed(uow, handlers.skip_next(uow, **ids, settings=settings))
        elif action == "cancel":
            at_period_end = (body or SubscriptionCancelIn()).at == "period_end"
            await committed(uow, handlers.cancel(uow, **ids, at_period_end=at_period_end))
        else:
            raise Problem(404, f"no action {action} on a subscription", code="not_found")
    except OrderError as error:
        raise subscription_problem(error) from None
    return await _subscription(request, subscription_id, x_customer_id)


@router.put("/subscriptions/{subscription_id}/payment-method")
async def change_card(
    subscription_id: str,
    body: SubscriptionCardIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    x_customer_id: CustomerHeader = None,
) -> dict[str, Any]:
    """The gateway verified the card with payments first."""
    try:
        await committed(
            uow,
            handlers.change_card(
                uow,
                subscription_id=subscription_id,
                customer_id=x_customer_id,
                payment_token=body.token,
                now=clock.now(),
            ),
        )
    except OrderError as error:
        raise subscription_problem(error) from None
    return await _subscription(request, subscription_id, x_customer_id)


async def _subscription(request: Request, subscription_id: str, customer_id: str | None) -> dict[str, Any]:
    """The subscription as just committed, read in a transaction of its own."""
    database: Database = request.app.state.database
    async with database.unit_of_work() as uow:
        return await queries.subscription(uow.session, subscription_id, customer_id=customer_id)


async def _read(
    request: Request, read: Callable[[AsyncSession], Awaitable[dict[str, Any] | None]]
) -> dict[str, Any]:
    database: Database = request.app.state.database
    async with database.unit_of_work() as uow:
        view = await read(uow.session)
    assert view is not None
    return view
