"""Orders' internal HTTP API (called by the gateway): parse, call a handler or query, map errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from shop_orders import cancellations, customer_checkout, handlers, promises, queries, repository
from shop_orders.domain import (
    STANDARD,
    CheckoutLine,
    DiscountCodeExpired,
    DiscountCodeUsed,
    DuplicateSku,
    EmailTaken,
    ExchangeRefused,
    IdempotencyKeyReused,
    NoDecisionAwaited,
    NotCancellable,
    OrderError,
    OrderHasAnotherCustomer,
    ReturnNotInStatus,
    ReturnRefused,
    SameDayNotOffered,
    SoldOut,
    TooManyAddresses,
    UnknownAddress,
    UnknownCustomer,
    UnknownDiscountCode,
    UnknownOrder,
    UnknownReturn,
    access_token,
    access_token_matches,
    decision_token_matches,
    price_checkout,
    shipping_quotes,
)
from shop_orders.settings import OrdersSettings
from shop_runtime.database import Database, UnitOfWork
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
    """A guest sends email, locale and shipping address; a signed-in customer (``X-Customer-Id``) may leave them
    out to use the account's (a saved address by ``shipping_address_id``, else the default shipping address)."""

    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    locale: Literal["ko", "en"] | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    shipping_address: AddressIn | None = None
    shipping_address_id: str | None = Field(default=None, min_length=1, max_length=64)
    shipping_method: str = Field(min_length=1, max_length=32)
    payment: PaymentIn
    discount_code: str | None = Field(default=None, min_length=1, max_length=40)
    stock_at_locations: dict[str, dict[str, int]] | None = Field(
        default=None,
        description="Available units by location and SKU as catalog showed them (the gateway adds it for "
        "same-day delivery); not part of the checkout's idempotency fingerprint.",
    )


ERROR_STATUSES: dict[type[OrderError], tuple[int, str]] = {
    UnknownOrder: (404, "unknown_order"),
    IdempotencyKeyReused: (422, "idempotency_key_reused"),
    DuplicateSku: (422, "duplicate_sku"),
    SoldOut: (409, "sold_out"),
    NotCancellable: (409, "not_cancellable"),
    UnknownDiscountCode: (422, "unknown_discount_code"),
    DiscountCodeUsed: (409, "discount_code_used"),
    DiscountCodeExpired: (422, "discount_code_expired"),
    NoDecisionAwaited: (409, "no_decision_awaited"),
    EmailTaken: (409, "email_taken"),
    UnknownCustomer: (404, "unknown_customer"),
    UnknownAddress: (404, "unknown_address"),
    TooManyAddresses: (409, "too_many_addresses"),
    OrderHasAnotherCustomer: (409, "order_has_another_customer"),
    UnknownReturn: (404, "unknown_return"),
    ReturnRefused: (422, "return_refused"),
    SameDayNotOffered: (422, "same_day_unavailable"),
    ExchangeRefused: (422, "exchange_refused"),
    ReturnNotInStatus: (409, "return_not_in_status"),
}
"""Every refusal of orders' routes as an HTTP status and problem code."""


def order_problem(error: OrderError, *, otherwise: str = "invalid_checkout") -> Problem:
    """The problem answer for a refusal, naming the field it is about; ``otherwise`` codes an unlisted one."""
    status, code = ERROR_STATUSES.get(type(error), (422, otherwise))
    errors = [{"field": error.field, "message": str(error)}] if error.field else None
    return Problem(status, str(error), code=code, errors=errors)


