"""Payments' internal HTTP API (called by the gateway and orders): parse, call a handler or query, map errors.

A route that calls a handler runs it through ``committed``: the request's one commit, made here at the edge."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, ValidationError

from shop_api.base import Strict
from shop_api.payments import PaymentMethodIn
from shop_contracts.money import CurrencyMismatch, Money
from shop_payments import handlers, hold_repository, psp_events, queries, refunds, repository, webhooks
from shop_payments.domain import (
    EventMismatch,
    MethodNotVerified,
    NoSavedMethod,
    PaymentsError,
    PspEvent,
    Refund,
    RefundExceedsCaptured,
    RefundKeyReused,
    RefundRefusedBefore,
    UnknownCharge,
)
from shop_payments.holds import CaptureExceedsHold
from shop_payments.psp import (
    PaymentServiceProvider,
    PspUnavailable,
    SandboxPsp,
    WebhookDelivery,
    WebhooksNotConfigured,
)
from shop_payments.settings import PaymentsSettings
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()

OrderId = Annotated[str, Path(min_length=1, max_length=200)]


def _psp(request: Request) -> PaymentServiceProvider:
    return request.app.state.psp  # type: ignore[no-any-return]


PspDep = Annotated[PaymentServiceProvider, Depends(_psp)]


class RefundIn(Strict):
    order_id: str = Field(min_length=1, max_length=200)
    amount: int = Field(gt=0, description="In the currency's minor unit (KRW has none, USD has cents).")
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: str = Field(min_length=1, max_length=200)


Refused = (PaymentsError, CurrencyMismatch)
"""What payments refuses to do, answered as a problem: its own rules' refusals and money in the wrong currency."""


