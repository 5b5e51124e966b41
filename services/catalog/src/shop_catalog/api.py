"""Catalog's internal HTTP API (called by the gateway): parse, call a handler or query, map errors."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from shop_api.catalog import (
    AdjustmentIn,
    InboundChangeIn,
    InboundIn,
    PreorderPolicyIn,
    PriceChangeIn,
    ProductChangeIn,
    ProductIn,
    ProductViewIn,
    ReceiptIn,
    SafetyStockIn,
    VariantIn,
    WaitlistIn,
)
from shop_catalog import queries
from shop_catalog.domain.errors import (
    CatalogError,
    DuplicateSku,
    InboundAlreadyReceived,
    InvalidPreorderPolicy,
    InvalidPriceChange,
    NoPreorderPolicy,
    NothingToChange,
    UnknownInbound,
    UnknownPriceChange,
    UnknownProduct,
    UnknownSku,
    UnknownWaitlistEntry,
    VariantRetired,
)
from shop_catalog.domain.products import check_price_currencies
from shop_catalog.domain.waitlist import WaitlistEntry
from shop_catalog.handlers import inbounds, merchandising, preorders, products, safety_stock, stock, waitlist
from shop_catalog.handlers.preorders import SavedPolicy
from shop_contracts.values import PreorderPolicy
from shop_runtime.clock import Clock
from shop_runtime.database import UnitOfWork
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()


def _problem(error: CatalogError) -> Problem:
    status, code = {
        UnknownSku: (404, "unknown_sku"),
        UnknownProduct: (404, "unknown_product"),
        DuplicateSku: (409, "duplicate_sku"),
        InvalidPreorderPolicy: (422, "validation_error"),
        NoPreorderPolicy: (404, "no_preorder_policy"),
        UnknownInbound: (404, "unknown_inbound"),
        InboundAlreadyReceived: (409, "inbound_already_received"),
        UnknownWaitlistEntry: (404, "unknown_waitlist_entry"),
        VariantRetired: (409, "variant_retired"),
        InvalidPriceChange: (422, "validation_error"),
        NothingToChange: (422, "validation_error"),
        UnknownPriceChange: (404, "unknown_price_change"),
    }.get(type(error), (409, "conflict"))
    errors = [{"field": error.field, "message": str(error)}] if error.field else None
    return Problem(status, str(error), code=code, errors=errors)


@router.post("/products", status_code=201)
async def create_product(body: ProductIn, uow: UnitOfWorkDep) -> dict[str, Any]:
    for index, variant in enumerate(body.variants):
        currencies = [price.currency for price in variant.prices]
        if len(set(currencies)) != len(currencies):
            raise Problem(
                422,
                "A currency appears twice",
                code="validation_error",
                errors=[{"field": f"variants[{index}].prices", "message": "each currency at most once"}],
            )
    skus = [variant.sku for variant in body.variants]
    if len(set(skus)) != len(skus):
        raise Problem(
            422,
            "A SKU appears twice",
            code="validation_error",
            errors=[{"field": "variants", "message": "each SKU at most once"}],
        )
    new_variants = [
        products.NewVariant(
            sku=variant.sku,
            options=variant.options,
            prices={price.currency: price.amount for price in variant.prices},
        )
        for variant in body.variants
    ]
    try:
        created = await committed(
            uow,
            products.create_product(
                uow, title=body.title, description=body.description, new_variants=new_variants
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error
    return {
        "id": created.product_id,
        "variants": [{"id": variant_id, "sku": sku} for sku, variant_id in created.variant_ids.items()],
    }


@router.get("/products")
async def list_products(
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    staff: bool = False,
    *,
    clock: ClockDep,
) -> dict[str, Any]:
    """The storefront's listing (no archived product, no retired variant), or with ``staff`` every product."""
    return {
        "items": await queries.list_products(
            uow.session, limit=limit, offset=offset, now=clock.now(), staff=staff
        )
    }


