"""Orders' internal HTTP API (called by the gateway): parse, call a handler or query, map errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from shop_orders import handlers, queries, repository
from shop_orders.domain import (
    CheckoutLine,
    DuplicateSku,
    IdempotencyKeyReused,
    NotCancellable,
    OrderError,
    UnknownOrder,
    access_token,
    access_token_matches,
)
from shop_orders.settings import OrdersSettings
from shop_runtime.database import Database
from shop_runtime.http import ClockDep, UnitOfWorkDep
from shop_runtime.problems import Problem

router = APIRouter()


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineIn(Strict):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=100)


class AddressIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$")


class PaymentIn(Strict):
    token: str = Field(min_length=1, max_length=200, description="A PSP token, never card data.")


class CheckoutIn(Strict):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    locale: Literal["ko", "en"]
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    shipping_address: AddressIn
    shipping_method: str = Field(min_length=1, max_length=32)
    payment: PaymentIn


def _problem(error: OrderError) -> Problem:
    status, code = {
        UnknownOrder: (404, "unknown_order"),
        IdempotencyKeyReused: (422, "idempotency_key_reused"),
        DuplicateSku: (422, "duplicate_sku"),
        NotCancellable: (409, "not_cancellable"),
    }.get(type(error), (422, "invalid_checkout"))
    errors = [{"field": error.field, "message": str(error)}] if error.field else None
    return Problem(status, str(error), code=code, errors=errors)


@router.post("/orders", status_code=202)
async def place_order(
    body: CheckoutIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
) -> JSONResponse:
    settings: OrdersSettings = request.app.state.settings
    checkout = handlers.Checkout(
        idempotency_key=idempotency_key,
        email=body.email,
        locale=body.locale,
        currency=body.currency,
        lines=[CheckoutLine(sku=line.sku, quantity=line.quantity) for line in body.lines],
        shipping_address=body.shipping_address.model_dump(),
        shipping_method=body.shipping_method,
        payment_token=body.payment.token,
        request=body.model_dump(mode="json"),
    )
    now = clock.now()
    try:
        try:
            placed = await handlers.place_order(
                uow, checkout=checkout, shipping_rates=settings.shipping_rates, now=now
            )
        except IntegrityError:
            # The same key raced in from a concurrent retry: answer with the order that won. The failed
            # transaction gives its connection back first (the pool has no overflow to lend a second).
            await uow.rollback()
            database: Database = request.app.state.database
            async with database.unit_of_work() as retry:
                placed = await handlers.place_order(
                    retry, checkout=checkout, shipping_rates=settings.shipping_rates, now=now
                )
    except OrderError as error:
        raise _problem(error) from error
    return JSONResponse(
        {
            "id": placed.order_id,
            "status": placed.status,
            "access_token": access_token(settings.access_token_secret, placed.order_id),
        },
        status_code=202,
        headers={
            "Location": f"/orders/{placed.order_id}",
            "Idempotent-Replayed": str(not placed.created).lower(),
        },
    )


@router.get("/variants/{sku}")
async def variant_as_orders_knows_it(sku: str, uow: UnitOfWorkDep) -> dict[str, Any]:
    """Orders' copy of a variant's prices and pre-order policy (kept current by catalog's events)."""
    variants = await repository.variants_by_sku(uow.session, [sku])
    if sku not in variants:
        raise Problem(404, f"orders has not heard of {sku} yet", code="unknown_sku")
    variant = variants[sku]
    return {
        "sku": variant.sku,
        "title": variant.title,
        "prices": variant.prices,
        "preorder_policy": variant.preorder_policy.model_dump(mode="json")
        if variant.preorder_policy
        else None,
    }


class CancellationIn(Strict):
    reason: Literal[
        "changed_mind",
        "shipping_cost",
        "delivery_time",
        "return_policy",
        "payment_method",
        "account_required",
        "found_cheaper",
        "other",
    ]
    note: str | None = Field(default=None, max_length=1000)


def _authorised(request: Request, order_id: str, token: str | None, role: str | None) -> None:
    settings: OrdersSettings = request.app.state.settings
    allowed = role == "staff" or (
        token is not None and access_token_matches(settings.access_token_secret, order_id, token)
    )
    if not allowed:
        # The same answer as for an order that does not exist: a wrong token learns nothing.
        raise Problem(404, f"no order {order_id}", code="unknown_order")


@router.post("/orders/{order_id}/cancel")
async def cancel_order(
    order_id: str,
    body: CancellationIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Cancel before anything reached the warehouse: stock and pre-order places are released, money refunded."""
    _authorised(request, order_id, x_order_access_token, x_caller_role)
    try:
        refund = await handlers.cancel_order(uow, order_id=order_id, reason=body.reason, now=clock.now())
    except OrderError as error:
        raise _problem(error) from error
    return {"id": order_id, "status": "cancelled", "refund": refund}


@router.get("/orders/{order_id}")
async def get_order(
    order_id: str,
    request: Request,
    uow: UnitOfWorkDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    _authorised(request, order_id, x_order_access_token, x_caller_role)
    try:
        return await queries.order_view(uow.session, order_id)
    except OrderError as error:
        raise _problem(error) from error
