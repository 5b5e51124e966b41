"""Orders' checkout routes: place an order (idempotently), read it back, quote shipping; who the buyer is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shop_api.orders.checkout import PlacedOrderOut, PlaceOrderIn, QuoteShippingIn
from shop_orders.checkout import handlers
from shop_orders.core import queries, repository
from shop_orders.core.domain import access_token
from shop_orders.core.errors import OrderError
from shop_orders.core.pricing import STANDARD, CheckoutLine, price_checkout, shipping_quotes
from shop_orders.core.repository import SqlCheckoutReads
from shop_orders.customers import queries as customer_queries
from shop_orders.http import authorised, order_problem
from shop_orders.settings import OrdersSettings
from shop_runtime.database import Database
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()


@router.post("/orders", status_code=202)
async def place_order(
    body: PlaceOrderIn,
    request: Request,
    clock: ClockDep,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    x_customer_id: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    settings: OrdersSettings = request.app.state.settings
    database: Database = request.app.state.database
    reads: SqlCheckoutReads = request.app.state.checkout_reads
    if x_customer_id is None:
        buyer = await identify_buyer(None, body, None)
    else:
        # In autocommit, and given back before the checkout goes on: no task holds two of the pool's connections.
        async with AsyncSession(reads.engine) as session:
            buyer = await identify_buyer(session, body, x_customer_id)
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
        customer_segments=buyer.segments,
        stock_at_locations=body.stock_at_locations,
    )
    now = clock.now()

    async def place() -> handlers.PlacedOrder:
        decided = await handlers.price_order(
            checkout,
            reads=reads,
            shipping_rates=settings.shipping_rates,
            now=now,
            free_shipping_over=settings.free_shipping_over,
            same_day_areas=settings.same_day_rules(),
        )
        if isinstance(decided, handlers.PlacedOrder):
            return decided  # a retry, answered with the order its key placed
        # Opened only now: a checkout refused from orders' copy, or a retry, never begins a unit of work.
        async with database.unit_of_work() as uow:
            stored = handlers.store_order(
                uow,
                decided,
                checkout=checkout,
                now=now,
                taxes=settings.tax_table(),
                holds=request.app.state.holds,
            )
            return await committed(uow, stored)

    try:
        try:
            placed = await place()
        except IntegrityError:
            # The same key raced in from a concurrent retry: answer with the order that won (the failed unit of
            # work gave its connection back as it ended; the pool has no overflow to lend a second).
            placed = await place()
    except OrderError as error:
        raise order_problem(error) from error
    return JSONResponse(
        PlacedOrderOut(
            id=placed.order_id,
            status=placed.status,
            access_token=access_token(settings.access_token_secret, placed.order_id),
        ).model_dump(),
        status_code=202,
        headers={
            "Location": f"/orders/{placed.order_id}",
            "Idempotent-Replayed": str(not placed.created).lower(),
        },
    )


@router.post("/shipping-rates")
async def shipping_rates(
    body: QuoteShippingIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
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


@router.get("/orders/{order_id}")
async def get_order(
    order_id: str,
    request: Request,
    uow: UnitOfWorkDep,
    x_order_access_token: Annotated[str | None, Header()] = None,
    x_caller_role: Annotated[str | None, Header()] = None,
    x_customer_id: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    await authorised(request, uow, order_id, x_order_access_token, x_caller_role, x_customer_id)
    try:
        return await queries.order_view(uow.session, order_id)
    except OrderError as error:
        raise order_problem(error) from error


@dataclass(frozen=True)
class Buyer:
    email: str
    locale: str
    shipping_address: dict[str, Any]
    request: dict[str, Any]
    """The body as the idempotency fingerprint sees it: the account is part of it, an absent field is not."""
    segments: tuple[str, ...] = ()
    """The signed-in customer's segments (early access to pre-orders); a guest has none."""


async def identify_buyer(session: AsyncSession | None, body: PlaceOrderIn, customer_id: str | None) -> Buyer:
    """The checkout's email, locale and address: the body's, else (signed in) the account's; 422 naming what is
    missing. An account's order takes the account's locale unless the checkout names one. ``session`` reads
    the account; a guest's checkout (no ``customer_id``) reads nothing."""
    request = body.model_dump(mode="json")
    request.pop("stock_at_locations", None)  # what catalog showed, not what the customer asked
    for optional in ("shipping_address_id", "discount_code"):
        if request.get(optional) is None:
            request.pop(optional, None)
    email: str | None = body.email
    locale: str | None = body.locale
    address = body.shipping_address.model_dump() if body.shipping_address is not None else None
    saved_address_id = None if body.shipping_address_id is None else str(body.shipping_address_id)
    segments: tuple[str, ...] = ()
    if customer_id is not None:
        assert session is not None
        request["customer_id"] = customer_id
        try:
            account = await customer_queries.checkout_account(session, customer_id, saved_address_id)
        except OrderError as error:
            status = 401 if error.field == "header:Authorization" else 422
            raise Problem(
                status,
                str(error),
                code="unknown_address" if status == 422 else "unknown_customer",
                errors=[{"field": error.field or "body", "message": str(error)}],
            ) from error
        if address is not None and body.shipping_address_id is not None:
            raise _missing(
                "shipping_address_id", "send a shipping_address or a shipping_address_id, not both"
            )
        email = email or account.email
        locale = locale or account.locale
        address = address or account.address
        segments = tuple(account.segments)
    elif body.shipping_address_id is not None:
        raise _missing(
            "shipping_address_id", "saved addresses are for signed-in customers; send shipping_address"
        )
    missing = [
        {"field": name, "message": "required for a guest checkout" if customer_id is None else message}
        for name, value, message in (
            ("email", email, "required"),
            ("locale", locale, "required"),
            ("shipping_address", address, "required: the account has no default shipping address"),
        )
        if value is None
    ]
    if missing:
        raise Problem(
            422,
            "The checkout is not complete",
            "missing: " + ", ".join(item["field"] for item in missing),
            code="validation_error",
            errors=missing,
        )
    assert email is not None
    assert locale is not None
    assert address is not None
    return Buyer(email=email, locale=locale, shipping_address=address, request=request, segments=segments)


def _missing(field: str, message: str) -> Problem:
    return Problem(422, message, code="validation_error", errors=[{"field": field, "message": message}])
