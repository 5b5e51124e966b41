"""Payments' internal HTTP API (called by the gateway and orders): parse, call a handler or query, map errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from shop_payments import handlers, queries
from shop_payments.domain import (
    CurrencyMismatch,
    MethodNotVerified,
    NoSavedMethod,
    PaymentsError,
    Refund,
    RefundExceedsCaptured,
    RefundKeyReused,
)
from shop_payments.psp import PaymentServiceProvider, PspUnavailable
from shop_runtime.http import UnitOfWorkDep
from shop_runtime.problems import Problem

router = APIRouter()

OrderId = Annotated[str, Path(min_length=1, max_length=200)]


def _psp(request: Request) -> PaymentServiceProvider:
    return request.app.state.psp  # type: ignore[no-any-return]


PspDep = Annotated[PaymentServiceProvider, Depends(_psp)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentMethodIn(Strict):
    token: str = Field(min_length=1, max_length=200, description="The PSP's token of the new card.")


class RefundIn(Strict):
    order_id: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0, description="In the currency's minor unit (KRW has none, USD has cents).")
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: str = Field(min_length=1, max_length=200)


def _problem(error: PaymentsError) -> Problem:
    codes: dict[type[PaymentsError], tuple[int, str]] = {
        CurrencyMismatch: (409, "currency_mismatch"),
        NoSavedMethod: (404, "no_saved_method"),
        MethodNotVerified: (422, "payment_method_not_verified"),
        RefundExceedsCaptured: (409, "refund_exceeds_captured"),
        RefundKeyReused: (409, "idempotency_key_reused"),
    }
    status, code = codes.get(type(error), (409, "conflict"))
    message = str(error)
    if isinstance(error, MethodNotVerified):
        message = f"{error.code}: {error}"
    errors = [{"field": error.field, "message": message}] if error.field else None
    return Problem(status, str(error), code=code, errors=errors)


def _unavailable(error: PspUnavailable) -> Problem:
    return Problem(
        503,
        "The payment provider did not answer",
        str(error),
        code="psp_unavailable",
        headers={"Retry-After": "5"},
    )


@router.get("/payments")
async def list_payments(
    uow: UnitOfWorkDep, order_id: Annotated[str, Query(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """An order's payments, refunds and ledger: ``captured`` and ``refunded`` in the currency's minor unit."""
    try:
        return await queries.payments_of_order(uow.session, order_id)
    except PaymentsError as error:
        raise _problem(error) from error


@router.get("/payment-methods/{order_id}")
async def get_payment_method(order_id: OrderId, uow: UnitOfWorkDep) -> dict[str, Any]:
    """The order's saved method as a customer may see it: brand and last four digits, never the token."""
    try:
        return await queries.payment_method_of_order(uow.session, order_id)
    except PaymentsError as error:
        raise _problem(error) from error


@router.put("/payment-methods/{order_id}")
async def replace_payment_method(
    order_id: OrderId, body: PaymentMethodIn, uow: UnitOfWorkDep, psp: PspDep
) -> dict[str, Any]:
    """Verify a new card and charge the order's later balances to it instead."""
    try:
        method = await handlers.replace_payment_method(uow, psp=psp, order_id=order_id, token=body.token)
    except PaymentsError as error:
        raise _problem(error) from error
    except PspUnavailable as error:
        raise _unavailable(error) from error
    return {
        "brand": method.card.brand if method.card else None,
        "last4": method.card.last4 if method.card else None,
    }


@router.post("/refunds", status_code=201)
async def refund(body: RefundIn, uow: UnitOfWorkDep, psp: PspDep) -> dict[str, Any]:
    """Give money back on an order; a request repeated with the same ``idempotency_key`` refunds once."""
    try:
        issued = await handlers.refund_payment(
            uow,
            psp=psp,
            order_id=body.order_id,
            amount=body.amount,
            reason=body.reason,
            idempotency_key=body.idempotency_key,
        )
    except PaymentsError as error:
        raise _problem(error) from error
    except PspUnavailable as error:
        raise _unavailable(error) from error
    return _refund_view(issued)


def _refund_view(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "order_id": refund.order_id,
        "amount": refund.amount.amount,
        "currency": refund.amount.currency,
        "reason": refund.reason,
        "idempotency_key": refund.idempotency_key,
        "parts": [
            {
                "payment_id": part.payment_id,
                "amount": part.amount.amount,
                "psp_reference": part.refund_reference,
            }
            for part in refund.parts
        ],
    }
