"""The public API under /v1: authenticate, validate, call the owning service, answer JSON or a problem."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from shop_gateway.domain import Role, bearer_token, role_for_api_key
from shop_gateway.schemas import (
    AdjustmentIn,
    CheckoutIn,
    FulfillmentEventIn,
    InboundIn,
    PreorderPolicyIn,
    ProductIn,
    ReceiptIn,
)
from shop_gateway.services import Services
from shop_gateway.settings import GatewaySettings
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1")


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]


def caller_role(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> Role | None:
    settings: GatewaySettings = request.app.state.settings
    if x_api_key is not None and (
        role := role_for_api_key(
            x_api_key, staff_key=settings.staff_api_key, warehouse_key=settings.warehouse_api_key
        )
    ):
        return role
    if x_api_key is not None:
        raise Problem(
            401, "The API key is not valid", code="invalid_api_key", headers={"WWW-Authenticate": "ApiKey"}
        )
    return None


def require(role: Role) -> Any:
    def check(found: Annotated[Role | None, Depends(caller_role)]) -> Role:
        if found is None:
            raise Problem(
                401,
                "An X-Api-Key header is required",
                code="missing_api_key",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        if found is not role:
            raise Problem(403, f"This call is for {role.value} keys", code="forbidden")
        return found

    return Depends(check)


@router.post("/admin/products", status_code=201, tags=["admin"], dependencies=[require(Role.STAFF)])
async def create_product(body: ProductIn, services: ServicesDep) -> JSONResponse:
    """Create a product with its variants (SKU, options, prices per currency)."""
    return await services.forward("catalog", "POST", "/products", json=body.model_dump(mode="json"))


@router.post(
    "/admin/inventory/adjustments", status_code=201, tags=["admin"], dependencies=[require(Role.STAFF)]
)
async def adjust_inventory(body: AdjustmentIn, services: ServicesDep) -> JSONResponse:
    """Count units in or out of a stock location."""
    return await services.forward(
        "catalog", "POST", "/inventory/adjustments", json=body.model_dump(mode="json")
    )


@router.put("/admin/variants/{sku}/preorder-policy", tags=["admin"], dependencies=[require(Role.STAFF)])
async def set_preorder_policy(sku: str, body: PreorderPolicyIn, services: ServicesDep) -> JSONResponse:
    """Put a variant on pre-order (or change how): payment mode, window, cap, limits, ship date, tiers."""
    return await services.forward(
        "catalog", "PUT", f"/preorder-policies/{sku}", json=body.model_dump(mode="json")
    )


@router.get("/admin/variants/{sku}/preorder-policy", tags=["admin"], dependencies=[require(Role.STAFF)])
async def get_preorder_policy(sku: str, services: ServicesDep) -> JSONResponse:
    return await services.forward("catalog", "GET", f"/preorder-policies/{sku}")


@router.delete("/admin/variants/{sku}/preorder-policy", tags=["admin"], dependencies=[require(Role.STAFF)])
async def end_preorder(sku: str, services: ServicesDep) -> JSONResponse:
    """Take a variant off pre-order; pre-orders already accepted keep their places."""
    return await services.forward("catalog", "DELETE", f"/preorder-policies/{sku}")


@router.post("/admin/inbounds", status_code=201, tags=["admin"], dependencies=[require(Role.STAFF)])
async def expect_inbound(body: InboundIn, services: ServicesDep) -> JSONResponse:
    """Record stock on its way to a location; waiting pre-orders get their expected ship dates from it."""
    return await services.forward("catalog", "POST", "/inbounds", json=body.model_dump(mode="json"))


@router.get("/admin/inbounds", tags=["admin"], dependencies=[require(Role.STAFF)])
async def list_inbounds(
    services: ServicesDep, sku: Annotated[str, Query(min_length=1, max_length=64)]
) -> JSONResponse:
    return await services.forward("catalog", "GET", "/inbounds", params={"sku": sku})


@router.post("/admin/inbounds/{inbound_id}/receive", tags=["admin"], dependencies=[require(Role.STAFF)])
async def receive_inbound(inbound_id: uuid.UUID, body: ReceiptIn, services: ServicesDep) -> JSONResponse:
    """Count what arrived; it is allocated to waiting pre-orders in queue order, then sold as stock."""
    return await services.forward(
        "catalog", "POST", f"/inbounds/{inbound_id}/receive", json=body.model_dump(mode="json")
    )


@router.get("/products", tags=["storefront"])
async def list_products(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """Products with each variant's prices and available quantity."""
    return await services.forward("catalog", "GET", "/products", params={"limit": limit, "offset": offset})