def _problem(error: PaymentsError | CurrencyMismatch) -> Problem:
    codes: dict[type[Exception], tuple[int, str]] = {
        CurrencyMismatch: (409, "currency_mismatch"),
        NoSavedMethod: (404, "no_saved_method"),
        MethodNotVerified: (422, "payment_method_not_verified"),
        RefundExceedsCaptured: (409, "refund_exceeds_captured"),
        RefundKeyReused: (409, "idempotency_key_reused"),
        RefundRefusedBefore: (409, "refund_rejected"),
        UnknownCharge: (404, "unknown_charge"),
        EventMismatch: (422, "event_mismatch"),
        CaptureExceedsHold: (409, "capture_exceeds_hold"),
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
    except Refused as error:
        raise _problem(error) from error


@router.get("/payment-methods/{order_id}")
async def get_payment_method(order_id: OrderId, uow: UnitOfWorkDep) -> dict[str, Any]:
    """The order's saved method as a customer may see it: brand and last four digits, never the token."""
    try:
        return await queries.payment_method_of_order(uow.session, order_id)
    except Refused as error:
        raise _problem(error) from error


@router.put("/payment-methods/{order_id}")
async def replace_payment_method(
    order_id: OrderId, body: PaymentMethodIn, uow: UnitOfWorkDep, psp: PspDep
) -> dict[str, Any]:
    """Verify a new card and charge the order's later balances to it instead."""
    try:
        method = await committed(
            uow, handlers.replace_payment_method(uow, psp=psp, order_id=order_id, token=body.token)
        )
    except Refused as error:
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
        issued = await committed(
            uow,
            refunds.refund_payment(
                uow,
                psp=psp,
                order_id=body.order_id,
                amount=body.amount,
                reason=body.reason,
                idempotency_key=body.idempotency_key,
            ),
        )
    except Refused as error:
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


class PspEventDataIn(BaseModel):
    charge: str | None = Field(default=None, min_length=1, max_length=200)
    amount: int | None = Field(default=None, gt=0)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    authorization: str | None = Field(default=None, min_length=1, max_length=200)
    capture: str | None = Field(default=None, min_length=1, max_length=200)


class PspEventIn(BaseModel):
    """A PSP event as the PSP sends it; fields payments does not use are ignored (the PSP adds some)."""

    id: str = Field(min_length=1, max_length=200)
    type: str = Field(min_length=1, max_length=200)
    data: PspEventDataIn = Field(default_factory=PspEventDataIn)

    def event(self) -> PspEvent:
        amount = (
            Money(self.data.amount, self.data.currency)
            if self.data.amount is not None and self.data.currency is not None
            else None
        )
        return PspEvent(
            id=self.id,
            type=self.type,
            charge_reference=self.data.charge,
            amount=amount,
            authorization_reference=self.data.authorization,
            capture_reference=self.data.capture,
        )


@router.post("/webhooks/psp")
async def psp_webhook(request: Request, uow: UnitOfWorkDep, clock: ClockDep, psp: PspDep) -> dict[str, Any]:
    """A webhook from the PSP: its signature verified on the raw body, then its event applied once.

    400 for a missing or malformed signature or body, 401 for a signature that does not verify or is too
    old; 200 with ``"duplicate"`` for an event id applied before (nothing changes).
    """
    settings: PaymentsSettings = request.app.state.settings
    if not settings.webhook_secrets:
        raise Problem(503, "Webhooks are not configured", code="webhooks_not_configured")
    body = await request.body()
    try:
        webhooks.verify(
            body,
            request.headers.get(webhooks.SIGNATURE_HEADER),
            secrets=settings.webhook_secrets,
            now=clock.now().timestamp(),
            tolerance_seconds=settings.psp_webhook_tolerance_seconds,
        )
    except webhooks.SignatureRefused as error:
        raise Problem(
            error.status,
            "The webhook signature is not valid",
            str(error),
            code=error.code,
            errors=[{"field": f"header:{webhooks.SIGNATURE_HEADER}", "message": str(error)}],
        ) from error
    try:
        parsed = PspEventIn.model_validate_json(body)
    except ValidationError as error:
        raise Problem(
            400,
            "The webhook body is not a PSP event",
            code="malformed_event",
            errors=[
                {"field": ".".join(str(part) for part in item["loc"]) or "body", "message": item["msg"]}
                for item in error.errors()
            ],
        ) from error
    try:
        outcome = await committed(uow, psp_events.apply_psp_event(uow, psp=psp, event=parsed.event()))
    except Refused as error:
        raise _problem(error) from error
    return {"event_id": parsed.id, "status": outcome.value}


def _sandbox(psp: PaymentServiceProvider) -> SandboxPsp:
    if not isinstance(psp, SandboxPsp):
        raise Problem(404, "Only the sandbox PSP has this", code="not_sandbox")
    return psp


def _delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    return {"event_id": delivery.event_id, "status": delivery.status, "answer": delivery.answer}


@router.post("/sandbox/charges/{psp_reference}/complete-action", tags=["sandbox"])
async def sandbox_complete_action(
    psp_reference: Annotated[str, Path(min_length=1, max_length=200)], uow: UnitOfWorkDep, psp: PspDep
) -> dict[str, Any]:
    """Sandbox only: the customer confirms a charge that required their action; the sandbox delivers its
    ``charge.succeeded`` webhook to the configured URL and answers how that went."""
    sandbox = _sandbox(psp)
    payment = await repository.payment_by_reference(uow.session, psp_reference=psp_reference)
    if payment is None:
        raise Problem(404, "No such charge", code="unknown_charge")
    await uow.session.rollback()  # read only: the webhook below comes back in its own transaction
    try:
        delivery = await sandbox.complete_action(
            charge_reference=psp_reference, amount=payment.amount.amount, currency=payment.amount.currency
        )
    except WebhooksNotConfigured as error:
        raise Problem(409, str(error), code="webhooks_not_configured") from error
    return _delivery_view(delivery)


@router.post("/sandbox/authorizations/{psp_reference}/expire", tags=["sandbox"])
async def sandbox_expire_hold(
    psp_reference: Annotated[str, Path(min_length=1, max_length=200)], uow: UnitOfWorkDep, psp: PspDep
) -> dict[str, Any]:
    """Sandbox only: the hold lapses at the PSP; the sandbox delivers its ``authorization.expired`` webhook
    (with what the hold still holds) to the configured URL and answers how that went."""
    sandbox = _sandbox(psp)
    hold = await hold_repository.hold_by_reference(uow.session, psp_reference=psp_reference)
    if hold is None:
        raise Problem(404, "No such authorization", code="unknown_authorization")
    await uow.session.rollback()  # read only: the webhook below comes back in its own transaction
    try:
        delivery = await sandbox.expire_hold(
            authorization_reference=psp_reference, amount=max(hold.open.amount, 1), currency=hold.currency
        )
    except WebhooksNotConfigured as error:
        raise Problem(409, str(error), code="webhooks_not_configured") from error
    return _delivery_view(delivery)


@router.post("/sandbox/webhook-events/{event_id}/redeliver", tags=["sandbox"])
async def sandbox_redeliver(
    event_id: Annotated[str, Path(min_length=1, max_length=200)], psp: PspDep
) -> dict[str, Any]:
    """Sandbox only: deliver a webhook event sent before once more (same id and body, fresh signature)."""
    delivery = await _sandbox(psp).webhooks.redeliver(event_id)
    if delivery is None:
        raise Problem(404, "The sandbox sent no such event", code="unknown_event")
    return _delivery_view(delivery)