@router.post("/orders", status_code=202)
async def place_order(
    body: CheckoutIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    x_customer_id: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    settings: OrdersSettings = request.app.state.settings
    buyer = await customer_checkout.buyer(uow.session, body, x_customer_id)
    checkout = handlers.Checkout(
        idempotency_key=idempotency_key,
        email=buyer.email,
        locale=buyer.locale,
        currency=body.currency,
        lines=[CheckoutLine(sku=line.sku, quantity=line.quantity) for line in body.lines],
        shipping_address=buyer.shipping_address,
        shipping_method=body.shipping_method,
        payment_token=body.payment.token,
        request=buyer.request,
        discount_code=body.discount_code,
        customer_id=x_customer_id,
        stock_at_locations=body.stock_at_locations,
    )
    now = clock.now()

    async def place(unit_of_work: UnitOfWork) -> handlers.PlacedOrder:
        return await handlers.place_order(
            unit_of_work,
            checkout=checkout,
            shipping_rates=settings.shipping_rates,
            now=now,
            free_shipping_over=settings.free_shipping_over,
            taxes=settings.tax_table(),
            same_day_areas=settings.same_day_rules(),
        )

    try:
        try:
            placed = await place(uow)
        except IntegrityError:
            # The same key raced in from a concurrent retry: answer with the order that won. The failed
            # transaction gives its connection back first (the pool has no overflow to lend a second).
            await uow.rollback()
            database: Database = request.app.state.database
            async with database.unit_of_work() as retry:
                placed = await place(retry)
    except OrderError as error:
        raise order_problem(error) from error
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


class ShippingRatesIn(Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: list[LineIn] = Field(min_length=1, max_length=50)
    shipping_address: AddressIn
    stock_at_locations: dict[str, dict[str, int]] | None = None


@router.post("/shipping-rates")
async def shipping_rates(
    body: ShippingRatesIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    """Each shipping method for a cart and address: offered or not (and why), its price and the order's total."""
    settings: OrdersSettings = request.app.state.settings
    lines = [CheckoutLine(sku=line.sku, quantity=line.quantity) for line in body.lines]
    variants = await repository.variants_by_sku(uow.session, [line.sku for line in lines])
    try:
        priced = price_checkout(
            currency=body.currency,
            lines=lines,
            variants=variants,
            shipping_method=STANDARD
            if STANDARD in settings.shipping_rates
            else next(iter(settings.shipping_rates)),
            shipping_rates=settings.shipping_rates,
            now=clock.now(),
        )
    except OrderError as error:
        raise order_problem(error, otherwise="invalid_cart") from error
    address = body.shipping_address.model_dump()
    quotes = shipping_quotes(
        currency=body.currency,
        subtotal=priced.subtotal,
        address=address,
        lines=lines,
        shipping_rates=settings.shipping_rates,
        free_shipping_over=settings.free_shipping_over,
        same_day_areas=settings.same_day_rules(),
        preorder_skus={sku for sku, variant in variants.items() if variant.preorder_policy is not None},
        stock=body.stock_at_locations,
        taxes=settings.tax_table(),
    )
    return {
        "currency": body.currency,
        "subtotal": priced.subtotal,
        "methods": [
            {
                "method": quote.method,
                "available": quote.available,
                "reason": quote.reason,
                "shipping": quote.shipping,
                "tax": quote.tax,
                "tax_included": quote.tax_included,
                "total": quote.total,
            }
            for quote in quotes
        ],
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


async def _authorised(
    request: Request,
    uow: UnitOfWork,
    order_id: str,
    token: str | None,
    role: str | None,
    customer: str | None,
) -> None:
    settings: OrdersSettings = request.app.state.settings
    allowed = (
        role == "staff"
        or (token is not None and access_token_matches(settings.access_token_secret, order_id, token))
        or (customer is not None and await customer_checkout.owns_order(uow.session, customer, order_id))
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
    x_customer_id: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Cancel in any state before shipment, with the compensation that state needs.

    200 when cancelled (or partially, what had not shipped), 202 while fulfillment is asked to stop the
    groups with the warehouse (follow ``GET /orders/{id}/cancellation``), 409 when only a return can help.
    """
    await _authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    settings: OrdersSettings = request.app.state.settings
    offer = await cancellations.current_offer(
        uow.session,
        cancellations.Offer(
            discount_percent=settings.win_back_discount_percent, valid_days=settings.win_back_valid_days
        ),
    )
    try:
        result = await cancellations.cancel_order(
            uow,
            order_id=order_id,
            reason=body.reason,
            note=body.note,
            cancelled_by="staff" if x_caller_role == "staff" else "customer",
            offer=offer,
            now=clock.now(),
        )
    except OrderError as error:
        raise order_problem(error) from error
    if result.status == "refused":
        raise Problem(409, result.refused_because or "cannot be cancelled", code="not_cancellable")
    return JSONResponse(
        cancellations.result_view(result), status_code=202 if result.status == "requested" else 200
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
    await _authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    view = await cancellations.cancellation_view(uow.session, order_id)
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
    return await cancellations.cancellation_figures(
        uow.session,
        since=since,
        until=until,
        now=clock.now(),
        saved_within=timedelta(days=within_days or settings.saved_within_days),
    )


class OfferIn(Strict):
    discount_percent: int = Field(ge=0, le=100, description="0 switches the win-back code off")
    valid_days: int = Field(default=30, ge=1, le=365)


@router.get("/cancellation-offer")
async def get_offer(request: Request, uow: UnitOfWorkDep) -> dict[str, Any]:
    settings: OrdersSettings = request.app.state.settings
    offer = await cancellations.current_offer(
        uow.session,
        cancellations.Offer(
            discount_percent=settings.win_back_discount_percent, valid_days=settings.win_back_valid_days
        ),
    )
    return {"discount_percent": offer.discount_percent, "valid_days": offer.valid_days}


@router.put("/cancellation-offer")
async def set_offer(body: OfferIn, uow: UnitOfWorkDep) -> dict[str, Any]:
    offer = await cancellations.set_offer(
        uow, cancellations.Offer(discount_percent=body.discount_percent, valid_days=body.valid_days)
    )
    return {"discount_percent": offer.discount_percent, "valid_days": offer.valid_days}


@router.get("/orders/{order_id}")
async def get_order(
    order_id: str,
    request: Request,
    uow: UnitOfWorkDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    await _authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    try:
        return await queries.order_view(uow.session, order_id)
    except OrderError as error:
        raise order_problem(error) from error


class PreorderDecisionIn(Strict):
    decision: Literal["accept", "cancel"]


@router.post("/orders/{order_id}/preorder-decision")
async def decide_on_changed_date(
    order_id: str,
    body: PreorderDecisionIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Accept a pre-order's changed ship date or cancel with a full refund: with the email link's token (it
    opens nothing else), the order's access token, or as staff."""
    settings: OrdersSettings = request.app.state.settings
    token = x_order_access_token
    if token is None or not decision_token_matches(settings.access_token_secret, order_id, token):
        await _authorised(request, uow, order_id, token, x_caller_role, x_customer_id)
    try:
        outcome = await promises.decide_on_changed_date(
            uow, order_id=order_id, decision=body.decision, now=clock.now()
        )
    except OrderError as error:
        raise order_problem(error) from error
    return {
        "id": order_id,
        "decision": outcome.decision,
        "status": outcome.status,
        "refund": outcome.refund,
        "promised_ship_dates": outcome.promised_ship_dates,
    }


@router.get("/preorder-metrics")
async def preorder_metrics(
    uow: UnitOfWorkDep, sku: str | None = None, campaign: str | None = None
) -> dict[str, Any]:
    """Orders' part of the pre-order metrics: units, revenue, shares, cancellations, refunds, demand."""
    return await queries.preorder_metrics(uow.session, sku=sku, campaign=campaign)
