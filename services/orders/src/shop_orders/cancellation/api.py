"""Orders' cancellation routes: cancel, read a cancellation, figures, the win-back offers by reason, and the
customer's feedback about a cancellation."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from shop_api.orders.checkout import CancellationIn, FeedbackIn
from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation import queries as cancellation_queries
from shop_orders.cancellation.domain import FeedbackTokenRefused, WinBackOffer, check_feedback_token
from shop_orders.core.errors import OrderError
from shop_orders.core.tables import cancellation_feedback
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
    try:
        result = await committed(
            uow,
            cancellation.cancel_order(
                uow,
                order_id=order_id,
                reason=body.reason,
                note=body.note,
                cancelled_by="staff" if x_caller_role == "staff" else "customer",
                offer=offer_for(settings, body.reason),
                token_secret=settings.access_token_secret,
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


def _time_window(since: datetime, until: datetime) -> None:
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


@router.get("/cancellations/stats")
async def cancellation_stats(
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    since: datetime,
    until: datetime,
    within_days: Annotated[float | None, Query(gt=0, le=365)] = None,
) -> dict[str, Any]:
    """Cancellations by reason in [since, until): saved (the offer's code used, or the same customer ordered
    again in time), lost, open."""
    _time_window(since, until)
    settings: OrdersSettings = request.app.state.settings
    return await cancellation_queries.cancellation_figures(
        uow.session,
        since=since,
        until=until,
        now=clock.now(),
        saved_within=timedelta(days=within_days or settings.saved_within_days),
    )


def offer_for(settings: OrdersSettings, reason: str) -> WinBackOffer | None:
    """The win-back offer configured for a cancellation reason; None offers nothing."""
    configured = settings.win_back_offers.get(reason)
    if configured is None:
        return None
    return WinBackOffer(
        kind=configured.kind,
        percent_off=configured.percent_off,
        amount_off=dict(configured.amount_off),
        link=configured.link,
        valid_days=configured.valid_days,
    )


@router.get("/cancellation-offers")
async def offers(request: Request) -> dict[str, Any]:
    """The win-back offer of each cancellation reason (SHOP_ORDERS_WIN_BACK_OFFERS); a reason not listed offers
    nothing."""
    settings: OrdersSettings = request.app.state.settings
    return {
        "offers": {
            reason: configured.model_dump(mode="json")
            for reason, configured in sorted(settings.win_back_offers.items())
        }
    }


@router.post("/orders/{order_id}/feedback")
async def give_feedback(
    order_id: str,
    body: FeedbackIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    token: Annotated[str, Query(min_length=1, max_length=200)],
) -> JSONResponse:
    """The customer's score and words about their cancellation, from the cancellation email's link (its token is
    the credential). 201 when kept; 200 with what was kept when feedback was already given (the first stays)."""
    settings: OrdersSettings = request.app.state.settings
    try:
        feedback = await committed(
            uow,
            cancellation.give_feedback(
                uow,
                order_id=order_id,
                token=token,
                score=body.score,
                comment=body.comment,
                secret=settings.access_token_secret,
                valid=timedelta(days=settings.feedback_link_days),
                now=clock.now(),
            ),
        )
    except FeedbackTokenRefused as error:
        raise _token_problem(error) from error
    except OrderError as error:
        raise order_problem(error) from error
    return JSONResponse(
        {
            "order_id": feedback.order_id,
            "score": feedback.score,
            "comment": feedback.comment,
            "given_at": feedback.created_at.isoformat(),
            "already_given": not feedback.recorded,
        },
        status_code=201 if feedback.recorded else 200,
    )


def _token_problem(error: FeedbackTokenRefused) -> Problem:
    return Problem(
        error.status,
        "The feedback link's token is not accepted",
        str(error),
        code=error.code,
        errors=[{"field": "query:token", "message": str(error)}],
    )


@router.get("/orders/{order_id}/feedback")
async def feedback_of_order(
    order_id: str,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    token: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """Whether the feedback link's token opens this order's feedback (the hosted feedback page asks before it
    shows its form: a wrong or expired link gets a plain page), and the feedback kept, if any."""
    settings: OrdersSettings = request.app.state.settings
    try:
        check_feedback_token(
            settings.access_token_secret,
            order_id,
            token,
            now=clock.now(),
            valid=timedelta(days=settings.feedback_link_days),
        )
    except FeedbackTokenRefused as error:
        raise _token_problem(error) from error
    kept = (
        await uow.session.execute(
            sa.select(cancellation_feedback).where(cancellation_feedback.c.order_id == order_id)
        )
    ).first()
    if kept is None:
        return {"order_id": order_id, "given": False}
    return {
        "order_id": order_id,
        "given": True,
        "score": kept.score,
        "comment": kept.comment,
        "given_at": kept.created_at.isoformat(),
    }


@router.get("/cancellations/feedback")
async def feedback(
    uow: UnitOfWorkDep,
    since: datetime,
    until: datetime,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Customers' feedback on cancellations given in [since, until), newest first, each with its reason."""
    _time_window(since, until)
    return await cancellation_queries.feedback_given(
        uow.session, since=since, until=until, limit=limit, offset=offset
    )