@router.get("/products/{product_id}")
async def get_product(
    product_id: uuid.UUID, uow: UnitOfWorkDep, clock: ClockDep, staff: bool = False
) -> dict[str, Any]:
    try:
        return await queries.get_product(uow.session, product_id, now=clock.now(), staff=staff)
    except CatalogError as error:
        raise _problem(error) from error


@router.patch("/products/{product_id}")
async def change_product(
    product_id: uuid.UUID, body: ProductChangeIn, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    try:
        return await committed(
            uow,
            _then_shown(
                uow,
                merchandising.change_product(
                    uow, product_id=product_id, title=body.title, description=body.description
                ),
                product_id,
                clock,
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error


async def _then_shown(
    uow: UnitOfWork, change: Awaitable[object], product_id: uuid.UUID, clock: Clock
) -> dict[str, Any]:
    """Make a change to a product, then read it as staff see it, in the change's transaction."""
    await change
    return await queries.get_product(uow.session, product_id, now=clock.now(), staff=True)


@router.post("/products/{product_id}/variants", status_code=201)
async def add_variant(product_id: uuid.UUID, body: VariantIn, uow: UnitOfWorkDep) -> dict[str, Any]:
    new_variant = products.NewVariant(
        sku=body.sku, options=body.options, prices={price.currency: price.amount for price in body.prices}
    )
    try:
        check_price_currencies([price.currency for price in body.prices])
        variant_id = await committed(
            uow, merchandising.add_variant(uow, product_id=product_id, variant=new_variant)
        )
    except CatalogError as error:
        raise _problem(error) from error
    return {"id": variant_id, "product_id": product_id, "sku": body.sku}


@router.post("/variants/{sku}/retire")
async def retire_variant(sku: str, uow: UnitOfWorkDep, clock: ClockDep) -> dict[str, Any]:
    try:
        record = await committed(uow, merchandising.retire_variant(uow, sku=sku, clock=clock))
    except CatalogError as error:
        raise _problem(error) from error
    return {
        "sku": record.sku,
        "product_id": record.product_id,
        "status": "retired",
        "retired_at": record.sellability.retired_at,
        "version": record.version,
    }


@router.post("/products/{product_id}/archive")
async def archive_product(product_id: uuid.UUID, uow: UnitOfWorkDep, clock: ClockDep) -> dict[str, Any]:
    try:
        return await committed(
            uow,
            _then_shown(
                uow, merchandising.archive_product(uow, product_id=product_id, clock=clock), product_id, clock
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error


@router.post("/products/{product_id}/restore")
async def restore_product(product_id: uuid.UUID, uow: UnitOfWorkDep, clock: ClockDep) -> dict[str, Any]:
    try:
        return await committed(
            uow,
            _then_shown(uow, merchandising.restore_product(uow, product_id=product_id), product_id, clock),
        )
    except CatalogError as error:
        raise _problem(error) from error


@router.post(
    "/variants/{sku}/price-changes",
    responses={202: {"description": "Scheduled: the prices change at effective_at."}},
)
async def change_prices(sku: str, body: PriceChangeIn, uow: UnitOfWorkDep, clock: ClockDep) -> JSONResponse:
    try:
        check_price_currencies([price.currency for price in body.prices])
        change = await committed(
            uow,
            merchandising.change_prices(
                uow,
                sku=sku,
                prices={price.currency: price.amount for price in body.prices},
                effective_at=body.effective_at,
                clock=clock,
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error
    view = {
        "id": change.id,
        "sku": change.sku,
        "prices": [
            {"currency": currency, "amount": amount} for currency, amount in sorted(change.prices.items())
        ],
        "effective_at": change.effective_at.isoformat(),
        "status": change.status,
        "version": change.version,
    }
    return JSONResponse(view, status_code=200 if change.status == "applied" else 202)


@router.get("/variants/{sku}/price-changes")
async def scheduled_price_changes(sku: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    try:
        return {"sku": sku, "items": await queries.scheduled_price_changes(uow.session, sku)}
    except CatalogError as error:
        raise _problem(error) from error


@router.delete("/variants/{sku}/price-changes/{change_id}", status_code=204)
async def cancel_price_change(
    sku: str, change_id: uuid.UUID, uow: UnitOfWorkDep, clock: ClockDep
) -> Response:
    try:
        await committed(
            uow, merchandising.cancel_price_change(uow, sku=sku, change_id=str(change_id), clock=clock)
        )
    except CatalogError as error:
        raise _problem(error) from error
    return Response(status_code=204)


@router.put("/inventory/{sku}/locations/{location}/safety-stock")
async def set_safety_stock(
    sku: str, location: str, body: SafetyStockIn, uow: UnitOfWorkDep
) -> dict[str, Any]:
    try:
        stock_view = await committed(
            uow, _safety_stock_set(uow, sku=sku, location=location, units=body.safety_stock)
        )
    except CatalogError as error:
        raise _problem(error) from error
    [level] = [found for found in stock_view["locations"] if found["location"] == location]
    return {"sku": sku, **level}


async def _safety_stock_set(uow: UnitOfWork, *, sku: str, location: str, units: int) -> dict[str, Any]:
    await safety_stock.set_safety_stock(uow, sku=sku, location=location, units=units)
    return await queries.stock_for_staff(uow.session, sku)


@router.get("/inventory/{sku}/levels")
async def stock_levels(sku: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    """A SKU's stock per location for staff (404 for a SKU no variant has)."""
    try:
        return await queries.stock_for_staff(uow.session, sku)
    except CatalogError as error:
        raise _problem(error) from error


@router.post("/inventory/adjustments", status_code=201)
async def adjust_inventory(body: AdjustmentIn, uow: UnitOfWorkDep) -> dict[str, Any]:
    if body.delta == 0:
        raise Problem(
            422,
            "delta must not be 0",
            code="validation_error",
            errors=[{"field": "delta", "message": "must not be 0"}],
        )
    try:
        level = await committed(
            uow,
            stock.adjust_inventory(
                uow, sku=body.sku, location=body.location, delta=body.delta, reason=body.reason
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error
    return {
        "sku": level.sku,
        "location": level.location,
        "on_hand": level.on_hand,
        "reserved": level.reserved,
        "available": level.available,
    }


@router.get("/inventory/{sku}")
async def stock_of(sku: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    return {"sku": sku, "locations": await queries.stock_at_locations(uow.session, sku)}


def _policy_view(saved: SavedPolicy) -> dict[str, Any]:
    return {
        "sku": saved.sku,
        "version": saved.version,
        "policy": None if saved.policy is None else saved.policy.model_dump(mode="json"),
    }


@router.put("/preorder-policies/{sku}")
async def set_preorder_policy(
    sku: str, body: PreorderPolicyIn, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    try:
        saved = await committed(
            uow,
            preorders.set_preorder_policy(
                uow, sku=sku, policy=PreorderPolicy.model_validate(body.model_dump()), clock=clock
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error
    return _policy_view(saved)


@router.get("/preorder-policies/{sku}")
async def get_preorder_policy(sku: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    try:
        return await queries.preorder_policy(uow.session, sku)
    except CatalogError as error:
        raise _problem(error) from error


@router.delete("/preorder-policies/{sku}")
async def end_preorder_policy(sku: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    try:
        return _policy_view(await committed(uow, preorders.end_preorder_policy(uow, sku=sku)))
    except CatalogError as error:
        raise _problem(error) from error


@router.get("/preorders")
async def order_preorders(
    order_id: Annotated[str, Query(min_length=1)], uow: UnitOfWorkDep
) -> dict[str, Any]:
    return {"order_id": order_id, "items": await queries.order_preorders(uow.session, order_id)}


@router.post("/inbounds", status_code=201)
async def expect_inbound(body: InboundIn, uow: UnitOfWorkDep) -> dict[str, Any]:
    try:
        inbound_id = await committed(
            uow,
            inbounds.expect_inbound(
                uow,
                sku=body.sku,
                location=body.location,
                quantity=body.quantity,
                expected_at=body.expected_at,
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error
    return {"id": inbound_id, **body.model_dump(mode="json"), "status": "expected"}


@router.get("/inbounds")
async def list_inbounds(uow: UnitOfWorkDep, sku: str | None = None) -> dict[str, Any]:
    return {"items": await queries.list_inbounds(uow.session, sku)}


@router.post("/inbounds/{inbound_id}/receive")
async def receive_inbound(
    inbound_id: uuid.UUID, body: ReceiptIn, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    try:
        received = await committed(
            uow, inbounds.receive_inbound(uow, inbound_id=inbound_id, quantity=body.quantity, clock=clock)
        )
    except CatalogError as error:
        raise _problem(error) from error
    return {
        "id": received.id,
        "sku": received.sku,
        "location": received.location,
        "received_quantity": received.received_quantity,
        "allocated_to_preorders": received.allocated,
        "status": "received",
    }


def waitlist_entry_view(entry: WaitlistEntry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "sku": entry.sku,
        "email": entry.email,
        "locale": entry.locale,
        "created_at": entry.created_at.isoformat(),
        "notified_at": {
            kind: None if moment is None else moment.isoformat() for kind, moment in entry.notified_at.items()
        },
    }


@router.post("/waitlist", status_code=201, responses={200: {"description": "Already on the waitlist."}})
async def subscribe_to_waitlist(body: WaitlistIn, uow: UnitOfWorkDep) -> JSONResponse:
    try:
        subscription = await committed(
            uow, waitlist.subscribe_to_waitlist(uow, sku=body.sku, email=body.email, locale=body.locale)
        )
    except CatalogError as error:
        raise _problem(error) from error
    return JSONResponse(
        waitlist_entry_view(subscription.entry), status_code=201 if subscription.created else 200
    )


@router.delete("/waitlist/{entry_id}", status_code=204)
async def unsubscribe_from_waitlist(entry_id: uuid.UUID, uow: UnitOfWorkDep) -> Response:
    try:
        await committed(uow, waitlist.unsubscribe_from_waitlist(uow, entry_id=entry_id))
    except CatalogError as error:
        raise _problem(error) from error
    return Response(status_code=204)


@router.get("/waitlist")
async def waitlist_of(
    sku: Annotated[str, Query(min_length=1)],
    uow: UnitOfWorkDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    try:
        count, entries = await queries.waitlist_of(uow.session, sku, limit=limit, offset=offset)
    except CatalogError as error:
        raise _problem(error) from error
    return {"sku": sku, "count": count, "items": [waitlist_entry_view(entry) for entry in entries]}


@router.patch("/inbounds/{inbound_id}")
async def change_inbound(inbound_id: uuid.UUID, body: InboundChangeIn, uow: UnitOfWorkDep) -> dict[str, Any]:
    if body.quantity is None and body.expected_at is None:
        raise Problem(
            422,
            "Nothing to change",
            code="validation_error",
            errors=[{"field": "body", "message": "give quantity, expected_at or both"}],
        )
    try:
        changed = await committed(
            uow,
            inbounds.change_inbound(
                uow, inbound_id=inbound_id, quantity=body.quantity, expected_at=body.expected_at
            ),
        )
    except CatalogError as error:
        raise _problem(error) from error
    return {
        "id": changed.id,
        "sku": changed.sku,
        "location": changed.location,
        "quantity": changed.quantity,
        "expected_at": changed.expected_at,
        "status": "expected",
        "preorders_with_new_ship_date": changed.ship_dates_changed,
    }


@router.post("/products/{product_id}/views", status_code=202)
async def record_product_view(
    product_id: uuid.UUID, body: ProductViewIn, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    try:
        await committed(
            uow, products.record_product_view(uow, product_id=product_id, sku=body.sku, clock=clock)
        )
    except CatalogError as error:
        raise _problem(error) from error
    return {"product_id": product_id, "sku": body.sku, "counted": True}


@router.get("/preorder-metrics")
async def preorder_metrics(
    uow: UnitOfWorkDep, sku: str | None = None, campaign: str | None = None
) -> dict[str, Any]:
    return {"campaigns": await queries.preorder_campaigns(uow.session, sku=sku, campaign=campaign)}
