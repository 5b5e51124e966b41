"""The public API under /v1: authenticate, authorize by role, rate-limit checkout, validate, call the owning
service, answer JSON or a problem."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from shop_api.base import SKU_PATTERN
from shop_api.catalog import AdjustmentIn, InboundIn, PreorderPolicyIn, ProductIn, ReceiptIn, WaitlistIn
from shop_api.fulfillment import FulfillmentEventIn
from shop_api.orders.checkout import CheckoutIn, OrderOut, PlacedOrderOut, PlaceOrderIn
from shop_api.orders.client import OrderAccess
from shop_gateway import ratelimit
from shop_gateway.customer_auth import CustomerAuthDep, optional_customer
from shop_gateway.customer_tokens import looks_like_customer_token
from shop_gateway.domain import Permission, Role, may, role_for_api_key, roles_with
from shop_gateway.openapi import PROBLEM_REF
from shop_gateway.services import Services, passed_on
from shop_gateway.settings import GatewaySettings
from shop_runtime.card_data import card_data_in
from shop_runtime.problems import PROBLEM_JSON, Problem

_DESCRIPTIONS = {
    400: "The request is malformed",
    401: "Credentials are missing or not valid",
    403: "The credentials are valid but not for this call",
    404: "Not found (also for an order whose access token does not match)",
    409: "The call conflicts with the current state",
    413: "The request body is too large",
    422: "The request is not valid; `errors` names each field",
    429: "Too many requests; wait for `Retry-After` seconds",
    503: "The shop cannot answer right now; retry after `Retry-After` seconds",
}


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Whole seconds to wait before sending the same request again",
        "schema": {"type": "string", "pattern": "^[0-9]+$", "examples": ["2"]},
    }
}
_HEADERS = {429: _RETRY_AFTER, 503: _RETRY_AFTER}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for problem answers (``application/problem+json``, the ``Problem`` schema)."""
    return {
        status: {
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        for status in statuses
    }


ALWAYS = (400, 413, 422, 503)
"""Any call may be malformed, too large, invalid or meet a service that is down."""
STAFF_CALL = problems(*ALWAYS, 401, 403, 404, 409)


_MAY_HOLD_CARD_DATA = re.compile(
    rb'[^\t\n\r\x20-\x7e]|\\u|\d(?:[ -]?\d){12}|cv[cv]|card[_-]?number|"pan"', re.IGNORECASE
)
"""What a JSON body holding card data contains as written: a run of 13 digits (grouped or not) or a card data
field's name; or, for a closer look, an escape (``\\u0063vv`` is ``cvv`` once parsed) or a byte outside printable
ASCII (digits of other scripts, another encoding than UTF-8). A body with none of these holds no card data and is
not walked field by field."""


async def refuse_card_data(request: Request) -> None:
    """Card data in a request body (a CVV or card-number field, or a value that looks like a card number) is
    refused before any service sees it: the shop takes the PSP's token, never the card. The answer names the
    field, never the value."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    if not _MAY_HOLD_CARD_DATA.search(await request.body()):
        return  # FastAPI parses the JSON body for the route, once, as it would have here
    try:
        body = await request.json()  # parsed once: FastAPI reads a JSON body through the same cached call
    except ValueError:
        return  # not JSON: the route refuses it in its own way
    fields = card_data_in(body)
    if fields:
        raise Problem(
            422,
            "Card data is not accepted: send a PSP token",
            f"{', '.join(fields)}: tokenise the card with the payment provider and send its token "
            "(sandbox: tok_visa); card numbers and security codes never go to the shop",
            code="card_data_refused",
            errors=[{"field": field, "message": "card data; send a PSP token instead"} for field in fields],
        )


router = APIRouter(prefix="/v1", responses=problems(*ALWAYS), dependencies=[Depends(refuse_card_data)])

api_key_scheme = APIKeyHeader(
    name="X-Api-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="A staff (admin), support (read-only) or warehouse key.",
)
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="OrderAccessToken",
    description="The access token answered when the order was placed.",
)

SkuPath = Annotated[str, Path(min_length=1, max_length=64, pattern=SKU_PATTERN)]


async def services(request: Request) -> Services:
    """The app's service clients. Every gateway dependency that does no blocking work is a coroutine: FastAPI runs
    a plain ``def`` one in its thread pool, a hand-over to a worker thread and back per dependency per request."""
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(services)]


async def caller_role(
    request: Request, x_api_key: Annotated[str | None, Depends(api_key_scheme)] = None
) -> Role | None:
    """The role of the ``X-Api-Key`` presented; None without one; 401 for a key no role has."""
    if x_api_key is None:
        return None
    settings: GatewaySettings = request.app.state.settings
    role = role_for_api_key(x_api_key, settings.api_keys)
    if role is None:
        raise Problem(
            401, "The API key is not valid", code="invalid_api_key", headers={"WWW-Authenticate": "ApiKey"}
        )
    return role


def require(permission: Permission) -> Any:
    """A dependency: the caller's key must have a role whose table entry grants ``permission``."""
    allowed = ", ".join(role.value for role in roles_with(permission))

    async def check(found: Annotated[Role | None, Depends(caller_role)]) -> Role:
        if found is None:
            raise Problem(
                401,
                "An X-Api-Key header is required",
                code="missing_api_key",
                headers={"WWW-Authenticate": "ApiKey"},
            )
        if not may(found, permission):
            raise Problem(403, f"This call is for {allowed} keys", code="forbidden")
        return found

    return Depends(check)


async def checkout_limit(request: Request) -> None:
    """At most the configured checkouts per client address (see shop_gateway.ratelimit: per replica)."""
    ratelimit.enforce(request, request.app.state.checkout_limiter, "checkouts from this client")


@router.post(
    "/admin/products",
    summary="Create a product",
    status_code=201,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def create_product(body: ProductIn, services: ServicesDep) -> JSONResponse:
    """Create a product with its variants (SKU, options, prices per currency)."""
    return passed_on(await services.catalog.create_product(body))


@router.post(
    "/admin/inventory/adjustments",
    summary="Count units in or out of a location",
    status_code=201,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def adjust_inventory(body: AdjustmentIn, services: ServicesDep) -> JSONResponse:
    """Count units in or out of a stock location."""
    return passed_on(await services.catalog.adjust_inventory(body))


@router.put(
    "/admin/variants/{sku}/preorder-policy",
    summary="Put a variant on pre-order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def set_preorder_policy(sku: SkuPath, body: PreorderPolicyIn, services: ServicesDep) -> JSONResponse:
    """Put a variant on pre-order (or change how): payment mode, window, cap, limits, ship date, tiers."""
    return passed_on(await services.catalog.set_preorder_policy(sku, body))


@router.get(
    "/admin/variants/{sku}/preorder-policy",
    summary="Show a variant's pre-order policy",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def get_preorder_policy(sku: SkuPath, services: ServicesDep) -> JSONResponse:
    """A variant's pre-order policy (staff and support)."""
    return passed_on(await services.catalog.preorder_policy(sku))


@router.delete(
    "/admin/variants/{sku}/preorder-policy",
    summary="Take a variant off pre-order",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def end_preorder(sku: SkuPath, services: ServicesDep) -> JSONResponse:
    """Take a variant off pre-order; pre-orders already accepted keep their places."""
    return passed_on(await services.catalog.end_preorder(sku))


@router.post(
    "/admin/inbounds",
    summary="Record stock on its way",
    status_code=201,
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def expect_inbound(body: InboundIn, services: ServicesDep) -> JSONResponse:
    """Record stock on its way to a location; waiting pre-orders get their expected ship dates from it."""
    return passed_on(await services.catalog.expect_inbound(body))


@router.get(
    "/admin/inbounds",
    summary="List stock expected for a SKU",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_inbounds(
    services: ServicesDep,
    sku: Annotated[str, Query(min_length=1, max_length=64, pattern=SKU_PATTERN)],
) -> JSONResponse:
    """Stock expected for a SKU (staff and support)."""
    return passed_on(await services.catalog.inbounds(sku=sku))


@router.post(
    "/admin/inbounds/{inbound_id}/receive",
    summary="Count expected stock that arrived",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_WRITE)],
    responses=STAFF_CALL,
)
async def receive_inbound(inbound_id: uuid.UUID, body: ReceiptIn, services: ServicesDep) -> JSONResponse:
    """Count what arrived; it is allocated to waiting pre-orders in queue order, then sold as stock."""
    return passed_on(await services.catalog.receive_inbound(inbound_id, body))


@router.get(
    "/admin/waitlist",
    summary="List who waits for a variant",
    tags=["admin"],
    dependencies=[require(Permission.ADMIN_READ)],
    responses=STAFF_CALL,
)
async def list_waitlist(
    services: ServicesDep,
    sku: Annotated[str, Query(min_length=1, max_length=64, pattern=SKU_PATTERN)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """Who waits for a variant to come back or open for pre-order (staff and support)."""
    return passed_on(await services.catalog.waitlist(sku=sku, limit=limit, offset=offset))


@router.post(
    "/waitlist",
    summary="Join a variant's waitlist",
    status_code=201,
    tags=["storefront"],
    responses={
        200: {"description": "Already on this variant's waitlist: the entry as it was"},
        **problems(404),
    },
)
async def join_waitlist(body: WaitlistIn, services: ServicesDep) -> JSONResponse:
    """Be emailed once when a variant is back in stock or opens for pre-order; joining twice is one entry."""
    return passed_on(await services.catalog.join_waitlist(body))


@router.delete(
    "/waitlist/{entry_id}",
    summary="Leave a waitlist",
    status_code=204,
    tags=["storefront"],
    responses=problems(404),
)
async def leave_waitlist(entry_id: uuid.UUID, services: ServicesDep) -> Response:
    """Stop waiting for a variant (the entry id is in the answer to joining)."""
    response = await services.catalog.leave_waitlist(entry_id)
    if response.status_code == 204:
        return Response(status_code=204)
    return passed_on(response)


@router.get("/products", summary="List products", tags=["storefront"])
async def list_products(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JSONResponse:
    """Products with each variant's prices and available quantity."""
    return passed_on(await services.catalog.products(limit=limit, offset=offset))


@router.get("/products/{product_id}", summary="Show a product", tags=["storefront"], responses=problems(404))
async def get_product(product_id: uuid.UUID, services: ServicesDep) -> JSONResponse:
    """A product with each variant's options, prices and available quantity."""
    return passed_on(await services.catalog.product(product_id))


@router.post(
    "/orders",
    summary="Place an order",
    status_code=202,
    tags=["storefront"],
    dependencies=[Depends(checkout_limit)],
    responses={
        202: {"model": PlacedOrderOut, "description": "The order is placed"},
        **problems(401, 404, 409, 429),
    },
)
async def place_order(
    request: Request,
    body: CheckoutIn,
    customer: Annotated[str | None, Depends(optional_customer)],
    idempotency_key: Annotated[
        str,
        Header(
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="Retrying with the same key and body returns the same order.",
        ),
    ],
) -> JSONResponse:
    """Place an order; it is pending until stock is reserved and payment taken. Keep the access token.

    Only the fields documented here are accepted: a checkout naming a price, total or status is refused (422).
    Rate-limited per client: 429 with ``Retry-After`` when a client checks out too often.
    In a rush (a limited drop) checkouts are taken in arrival order, a few at a time; one that waited its
    longest is answered 503 ``busy`` with ``Retry-After``: nothing was ordered, send it again with the same key.
    A 202 holds the order's units (or pre-order places): a line catalog cannot hold answers 409 ``sold_out``
    (no units left, or the pre-order's cap full), ``purchase_limit_reached`` or ``preorder_not_open`` at once,
    naming the line; nothing is stored or held, so the same key may be tried again once it is back in stock.

    With a customer's token (``Authorization: Bearer``) the order belongs to the account; email, locale and
    shipping address may then be left out (the account's, its default address, or ``shipping_address_id``)."""
    services: Services = request.app.state.services  # read here: one dependency fewer to solve per checkout
    sent: PlaceOrderIn | bytes
    if body.shipping_method == "same_day":
        stock = await stock_at_locations(services, [line.sku for line in body.lines])
        sent = PlaceOrderIn.of(body, stock_at_locations=stock)
    else:
        # Validated above as CheckoutIn, which is PlaceOrderIn without catalog's stock: orders validates the same
        # bytes again, so they go as they came instead of being dumped and encoded once more.
        sent = await request.body()
    response = passed_on(
        await services.orders.place_order(sent, idempotency_key=idempotency_key, customer_id=customer)
    )
    if response.status_code == 202:
        placed = PlacedOrderOut.model_validate_json(bytes(response.body))
        response.headers["Location"] = f"/v1/orders/{placed.id}"
    return response


async def stock_at_locations(services: Services, skus: list[str]) -> dict[str, dict[str, int]]:
    """Available units by location and SKU as catalog counts them now: orders decides same-day delivery from
    it (catalog checks again when it reserves)."""
    found: dict[str, dict[str, int]] = {}
    for sku in sorted(set(skus)):
        response = await services.catalog.stock_of(sku)
        if response.status_code != 200:
            continue
        for level in response.json().get("locations", []):
            found.setdefault(str(level["location"]), {})[sku] = int(level["available"])
    return found


def order_access(permission: Permission) -> Any:
    """A dependency for every order-scoped route: who opens the order, as orders checks it.

    A staff key whose role has ``permission`` opens any order; a customer's token (from login) opens the
    account's orders; otherwise the order's own access token (``Authorization: Bearer``) is passed on and orders
    checks it against the order id. A token of another order or customer answers 404, exactly as for an order
    that does not exist."""

    async def credentials(
        role: Annotated[Role | None, Depends(caller_role)],
        auth: CustomerAuthDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)] = None,
    ) -> OrderAccess:
        if role is not None:
            if not may(role, permission):
                raise Problem(403, "This key may not do this to orders", code="forbidden")
            return OrderAccess(staff=True)
        if bearer is not None and looks_like_customer_token(bearer.credentials.strip()):
            return OrderAccess(customer_id=auth.customer_of(bearer.credentials.strip()))
        if bearer is not None and bearer.credentials.strip():
            return OrderAccess(access_token=bearer.credentials.strip())
        raise Problem(
            401,
            "Send the order's access token as 'Authorization: Bearer <token>'",
            code="missing_credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )

    return Depends(credentials)


@router.get(
    "/orders/{order_id}",
    summary="Show an order",
    tags=["storefront"],
    responses={200: {"model": OrderOut, "description": "The order"}, **problems(401, 403, 404)},
)
async def get_order(
    order_id: uuid.UUID,
    services: ServicesDep,
    access: Annotated[OrderAccess, order_access(Permission.ORDERS_READ)],
) -> JSONResponse:
    """One order with its lines, totals, payments, shipments and timeline: for its customer (its access token)
    or staff and support. A token that is not this order's answers 404, as for an order that does not exist."""
    order_response = await services.orders.order(order_id, access=access)
    if order_response.status_code != 200:
        return passed_on(order_response, f"/v1/orders/{order_id}")
    order = order_response.json()
    unavailable: list[str] = []
    order["payments"] = await _part("payments", services.payments.payments_of_order(order_id), unavailable)
    fulfillments = await _part(
        "fulfillment", services.fulfillment.fulfillments_of_order(order_id), unavailable
    )
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
    for line in order.get("lines", []):
        line["ahead_of_you"] = line["units_ahead"] = None
    waiting = [line for line in order.get("lines", []) if line.get("kind") == "preorder"]
    if waiting:  # where each waiting pre-order is in its queue now: catalog keeps the queue
        places = await _part("catalog", services.catalog.preorders_of_order(order_id), unavailable)
        by_sku = {place["sku"]: place for place in (places or {}).get("items", [])}
        for line in waiting:
            place = by_sku.get(line["sku"], {})
            line["ahead_of_you"] = place.get("ahead_of_you")
            line["units_ahead"] = place.get("units_ahead")
    if unavailable:
        order["unavailable"] = unavailable
    return JSONResponse(order)


async def _part(
    service: str, answer: Awaitable[httpx.Response], unavailable: list[str]
) -> dict[str, Any] | None:
    """A part of the order view owned by another service; missing (and said so) while that service is down."""
    try:
        response = await answer
    except Problem:
        unavailable.append(service)
        return None
    return response.json() if response.status_code == 200 else None


# POST /orders/{order_id}/cancel lives in routes_cancellations.py with the other cancellation routes.


@router.get(
    "/warehouse/pick-requests",
    summary="List pick work at a location",
    tags=["warehouse"],
    dependencies=[require(Permission.WAREHOUSE)],
    responses=STAFF_CALL,
)
async def list_pick_requests(
    services: ServicesDep, location: Annotated[str, Query(min_length=1, max_length=64)]
) -> JSONResponse:
    """Fulfillment orders at a location that still need warehouse work, oldest first."""
    return passed_on(await services.fulfillment.pick_requests(location=location))


@router.post(
    "/warehouse/fulfillments/{fulfillment_id}/events",
    summary="Report warehouse progress on a shipment",
    tags=["warehouse"],
    dependencies=[require(Permission.WAREHOUSE)],
    responses=STAFF_CALL,
)
async def report_fulfillment_event(
    fulfillment_id: uuid.UUID, body: FulfillmentEventIn, services: ServicesDep
) -> JSONResponse:
    """Report picked, packed, shipped (with carrier and tracking number) or delivered."""
    return passed_on(await services.fulfillment.report_event(fulfillment_id, body))
