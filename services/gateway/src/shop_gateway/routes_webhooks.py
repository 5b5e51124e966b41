"""Public webhook routes: the PSP's signed events, passed to payments unchanged (payments holds the secret)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shop_api.payments import PSP_SIGNATURE_HEADER as SIGNATURE_HEADER
from shop_gateway.api import ServicesDep, problems
from shop_gateway.services import passed_on

router = APIRouter(prefix="/v1", tags=["webhooks"])

PSP_EVENT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["id", "type"],
                    "properties": {
                        "id": {"type": "string"},
                        "type": {"type": "string"},
                        "created": {"type": "integer"},
                        "data": {"type": "object"},
                    },
                },
                "example": {
                    "id": "evt_sandbox_5f0c2a9d41e84b7c",
                    "type": "charge.succeeded",
                    "created": 1803859200,
                    "data": {"charge": "ch_sandbox_8d2e61f0", "amount": 39000, "currency": "KRW"},
                },
            }
        },
    },
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": "t=<unix seconds>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' with the webhook secret>",
        }
    ],
}


@router.post(
    "/webhooks/psp",
    summary="Receive a payment provider event",
    responses=problems(400, 401, 404, 409, 413, 422, 503),
    openapi_extra=PSP_EVENT_BODY,
)
async def receive_psp_event(request: Request, services: ServicesDep) -> JSONResponse:
    """An event from the payment service provider, signed (no API key). Payments verifies the signature on the
    raw body (400 missing or malformed, 401 not matching or older than the tolerance) and applies each event id
    once: a replay answers 200 with ``"status": "duplicate"`` and changes nothing."""
    return passed_on(
        await services.payments.deliver_psp_event(
            await request.body(),
            content_type=request.headers.get("content-type", "application/json"),
            signature=request.headers.get(SIGNATURE_HEADER),
        )
    )