@router.get("/products/{product_id}", tags=["storefront"])
async def get_product(product_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    return await services.forward("catalog", "GET", f"/products/{product_id}")


@router.post("/orders", status_code=202, tags=["storefront"])
async def place_order(
    body: CheckoutIn,
    services: ServicesDep,
    idempotency_key: Annotated[
        str,
        Header(
            min_length=1,
            max_length=200,
            description="Retrying with the same key and body returns the same order.",
        ),
    ],
) -> JSONResponse:
    """Place an order; it is pending until stock is reserved and payment taken. Keep the access token."""
    return await services.forward(
        "orders",
        "POST",
        "/orders",
        json=body.model_dump(mode="json"),
        headers={"Idempotency-Key": idempotency_key},
    )


@router.get("/orders/{order_id}", tags=["storefront"])
async def get_order(
    order_id: uuid.UUID,
    services: ServicesDep,
    role: Annotated[Role | None, Depends(caller_role)],
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """One order with its lines, totals, payments, shipments and timeline: for its customer or staff."""
    headers: dict[str, str] = {}
    if role is Role.STAFF:
        headers["X-Caller-Role"] = "staff"
    elif (token := bearer_token(authorization)) is not None:
        headers["X-Order-Access-Token"] = token
    else:
        raise Problem(
            401,
            "Send the order's access token as 'Authorization: Bearer <token>'",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )
    order_response = await services.call("orders", "GET", f"/orders/{order_id}", headers=headers)
    if order_response.status_code != 200:
        return JSONResponse(
            order_response.json(),
            status_code=order_response.status_code,
            media_type=order_response.headers.get("content-type", "application/json"),
        )
    order = order_response.json()
    unavailable: list[str] = []
    order["payments"] = await _part(services, "payments", "/payments", str(order_id), unavailable)
    fulfillments = await _part(services, "fulfillment", "/fulfillments", str(order_id), unavailable)
    order["shipments"] = [
        {
            "id": item["id"],
            "location": item["location"],
            "status": item["status"],
            "carrier": item.get("carrier"),
            "tracking_number": item.get("tracking_number"),
            "events": item.get("events", []),
        }
        for item in (fulfillments or {}).get("items", [])
    ]
    order.pop("fulfillments", None)
    if unavailable:
        order["unavailable"] = unavailable
    return JSONResponse(order)


async def _part(
    services: Services, service: str, path: str, order_id: str, unavailable: list[str]
) -> dict[str, Any] | None:
    """A part of the order view owned by another service; missing (and said so) while that service is down."""
    try:
        response = await services.call(service, "GET", path, params={"order_id": order_id})
    except Problem:
        unavailable.append(service)
        return None
    return response.json() if response.status_code == 200 else None


@router.get("/warehouse/pick-requests", tags=["warehouse"], dependencies=[require(Role.WAREHOUSE)])
async def pick_requests(
    services: ServicesDep, location: Annotated[str, Query(min_length=1, max_length=64)]
) -> JSONResponse:
    """Fulfillment orders at a location that still need warehouse work, oldest first."""
    return await services.forward("fulfillment", "GET", "/pick-requests", params={"location": location})


@router.post(
    "/warehouse/fulfillments/{fulfillment_id}/events",
    tags=["warehouse"],
    dependencies=[require(Role.WAREHOUSE)],
)
async def report_fulfillment_event(
    fulfillment_id: uuid.UUID, body: FulfillmentEventIn, services: ServicesDep
) -> JSONResponse:
    """Report picked, packed, shipped (with carrier and tracking number) or delivered."""
    return await services.forward(
        "fulfillment", "POST", f"/fulfillments/{fulfillment_id}/events", json=body.model_dump(mode="json")
    )
