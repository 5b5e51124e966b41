"""Operator routes: every service's parked (dead-lettered) messages, read by staff and support, replayed or
purged by staff. Each service serves its own parking queue on its internal API; the gateway only calls them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from shop_gateway.api import STAFF_CALL, ServicesDep, require
from shop_gateway.domain import Permission
from shop_gateway.services import passed_on
from shop_runtime.problems import Problem

router = APIRouter(prefix="/v1/admin/dead-letters", tags=["admin"], responses=STAFF_CALL)

SERVICES = ("catalog", "orders", "payments", "fulfillment", "notifications")
Service = Literal["catalog", "orders", "payments", "fulfillment", "notifications"]
MessageId = Annotated[
    str,
    Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_:-][A-Za-z0-9._:-]*$", description="message id"),
]
"""Ids as messages carry them (UUIDs); no slash, '?' or leading dot, so an id cannot walk to another route."""


@router.get("", summary="List parked messages", dependencies=[require(Permission.ADMIN_READ)])
async def list_dead_letters(services: ServicesDep) -> JSONResponse:
    """Parked messages of every service: a count and the messages (id, type, attempts, error, when parked).
    A service that cannot answer is listed under ``unavailable``."""
    listed: list[dict[str, Any]] = []
    unavailable: list[str] = []
    for service in SERVICES:
        try:
            response = await services.client(service).dead_letters()
        except Problem:
            unavailable.append(service)
            continue
        if response.status_code != 200:
            unavailable.append(service)
            continue
        body = response.json()
        listed.append({"service": service, "count": body["count"], "items": body["items"]})
    return JSONResponse(
        {"total": sum(item["count"] for item in listed), "services": listed, "unavailable": unavailable}
    )


@router.get(
    "/{service}/{message_id}", summary="Show a parked message", dependencies=[require(Permission.ADMIN_READ)]
)
async def show_dead_letter(service: Service, message_id: MessageId, services: ServicesDep) -> JSONResponse:
    """One parked message: its error and traceback, attempts, original route, headers and body."""
    return passed_on(await services.client(service).dead_letter(message_id))


@router.post(
    "/{service}/replay",
    summary="Replay a service's parked messages",
    dependencies=[require(Permission.ADMIN_WRITE)],
)
async def replay_dead_letters(service: Service, services: ServicesDep) -> JSONResponse:
    """Send every message parked now at a service back to where it first went, with a fresh retry budget
    (fix the cause first: one that fails again is parked again)."""
    return passed_on(await services.client(service).replay_dead_letters())


@router.post(
    "/{service}/{message_id}/replay",
    summary="Replay a parked message",
    dependencies=[require(Permission.ADMIN_WRITE)],
)
async def replay_dead_letter(service: Service, message_id: MessageId, services: ServicesDep) -> JSONResponse:
    """Send one parked message back to where it first went, with a fresh retry budget."""
    return passed_on(await services.client(service).replay_dead_letter(message_id))


@router.delete(
    "/{service}", summary="Delete a service's parked messages", dependencies=[require(Permission.ADMIN_WRITE)]
)
async def purge_dead_letters(
    service: Service,
    services: ServicesDep,
    confirm: Annotated[
        int | None,
        Query(ge=0, le=10_000_000, description="The count of parked messages you saw; 409 when it differs."),
    ] = None,
) -> JSONResponse:
    """Delete a service's parked messages for good, only when ``confirm`` is the count they number now (409
    otherwise, with the count: list them again before deleting what you have not seen)."""
    return passed_on(await services.client(service).purge_dead_letters(confirm=confirm))
