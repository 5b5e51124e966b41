"""Public routes for message preferences, opened from the links in emails without a login: the one-click
unsubscribe that mail clients POST (RFC 8058) and the preferences of an address. The link's token is the only
credential; notifications holds the key that signs it and checks it."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from shop_api.notifications import (
    ONE_CLICK_FIELD,
    ONE_CLICK_VALUE,
    PreferencesIn,
    PreferencesOut,
    UnsubscribedOut,
)
from shop_gateway import ratelimit
from shop_gateway.api import ALWAYS, ServicesDep, problems
from shop_gateway.services import passed_on
from shop_gateway.settings import GatewaySettings
from shop_runtime.problems import Problem


async def preferences_limit(request: Request) -> None:
    """At most so many calls per client address (per replica), with the rates of logins and sign-ups: a token
    cannot be guessed, but a flood of them still reaches notifications' database."""
    state = request.app.state
    limiter: ratelimit.RateLimiter | None = getattr(state, "preferences_limiter", None)
    if limiter is None:  # made on first use from the app's settings, once per app
        settings: GatewaySettings = state.settings
        limiter = state.preferences_limiter = ratelimit.RateLimiter(
            rate=settings.gateway_login_rate_per_client_per_second,
            burst=settings.gateway_login_burst_per_client,
        )
    ratelimit.enforce(request, limiter, "preference changes from this client")


router = APIRouter(
    prefix="/v1",
    tags=["preferences"],
    responses=problems(*ALWAYS, 401, 429),
    dependencies=[Depends(preferences_limit)],
)

Token = Annotated[
    str,
    Query(
        min_length=1,
        max_length=2000,
        description="The token of the email's link: an unsubscribe link's for unsubscribing, a preferences "
        "link's for the preferences",
    ),
]

ONE_CLICK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {ONE_CLICK_FIELD: {"type": "string", "enum": [ONE_CLICK_VALUE]}},
                },
                "example": {ONE_CLICK_FIELD: ONE_CLICK_VALUE},
            }
        },
    }
}


def _not_kept(response: JSONResponse) -> JSONResponse:
    """An answer naming an email address: caches must not keep it."""
    response.headers["Cache-Control"] = "no-store"
    return response


async def _one_click_body(request: Request) -> None:
    """A form body, when there is one, says ``List-Unsubscribe=One-Click`` (RFC 8058); anything else is refused
    so a different form posted here by mistake changes nothing."""
    body = await request.body()
    if not body.strip():
        return  # a storefront's button may POST nothing: the token alone says what to do
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        if form.get(ONE_CLICK_FIELD, [ONE_CLICK_VALUE]) == [ONE_CLICK_VALUE]:
            return
    elif content_type.startswith("multipart/form-data") and ONE_CLICK_VALUE.encode() in body:
        return  # RFC 8058 allows multipart too; the token decides, the body only confirms
    raise Problem(
        400,
        "Not a one-click unsubscribe",
        f"send the form body {ONE_CLICK_FIELD}={ONE_CLICK_VALUE} (application/x-www-form-urlencoded), or none",
        code="not_one_click",
    )


@router.post(
    "/unsubscribe",
    summary="Unsubscribe from one kind of email",
    responses={200: {"model": UnsubscribedOut, "description": "Unsubscribed (again is the same)"}},
    openapi_extra=ONE_CLICK_BODY,
)
async def unsubscribe(request: Request, services: ServicesDep, token: Token) -> JSONResponse:
    """One-click unsubscribe (RFC 8058), the ``List-Unsubscribe`` link of every email a customer may turn off: no
    login, the token names the address and the kind of email (pre-order updates, waitlist, marketing). Mail
    clients POST ``List-Unsubscribe=One-Click`` form-encoded. Unsubscribing twice answers the same. A token that
    is cut short or changed answers 400 or 401 (``invalid_token``), an expired one 401 (``expired_token``)."""
    await _one_click_body(request)
    return _not_kept(passed_on(await services.notifications.unsubscribe(token)))


@router.get(
    "/preferences",
    summary="Show which emails an address gets",
    responses={200: {"model": PreferencesOut, "description": "Each category, on or off"}},
)
async def show_preferences(services: ServicesDep, token: Token) -> JSONResponse:
    """Which emails the address of a preferences link gets (the link in every email a customer may turn off): no
    login. Transactional email (orders, payments, shipping, refunds, invoices) is always sent."""
    return _not_kept(passed_on(await services.notifications.preferences(token)))


@router.put(
    "/preferences",
    summary="Choose which emails an address gets",
    responses={200: {"model": PreferencesOut, "description": "Each category, as now chosen"}},
)
async def change_preferences(body: PreferencesIn, services: ServicesDep, token: Token) -> JSONResponse:
    """Turn each category on or off for the address of a preferences link: no login. ``marketing: true`` gives
    consent to offers and news; ``transactional`` cannot be turned off (422)."""
    return _not_kept(passed_on(await services.notifications.change_preferences(token, body)))
