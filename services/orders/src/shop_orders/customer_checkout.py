"""Who buys: a guest names themselves in the checkout; a signed-in customer's account fills what the body leaves out.

Also whether a signed-in customer may open an order: only one that belongs to their account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders import customer_queries
from shop_orders.domain import OrderError, UnknownOrder
from shop_runtime.problems import Problem

if TYPE_CHECKING:
    from shop_orders.api import CheckoutIn


@dataclass(frozen=True)
class Buyer:
    email: str
    locale: str
    shipping_address: dict[str, Any]
    request: dict[str, Any]
    """The body as the idempotency fingerprint sees it: the account is part of it, an absent field is not."""


async def buyer(session: AsyncSession, body: CheckoutIn, customer_id: str | None) -> Buyer:
    """The checkout's email, locale and address: the body's, else (signed in) the account's; 422 naming what is
    missing. An account's order takes the account's locale unless the checkout names one."""
    request = body.model_dump(mode="json")
    request.pop("stock_at_locations", None)  # what catalog showed, not what the customer asked
    for optional in ("shipping_address_id", "discount_code"):
        if request.get(optional) is None:
            request.pop(optional, None)
    email: str | None = body.email
    locale: str | None = body.locale
    address = body.shipping_address.model_dump() if body.shipping_address is not None else None
    if customer_id is not None:
        request["customer_id"] = customer_id
        try:
            account = await customer_queries.checkout_account(session, customer_id, body.shipping_address_id)
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
    return Buyer(email=email, locale=locale, shipping_address=address, request=request)


async def owns_order(session: AsyncSession, customer_id: str, order_id: str) -> bool:
    try:
        return await customer_queries.customer_of_order(session, order_id) == customer_id
    except UnknownOrder:
        return False


def _missing(field: str, message: str) -> Problem:
    return Problem(422, message, code="validation_error", errors=[{"field": field, "message": message}])
