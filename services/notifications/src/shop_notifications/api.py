"""Notifications' internal HTTP API (called by the gateway and operators): the delivery log of an order, a
customer's message preferences by a link's token, and what a link to a customer's page opens."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from shop_api.notifications import PreferencesIn, PreferencesOut, UnsubscribedOut
from shop_notifications import preferences, queries
from shop_notifications.domain import OPTIONAL_CATEGORIES, Category
from shop_notifications.links import LinkSigning, TokenRefused
from shop_notifications.page_links import PageTokenRefused
from shop_runtime.http import ClockDep, UnitOfWorkDep, committed
from shop_runtime.problems import Problem

router = APIRouter()

Token = Annotated[str, Query(min_length=1, max_length=2000, description="The token of an email's link")]


def link_signing(request: Request) -> LinkSigning:
    return request.app.state.link_signing  # type: ignore[no-any-return]


LinkSigningDep = Annotated[LinkSigning, Depends(link_signing)]


def refused(error: TokenRefused) -> Problem:
    return Problem(error.status, "The link's token is not accepted", str(error), code=error.code)


@router.get("/notifications")
async def list_notifications(
    uow: UnitOfWorkDep, order_id: Annotated[str, Query(min_length=1, max_length=200)]
) -> dict[str, Any]:
    return {"items": await queries.notifications_of_order(uow.session, order_id)}


@router.get("/page-links")
async def verify_page_link(uow: UnitOfWorkDep, clock: ClockDep, token: Token) -> dict[str, Any]:
    """What the token of an email's link to a customer's page opens: which page, which order or draft, the
    page's locale, the action token orders made for it (decision, invoice) and when the link expires."""
    try:
        page = await committed(uow, preferences.page_of(uow, token=token, now=clock.now()))
    except PageTokenRefused as error:
        raise Problem(
            error.status, "The link's token is not accepted", str(error), code=error.code
        ) from error
    return {
        "page": page.kind,
        "subject": page.subject,
        "locale": page.locale,
        "action_token": page.action_token,
        "expires_at": datetime.fromtimestamp(page.expires_at, UTC).isoformat(),
    }


@router.post("/unsubscribe")
async def unsubscribe(
    uow: UnitOfWorkDep, clock: ClockDep, signing: LinkSigningDep, token: Token
) -> UnsubscribedOut:
    try:
        email, category = await committed(
            uow, preferences.unsubscribe(uow, token=token, signing=signing, now=clock.now())
        )
    except TokenRefused as error:
        raise refused(error) from error
    return UnsubscribedOut(email=email, category=category)


@router.get("/preferences")
async def get_preferences(
    uow: UnitOfWorkDep, clock: ClockDep, signing: LinkSigningDep, token: Token
) -> PreferencesOut:
    try:
        found = await committed(
            uow, preferences.preferences_of(uow, token=token, signing=signing, now=clock.now())
        )
    except TokenRefused as error:
        raise refused(error) from error
    return PreferencesOut(email=found.email, **found.choices)


@router.put("/preferences")
async def put_preferences(
    body: PreferencesIn, uow: UnitOfWorkDep, clock: ClockDep, signing: LinkSigningDep, token: Token
) -> PreferencesOut:
    choices: dict[Category, bool] = {category: getattr(body, category) for category in OPTIONAL_CATEGORIES}
    try:
        changed = await committed(
            uow,
            preferences.change_preferences(
                uow, token=token, choices=choices, signing=signing, now=clock.now()
            ),
        )
    except TokenRefused as error:
        raise refused(error) from error
    return PreferencesOut(email=changed.email, **changed.choices)
