"""Fulfillment's internal HTTP API (the gateway forwards warehouse calls here): parse, call, map errors."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from shop_api.fulfillment import FulfillmentEventIn, ReturnReceiptIn
from shop_fulfillment import handlers, queries
from shop_fulfillment.domain import (
    FulfillmentError,
    FulfillmentStatus,
    InvalidPick,
    InvalidReturnReceipt,
    MissingShipmentDetails,
    OutOfOrderReport,
    ReturnAlreadyReceived,
    UnexpectedShipmentDetails,
    UnknownFulfillment,
    UnknownReturn,
)
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()

Location = Annotated[str, Query(min_length=1, max_length=64)]


def _problem(error: FulfillmentError) -> Problem:
    status, code = {
        UnknownFulfillment: (404, "unknown_fulfillment"),
        MissingShipmentDetails: (422, "validation_error"),
        UnexpectedShipmentDetails: (422, "validation_error"),
        InvalidPick: (422, "validation_error"),
        OutOfOrderReport: (409, "out_of_order"),
        UnknownReturn: (404, "unknown_return"),
        InvalidReturnReceipt: (422, "validation_error"),
        ReturnAlreadyReceived: (409, "return_already_received"),
    }.get(type(error), (409, "conflict"))
    if isinstance(error, OutOfOrderReport):
        return Problem(status, f"The fulfillment order is {error.current}", str(error), code=code)
    errors = [{"field": field, "message": str(error)} for field in error.fields] or None
    return Problem(status, str(error), code=code, errors=errors)


@router.get("/pick-requests")
async def pick_requests(
    location: Location,
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    return {"items": await queries.pick_requests(uow.session, location=location, limit=limit)}


@router.post("/fulfillments/{fulfillment_id}/events")
async def report_event(
    fulfillment_id: uuid.UUID, body: FulfillmentEventIn, uow: UnitOfWorkDep
) -> dict[str, Any]:
    if body.lines is not None and body.type != "picked":
        raise Problem(
            422,
            f"lines may only be reported with picked, not {body.type}",
            code="validation_error",
            errors=[{"field": "lines", "message": "only with type picked"}],
        )
    picked = None if body.lines is None else {line.sku: line.quantity for line in body.lines}
    if body.lines is not None and picked is not None and len(picked) != len(body.lines):
        raise Problem(
            422,
            "each SKU may appear once in lines",
            code="validation_error",
            errors=[{"field": "lines", "message": "a SKU appears twice"}],
        )

    async def report_and_show() -> dict[str, Any]:
        await handlers.report_fulfillment_event(
            uow,
            fulfillment_id=fulfillment_id,
            reported=FulfillmentStatus(body.type),
            carrier=body.carrier,
            tracking_number=body.tracking_number,
            picked=picked,
        )
        # Read in the report's own transaction: what it shows is exactly what commits.
        return await queries.get_fulfillment(uow.session, fulfillment_id)

    try:
        return await committed(uow, report_and_show())
    except FulfillmentError as error:
        raise _problem(error) from error


@router.get("/fulfillments")
async def fulfillments_of_order(
    order_id: Annotated[str, Query(min_length=1, max_length=100)], uow: UnitOfWorkDep
) -> dict[str, Any]:
    return {"items": await queries.fulfillments_of_order(uow.session, order_id)}


@router.get("/fulfillments/{fulfillment_id}")
async def get_fulfillment(fulfillment_id: uuid.UUID, uow: UnitOfWorkDep) -> dict[str, Any]:
    try:
        return await queries.get_fulfillment(uow.session, fulfillment_id)
    except FulfillmentError as error:
        raise _problem(error) from error


@router.post("/returns/{return_id}/received")
async def receive_return(
    return_id: uuid.UUID,
    body: ReturnReceiptIn,
    uow: UnitOfWorkDep,
    clock: ClockDep,
) -> dict[str, Any]:
    """The warehouse received an approved return and inspected each unit."""
    try:
        return await committed(
            uow,
            handlers.receive_return(
                uow,
                return_id=str(return_id),
                received=[(line.sku, line.quantity, line.condition) for line in body.lines],
                now=clock.now(),
            ),
        )
    except FulfillmentError as error:
        raise _problem(error) from error
