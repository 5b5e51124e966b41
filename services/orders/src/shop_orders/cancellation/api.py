"""Orders' cancellation routes: cancel, read a cancellation, figures, and the win-back offer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from shop_api.orders.checkout import CancellationIn, OfferIn
from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation import queries as cancellation_queries
from shop_orders.core.errors import OrderError
from shop_orders.http import authorised, order_problem
from shop_orders.settings import OrdersSettings
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()


@router.post("/orders/{order_id}/cancel")
async def cancel_order(
    order_id: str,
    body: CancellationIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Cancel in any state before shipment, with the compensation that state needs.

    200 when cancelled (or partially, what had not shipped), 202 while fulfillment is asked to stop the
    groups with the warehouse (follow ``GET /orders/{id}/cancellation``), 409 when only a return can help.
    """
    await authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    settings: OrdersSettings = request.app.state.settings
    offer = await cancellation.current_offer(
        uow.session,
        cancellation.Offer(
            discount_percent=settings.win_back_discount_percent, valid_days=settings.win_back_valid_days
        ),
    )
    try:
        result = await committed(
            uow,
            cancellation.cancel_order(
                uow,
                order_id=order_id,
                reason=body.reason,
                note=body.note,
                cancelled_by="staff" if x_caller_role == "staff" else "customer",
                offer=offer,
                now=clock.now(),
            ),
        )
    except OrderError as error:
        raise order_problem(error) from error
    if result.status == "refused":
        raise Problem(409, result.refused_because or "cannot be cancelled", code="not_cancellable")
    return JSONResponse(
        cancellation_queries.result_view(result), status_code=202 if result.status == "requested" else 200
    )


@router.get("/orders/{order_id}/cancellation")
async def cancellation_of(
    order_id: str,
    request: Request,
    uow: UnitOfWorkDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    await authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    view = await cancellation_queries.cancellation_view(uow.session, order_id)
    if view is None:
        raise Problem(404, f"order {order_id} has no cancellation", code="no_cancellation")
    return view


@router.get("/cancellations/stats")
async def cancellation_stats(
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    since: datetime,
    until: datetime,
    within_days: Annotated[float | None, Query(gt=0, le=365)] = None,
) -> dict[str, Any]:
    """Cancellations by reason in [since, until): saved (the customer ordered again in time), lost, open."""
    for name, value in (("since", since), ("until", until)):
        if value.tzinfo is None:
            raise Problem(
                422,
                f"{name} needs a time zone",
                code="validation_error",
                errors=[{"field": f"query:{name}", "message": "give an offset, e.g. 2026-11-01T00:00:00Z"}],
            )
    if until <= since:
        raise Problem(
            422,
            "until must be after since",
            code="validation_error",
            errors=[{"field": "query:until", "message": "must be after since"}],
        )
    settings: OrdersSettings = request.app.state.settings
    return await cancellation_queries.cancellation_figures(
        uow.session,
        since=since,
        until=until,
        now=clock.now(),
        saved_within=timedelta(days=within_days or settings.saved_within_days),
    )


@router.get("/cancellation-offer")
async def get_offer(request: Request, uow: UnitOfWorkDep) -> dict[str, Any]:
    settings: OrdersSettings = request.app.state.settings
    offer = await cancellation.current_offer(
        uow.session,
        cancellation.Offer(
            discount_percent=settings.win_back_discount_percent, valid_days=settings.win_back_valid_days
        ),
    )
    return {"discount_percent": offer.discount_percent, "valid_days": offer.valid_days}


@router.put("/cancellation-offer")
async def set_offer(body: OfferIn, uow: UnitOfWorkDep) -> dict[str, Any]:
    offer = await committed(
        uow,
        cancellation.set_offer(
            uow, cancellation.Offer(discount_percent=body.discount_percent, valid_days=body.valid_days)
        ),
    )
    return {"discount_percent": offer.discount_percent, "valid_days": offer.valid_days}
