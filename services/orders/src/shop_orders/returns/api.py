"""Orders' internal HTTP API for returns (called by the gateway): parse, call a handler or query, map errors."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse

from shop_api.orders.returns import ReturnIn, ReturnReason, ReturnRejectionIn, ReturnStatus
from shop_orders.core.errors import OrderError
from shop_orders.http import authorised, order_problem
from shop_orders.returns import handlers as returns
from shop_orders.returns.domain import RETURN_REASONS, RETURN_STATUSES
from shop_orders.settings import OrdersSettings
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed

router = APIRouter()

assert set(get_args(ReturnReason)) == set(RETURN_REASONS)
assert set(get_args(ReturnStatus)) == set(RETURN_STATUSES)


@router.post("/orders/{order_id}/returns", status_code=201)
async def request_return(
    order_id: str,
    body: ReturnIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Ask for shipped units back within the window (never more than shipped and not already returned)."""
    await authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    settings: OrdersSettings = request.app.state.settings
    try:
        view = await committed(
            uow,
            returns.request_return(
                uow,
                order_id=order_id,
                lines=[(line.sku, line.quantity) for line in body.lines],
                reason=body.reason,
                note=body.note,
                window_days=settings.return_window_days,
                now=clock.now(),
                exchange_for={
                    line.sku: line.exchange_for for line in body.lines if line.exchange_for is not None
                },
            ),
        )
    except OrderError as error:
        raise order_problem(error, otherwise="invalid_return") from error
    return JSONResponse(_json(view), status_code=201)


@router.get("/orders/{order_id}/returns")
async def returns_of_order(
    order_id: str,
    request: Request,
    uow: UnitOfWorkDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    await authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    return {"items": await returns.returns_of_order(uow.session, order_id)}


@router.get("/returns")
async def returns_by_status(
    uow: UnitOfWorkDep,
    status: ReturnStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    return {"items": await returns.returns_by_status(uow.session, status, limit=limit)}


@router.post("/returns/{return_id}/approve")
async def approve_return(return_id: uuid.UUID, uow: UnitOfWorkDep, clock: ClockDep) -> JSONResponse:
    try:
        view = await committed(uow, returns.approve_return(uow, return_id=str(return_id), now=clock.now()))
    except OrderError as error:
        raise order_problem(error, otherwise="invalid_return") from error
    return JSONResponse(_json(view))


@router.post("/returns/{return_id}/reject")
async def reject_return(
    return_id: uuid.UUID, body: ReturnRejectionIn, uow: UnitOfWorkDep, clock: ClockDep
) -> JSONResponse:
    try:
        view = await committed(
            uow, returns.reject_return(uow, return_id=str(return_id), reason=body.reason, now=clock.now())
        )
    except OrderError as error:
        raise order_problem(error, otherwise="invalid_return") from error
    return JSONResponse(_json(view))


def _json(view: dict[str, Any]) -> dict[str, Any]:
    return {**view, "requested_at": view["requested_at"].isoformat()}
