"""Orders' internal HTTP routes for draft orders: staff build, hold, invoice, duplicate, delete and mark paid;
the customer opens the invoice and pays it with the link's token."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from shop_api.orders.drafts import (
    DiscountIn,
    DraftChangesIn,
    DraftCheckoutIn,
    DraftIn,
    DraftLineIn,
    DraftStatus,
    MarkPaidIn,
    PaymentTermsIn,
)
from shop_orders.core.domain import access_token, draft_token, draft_token_matches
from shop_orders.core.errors import OrderError, OrderNotOnTerms
from shop_orders.drafts import completion
from shop_orders.drafts import handlers as drafts
from shop_orders.drafts import queries as draft_queries
from shop_orders.drafts.domain import Discount, DraftNotOpen, DraftNotReady, InvalidDraft, UnknownDraft
from shop_orders.http import ERROR_STATUSES
from shop_orders.settings import OrdersSettings
from shop_runtime.database import Database
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()

DRAFT_ERRORS = {
    **ERROR_STATUSES,
    UnknownDraft: (404, "unknown_draft"),
    DraftNotOpen: (409, "draft_not_open"),
    DraftNotReady: (409, "draft_not_ready"),
    OrderNotOnTerms: (409, "order_not_payable"),
    InvalidDraft: (422, "invalid_draft"),
}


def draft_problem(error: OrderError) -> Problem:
    status, code = DRAFT_ERRORS.get(type(error), (422, "invalid_draft"))
    errors = [{"field": error.field, "message": str(error)}] if error.field else None
    return Problem(status, str(error), code=code, errors=errors)


def _discount(discount: DiscountIn) -> Discount:
    return Discount(kind=discount.kind, value=discount.value, reason=discount.reason)


def _line(line: DraftLineIn) -> drafts.LineInput:
    return drafts.LineInput(
        quantity=line.quantity,
        sku=line.sku,
        title=line.title,
        unit_price=line.unit_price,
        price_override=line.price_override,
        discount=_discount(line.discount) if line.discount else None,
    )


def _settings(request: Request) -> tuple[OrdersSettings, drafts.DraftSettings]:
    settings: OrdersSettings = request.app.state.settings
    return settings, drafts.DraftSettings(
        shipping_rates=settings.shipping_rates,
        taxes=settings.tax_table(),
        expiry=timedelta(hours=settings.draft_expiry_hours),
    )


async def _view(request: Request, draft_id: str) -> dict[str, Any]:
    """The draft as it is after a change committed (a committed unit of work does not read again)."""
    settings: OrdersSettings = request.app.state.settings
    database: Database = request.app.state.database
    async with database.unit_of_work() as uow:
        return await draft_queries.draft_view(uow, draft_id, taxes=settings.tax_table())


def _reserve_until(value: datetime | None, now: datetime) -> datetime | None:
    if value is not None and value <= now:
        raise Problem(
            422,
            "reserve_until must be in the future",
            code="validation_error",
            errors=[{"field": "reserve_until", "message": "must be after now"}],
        )
    return value


@router.post("/drafts", status_code=201)
async def create_draft(body: DraftIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep) -> JSONResponse:
    _, draft_settings = _settings(request)
    now = clock.now()
    terms = body.payment_terms or PaymentTermsIn()
    try:
        draft_id = await committed(
            uow,
            drafts.create_draft(
                uow,
                customer=drafts.CustomerInput(
                    customer_id=None if body.customer_id is None else str(body.customer_id),
                    email=body.customer.email if body.customer else None,
                    name=body.customer.name if body.customer else None,
                    locale=body.customer.locale if body.customer else None,
                ),
                currency=body.currency,
                lines=[_line(line) for line in body.lines],
                order_discount=_discount(body.order_discount) if body.order_discount else None,
                shipping=drafts.ShippingInput(**body.shipping.model_dump()) if body.shipping else None,
                shipping_address=body.shipping_address.model_dump() if body.shipping_address else None,
                payment_terms=terms.type,
                net_days=terms.net_days,
                reserve_until=_reserve_until(body.reserve_until, now),
                note=body.note,
                settings=draft_settings,
                now=now,
            ),
        )
        view = await _view(request, draft_id)
    except OrderError as error:
        raise draft_problem(error) from error
    return JSONResponse(jsonable_encoder(view), status_code=201, headers={"Location": f"/drafts/{draft_id}"})


@router.get("/drafts")
async def list_drafts(
    request: Request,
    uow: UnitOfWorkDep,
    status: DraftStatus | None = None,
    customer_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    settings, _ = _settings(request)
    return await draft_queries.drafts_list(
        uow, status=status, customer_id=customer_id, limit=limit, taxes=settings.tax_table()
    )


@router.get("/drafts/{draft_id}")
async def get_draft(draft_id: str, request: Request, uow: UnitOfWorkDep) -> dict[str, Any]:
    settings, _ = _settings(request)
    try:
        return await draft_queries.draft_view(uow, draft_id, taxes=settings.tax_table())
    except OrderError as error:
        raise draft_problem(error) from error


@router.patch("/drafts/{draft_id}")
async def update_draft(
    draft_id: str, body: DraftChangesIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    _, draft_settings = _settings(request)
    now = clock.now()
    changes: dict[str, Any] = {}
    given = body.model_fields_set
    if "lines" in given:
        if body.lines is None:
            raise Problem(
                422,
                "lines cannot be null",
                code="validation_error",
                errors=[{"field": "lines", "message": "required"}],
            )
        changes["lines"] = [_line(line) for line in body.lines]
    if "order_discount" in given:
        changes["order_discount"] = _discount(body.order_discount) if body.order_discount else None
    if "shipping" in given:
        changes["shipping"] = drafts.ShippingInput(**body.shipping.model_dump()) if body.shipping else None
    if "shipping_address" in given:
        changes["shipping_address"] = body.shipping_address.model_dump() if body.shipping_address else None
    if "payment_terms" in given:
        terms = body.payment_terms or PaymentTermsIn()
        changes["payment_terms"], changes["net_days"] = terms.type, terms.net_days
    if "reserve_until" in given:
        changes["reserve_until"] = _reserve_until(body.reserve_until, now)
    if "note" in given:
        changes["note"] = body.note
    try:
        await committed(
            uow,
            drafts.update_draft(uow, draft_id=draft_id, changes=changes, settings=draft_settings, now=now),
        )
        return await _view(request, draft_id)
    except OrderError as error:
        raise draft_problem(error) from error


@router.delete("/drafts/{draft_id}")
async def delete_draft(
    draft_id: str, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    try:
        await committed(uow, drafts.delete_draft(uow, draft_id=draft_id, now=clock.now()))
        return await _view(request, draft_id)
    except OrderError as error:
        raise draft_problem(error) from error


@router.post("/drafts/{draft_id}/duplicate", status_code=201)
async def duplicate_draft(
    draft_id: str, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> JSONResponse:
    _, draft_settings = _settings(request)
    try:
        copy_id = await committed(
            uow, drafts.duplicate_draft(uow, draft_id=draft_id, settings=draft_settings, now=clock.now())
        )
        view = await _view(request, copy_id)
    except OrderError as error:
        raise draft_problem(error) from error
    return JSONResponse(jsonable_encoder(view), status_code=201, headers={"Location": f"/drafts/{copy_id}"})


@router.post("/drafts/{draft_id}/invoice")
async def send_invoice(
    draft_id: str, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    """Email the invoice with its checkout link (sending again sends another email with the same link)."""
    settings, draft_settings = _settings(request)
    try:
        await committed(
            uow,
            drafts.send_invoice(
                uow,
                draft_id=draft_id,
                token=draft_token(settings.access_token_secret, draft_id),
                settings=draft_settings,
                now=clock.now(),
            ),
        )
        return await _view(request, draft_id)
    except OrderError as error:
        raise draft_problem(error) from error


@router.post("/drafts/{draft_id}/complete")
async def complete_on_terms(
    draft_id: str, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    """Complete a draft on net or on-fulfillment terms into an order that ships before it is paid."""
    settings, draft_settings = _settings(request)
    try:
        completed = await committed(
            uow,
            completion.complete_on_terms(uow, draft_id=draft_id, settings=draft_settings, now=clock.now()),
        )
    except OrderError as error:
        raise draft_problem(error) from error
    return _completed(settings, draft_id, completed)


@router.post("/drafts/{draft_id}/mark-paid")
async def mark_as_paid(
    draft_id: str, body: MarkPaidIn, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> dict[str, Any]:
    settings, draft_settings = _settings(request)
    try:
        completed = await committed(
            uow,
            completion.mark_as_paid(
                uow, draft_id=draft_id, reference=body.reference, settings=draft_settings, now=clock.now()
            ),
        )
    except OrderError as error:
        raise draft_problem(error) from error
    return _completed(settings, draft_id, completed)


def _check_token(settings: OrdersSettings, draft_id: str, token: str | None) -> None:
    if token is None or not draft_token_matches(settings.access_token_secret, draft_id, token):
        # The same answer as for a draft that does not exist: a wrong token learns nothing.
        raise Problem(404, f"no draft order {draft_id}", code="unknown_draft")


@router.get("/drafts/{draft_id}/invoice")
async def view_invoice(
    draft_id: str,
    request: Request,
    uow: UnitOfWorkDep,
    x_draft_token: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    settings, _ = _settings(request)
    _check_token(settings, draft_id, x_draft_token)
    try:
        return draft_queries.invoice_view(
            await draft_queries.draft_view(uow, draft_id, taxes=settings.tax_table())
        )
    except OrderError as error:
        raise draft_problem(error) from error


@router.post("/drafts/{draft_id}/checkout", status_code=202)
async def pay_invoice(
    draft_id: str,
    body: DraftCheckoutIn,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    x_draft_token: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    settings, draft_settings = _settings(request)
    _check_token(settings, draft_id, x_draft_token)
    try:
        completed = await committed(
            uow,
            completion.complete_with_card(
                uow,
                draft_id=draft_id,
                payment_token=body.payment.token,
                settings=draft_settings,
                now=clock.now(),
            ),
        )
    except OrderError as error:
        raise draft_problem(error) from error
    return JSONResponse(
        _completed(settings, draft_id, completed),
        status_code=202,
        headers={"Idempotent-Replayed": str(not completed.created).lower()},
    )


def _completed(settings: OrdersSettings, draft_id: str, completed: completion.Completed) -> dict[str, Any]:
    return {
        "draft_id": draft_id,
        "order_id": completed.order_id,
        "status": completed.status,
        "access_token": access_token(settings.access_token_secret, completed.order_id),
    }
