"""Catalog's stock holds at checkout (called by orders before it stores an order): hold the lines now, so the
buyer's answer says whether a unit is theirs."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response

from shop_api.catalog import StockHoldIn
from shop_catalog.domain.stock import RequestedLine
from shop_catalog.handlers import holds
from shop_catalog.handlers.answers import public_openings
from shop_catalog.settings import CatalogSettings
from shop_contracts import catalog as contracts
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()


@router.post("/stock-holds", status_code=201, response_model=contracts.StockReserved)
async def hold_stock(body: StockHoldIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep) -> Response:
    """Hold an order's lines until its reserve claims them, or refuse with the shortages and hold nothing.

    201 answers what the order's reserve will be told: units by location, pre-order places. 409 ``stock_short``
    lists each line catalog cannot cover and why (``out_of_stock``, ``preorder_cap_reached``, ...), naming
    ``lines[i].sku``; a ``preorder_not_open`` line also carries ``opens_at``, when its window opens to the
    public (``customer_segments`` in its early-access segment may order before). 409 ``order_known`` when the
    order id was seen before.
    """
    settings: CatalogSettings = request.app.state.settings
    try:
        held = await committed(
            uow,
            holds.hold_stock(
                uow,
                order_id=body.order_id,
                lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in body.lines],
                clock=clock,
                hold_for=timedelta(minutes=settings.stock_hold_minutes),
                customer_email=body.customer_email,
                customer_segments=frozenset(body.customer_segments),
                only_at_one_of=body.only_at_one_of,
            ),
        )
    except holds.StockHoldRefused as refused:
        index = {line.sku: position for position, line in reversed(list(enumerate(body.lines)))}
        opens = await public_openings(uow.session, refused.rejected.shortages)
        raise Problem(
            409,
            "Catalog cannot hold every line of this order",
            code="stock_short",
            errors=[
                {
                    "field": f"lines[{index.get(shortage.sku, 0)}].sku",
                    "message": f"{shortage.sku}: {shortage.available} of {shortage.requested} can be held",
                    "reason": shortage.reason,
                    "sku": shortage.sku,
                    "requested": str(shortage.requested),
                    "available": str(shortage.available),
                    **({"opens_at": opens[shortage.sku].isoformat()} if shortage.sku in opens else {}),
                }
                for shortage in refused.rejected.shortages
            ],
        ) from refused
    except holds.OrderAlreadyKnown as known:
        raise Problem(
            409,
            "Catalog has seen this order before: a hold is for an order not yet placed",
            code="order_known",
            errors=[{"field": "order_id", "message": "already known"}],
        ) from known
    # Encoded once, by the model: FastAPI would turn it into a dict, check it and encode that again.
    return Response(held.model_dump_json(), status_code=201, media_type="application/json")
