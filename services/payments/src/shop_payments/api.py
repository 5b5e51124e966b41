"""Payments' internal HTTP API (called by the gateway): parse, call a query, map errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from shop_payments import queries
from shop_payments.domain import CurrencyMismatch, PaymentsError
from shop_runtime.http import UnitOfWorkDep
from shop_runtime.problems import Problem

router = APIRouter()


def _problem(error: PaymentsError) -> Problem:
    codes: dict[type[PaymentsError], tuple[int, str]] = {CurrencyMismatch: (409, "currency_mismatch")}
    status, code = codes.get(type(error), (409, "conflict"))
    errors = [{"field": error.field, "message": str(error)}] if error.field else None
    return Problem(status, str(error), code=code, errors=errors)


@router.get("/payments")
async def list_payments(
    uow: UnitOfWorkDep, order_id: Annotated[str, Query(min_length=1, max_length=200)]
) -> dict[str, Any]:
    """An order's payments and its ledger: ``captured`` and ``refunded`` in the currency's minor unit."""
    try:
        return await queries.payments_of_order(uow.session, order_id)
    except PaymentsError as error:
        raise _problem(error) from error
