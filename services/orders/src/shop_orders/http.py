"""What every orders route shares: the map from an order error to an HTTP problem, and who may read or change
an order (its access token, its customer, or staff). The request bodies are ``shop_api.orders``'."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.core import queries
from shop_orders.core.domain import access_token_matches
from shop_orders.core.errors import (
    DiscountCodeExpired,
    DiscountCodeNotYours,
    DiscountCodeUsed,
    DuplicateSku,
    EmailTaken,
    ExchangeRefused,
    IdempotencyKeyReused,
    InvalidSegment,
    NoDecisionAwaited,
    NotCancellable,
    NotSellable,
    OrderError,
    OrderHasAnotherCustomer,
    PreorderWindowClosed,
    PurchaseLimitReached,
    ReturnNotInStatus,
    ReturnRefused,
    SameDayNotOffered,
    SoldOut,
    TooManyAddresses,
    TooManySegments,
    UnknownAddress,
    UnknownCustomer,
    UnknownDiscountCode,
    UnknownOrder,
    UnknownReturn,
)
from shop_orders.settings import OrdersSettings
from shop_runtime.database import UnitOfWork
from shop_runtime.problems import Problem

ERROR_STATUSES: dict[type[OrderError], tuple[int, str]] = {
    UnknownOrder: (404, "unknown_order"),
    IdempotencyKeyReused: (422, "idempotency_key_reused"),
    DuplicateSku: (422, "duplicate_sku"),
    SoldOut: (409, "sold_out"),
    NotSellable: (409, "not_sellable"),
    PurchaseLimitReached: (409, "purchase_limit_reached"),
    PreorderWindowClosed: (409, "preorder_not_open"),
    NotCancellable: (409, "not_cancellable"),
    UnknownDiscountCode: (422, "unknown_discount_code"),
    DiscountCodeUsed: (409, "discount_code_used"),
    DiscountCodeExpired: (422, "discount_code_expired"),
    DiscountCodeNotYours: (422, "discount_code_not_yours"),
    NoDecisionAwaited: (409, "no_decision_awaited"),
    EmailTaken: (409, "email_taken"),
    UnknownCustomer: (404, "unknown_customer"),
    UnknownAddress: (404, "unknown_address"),
    TooManyAddresses: (409, "too_many_addresses"),
    InvalidSegment: (422, "validation_error"),
    TooManySegments: (409, "too_many_segments"),
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
    errors = [{"field": error.field, "message": str(error), **error.details}] if error.field else None
    return Problem(status, str(error), code=code, errors=errors)


async def authorised(
    request: Request,
    uow: UnitOfWork,
    order_id: str,
    token: str | None,
    role: str | None,
    customer: str | None,
) -> None:
    """Let the call through for staff, for the gateway acting as the order's customer (``customer``: it verified
    an email link signed for this order, a credential orders does not see), for the order's access token or for
    the account that owns it; otherwise 404."""
    settings: OrdersSettings = request.app.state.settings
    allowed = (
        role in ("staff", "customer")
        or (token is not None and access_token_matches(settings.access_token_secret, order_id, token))
        or (customer is not None and await owns_order(uow.session, customer, order_id))
    )
    if not allowed:
        # The same answer as for an order that does not exist: a wrong token learns nothing.
        raise Problem(404, f"no order {order_id}", code="unknown_order")


async def owns_order(session: AsyncSession, customer_id: str, order_id: str) -> bool:
    try:
        return await queries.customer_of_order(session, order_id) == customer_id
    except UnknownOrder:
        return False
