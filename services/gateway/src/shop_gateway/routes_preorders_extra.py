"""Public routes for pre-order promises and metrics: changing an expected inbound, the customer's decision about a
changed ship date, storefront product views, and the pre-order metrics staff read."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from shop_api.base import SKU_PATTERN
from shop_api.catalog import InboundChangeIn, ProductViewIn
from shop_api.orders.checkout import PreorderDecisionIn
from shop_api.orders.client import OrderAccess
from shop_gateway import ratelimit, routes_pages
from shop_gateway.api import ALWAYS, STAFF_CALL, ServicesDep, order_access, problems, require
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1", responses=problems(*ALWAYS))


async def view_limit(request: Request) -> None:
    """At most the configured product views per client address (per replica), so views stay a fair count."""
    ratelimit.enforce(request, request.app.state.view_limiter, "product views from this client")


@router.patch(
    "/admin/inbounds/{inbound_id}",
    summary="Change expected stock",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def change_inbound(inbound_id: uuid.UUID, body: InboundChangeIn, services: ServicesDep) -> JSONResponse:
    """Change an expected inbound (fewer units, a later or earlier date). Waiting pre-orders' ship dates are
    reckoned again; each customer whose date moved is emailed, and asked to consent when it passes the promise."""
    return passed_on(await services.catalog.change_inbound(inbound_id, body))


@router.post(
    "/orders/{order_id}/preorder-decision",
    summary="Accept or refuse a changed ship date",
    tags=["storefront"],
    responses=problems(401, 403, 404, 409),
)
async def decide_on_changed_date(
    order_id: uuid.UUID,
    body: PreorderDecisionIn,
    services: ServicesDep,
    access: Annotated[OrderAccess, order_access(Permission.ORDERS_WRITE)],
) -> JSONResponse:
    """Accept a pre-order's changed ship date or cancel with a full refund (deposit included). The storefront
    page the email links to POSTs here with the link's token as ``Authorization: Bearer`` (the order's access
    token or a staff key work too); opening the link itself changes nothing. A wrong token answers 404."""
    if access.access_token is not None:  # the email link's page token stands for its decision token
        token = await routes_pages.action_token_of(services, access.access_token, "decision", str(order_id))
        access = OrderAccess(access_token=token)
    return passed_on(await services.orders.decide_on_changed_date(order_id, body, access=access))


@router.post(
    "/products/{product_id}/views",
    summary="Count a product view",
    status_code=202,
    tags=["storefront"],
    dependencies=[Depends(view_limit)],
    responses=problems(404, 429),
)
async def record_product_view(
    product_id: uuid.UUID, body: ProductViewIn, services: ServicesDep
) -> JSONResponse:
    """Count a view of a product's variant (pre-order conversion). Rate-limited per client: 429 with
    ``Retry-After``."""
    return passed_on(await services.catalog.record_product_view(product_id, body))


@router.get(
    "/admin/preorder-metrics",
    summary="Show pre-order metrics",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_preorder_metrics(
    services: ServicesDep,
    sku: Annotated[str | None, Query(min_length=1, max_length=64, pattern=SKU_PATTERN)] = None,
    campaign: Annotated[
        str | None,
        Query(min_length=3, max_length=100, description="``SKU@<window start>`` or ``SKU@always``"),
    ] = None,
) -> JSONResponse:
    """Pre-order units and revenue per currency, pre-order share of all orders, conversion from product views,
    sell-out time of capped campaigns, cancellation and refund rates, and demand per option value; per campaign
    (one pre-order window of a variant), filtered by SKU or campaign (staff and support)."""
    catalog_part = await _json("catalog", services.catalog.preorder_metrics(sku=sku, campaign=campaign))
    orders_part = await _json("orders", services.orders.preorder_metrics(sku=sku, campaign=campaign))
    return JSONResponse(combine_metrics(catalog_part, orders_part))


async def _json(service: str, answer: Awaitable[httpx.Response]) -> dict[str, Any]:
    response = await answer
    if response.status_code != 200:
        raise Problem(503, f"{service} could not answer the pre-order metrics", code="service_unavailable")
    return response.json()  # type: ignore[no-any-return]


def combine_metrics(catalog_part: dict[str, Any], orders_part: dict[str, Any]) -> dict[str, Any]:
    """Join catalog's campaigns (views, cap, sell-out) and orders' (sales, cancellations, refunds, demand) by
    campaign id; conversion is pre-order orders per product view in the campaign's window."""
    by_campaign: dict[str, dict[str, Any]] = {}
    for item in catalog_part.get("campaigns", []):
        by_campaign.setdefault(item["campaign"], {}).update(
            {key: item.get(key) for key in ("sku", "starts_at", "ends_at", "cap", "views", "sold_out_at")}
            | {"sell_out_seconds": item.get("sell_out_seconds")}
        )
    for item in orders_part.get("campaigns", []):
        by_campaign.setdefault(item["campaign"], {}).update(
            {key: value for key, value in item.items() if key != "campaign"}
        )
    campaigns = []
    for name, item in sorted(by_campaign.items()):
        views = item.get("views")
        orders = item.get("orders", 0)
        campaigns.append(
            {
                "campaign": name,
                "sku": item.get("sku"),
                "window": {"starts_at": item.get("starts_at"), "ends_at": item.get("ends_at")},
                "cap": item.get("cap"),
                "orders": orders,
                "units": item.get("units", 0),
                "units_cancelled": item.get("units_cancelled", 0),
                "revenue": item.get("revenue", {}),
                "views": views,
                "conversion": round(orders / views, 4) if views else None,
                "sold_out_at": item.get("sold_out_at"),
                "sell_out_seconds": item.get("sell_out_seconds"),
                "cancelled_orders": item.get("cancelled_orders", 0),
                "cancellation_rate": item.get("cancellation_rate"),
                "refunded_orders": item.get("refunded_orders", 0),
                "refund_rate": item.get("refund_rate"),
                "refunded": item.get("refunded", {}),
                "demand_by_option": item.get("demand_by_option", {}),
            }
        )
    return {
        "orders": orders_part.get("orders", 0),
        "preorder_orders": orders_part.get("preorder_orders", 0),
        "preorder_share": orders_part.get("preorder_share"),
        "campaigns": campaigns,
    }
