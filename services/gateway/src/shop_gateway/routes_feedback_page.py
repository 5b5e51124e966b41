"""The hosted cancellation feedback page (``/pages/feedback``), behind the cancellation email's link: a score and a
comment about the cancellation, and the win-back offer of its reason (the customer's code and what it gives, or
the storefront page the offer names).

The link is ``/pages/feedback?order=&reason=&token=`` with orders' feedback token, the same query a storefront
serving the page itself gets (it posts ``/v1/cancellations/{order}/feedback?token=``). Opening the page asks
orders whether the token opens this order's feedback (a wrong or expired one gets a plain page) and changes
nothing; the form carries a CSRF token and is answered with a redirect; feedback is kept once, so a second
submit shows what was kept the first time.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from shop_api.orders.checkout import FeedbackIn
from shop_api.orders.client import OrderAccess
from shop_gateway import pages, routes_cancellations
from shop_gateway.api import ServicesDep
from shop_gateway.routes_pages import PageRefused, order_of, refused_page, with_form
from shop_gateway.services import Services
from shop_gateway.settings import GatewaySettings
from shop_runtime.problems import Problem

router = APIRouter(prefix="/pages", include_in_schema=False)

SCORES = (5, 4, 3, 2, 1)
"""The form lists the best score first."""


def _order_id(value: str | None, locale: pages.Locale) -> str:
    if not value:
        raise PageRefused(400, "missing_token", locale)
    try:
        return str(uuid.UUID(value))
    except ValueError as error:
        raise PageRefused(404, "invalid_token", locale) from error


async def _kept(services: Services, order_id: str, token: str | None, locale: pages.Locale) -> dict[str, Any]:
    """The feedback kept for the order (``given``: false when none yet), once orders accepts the link's token."""
    if not token:
        raise PageRefused(400, "missing_token", locale)
    try:
        answer = await services.orders.feedback(order_id, token=token)
    except Problem as problem:
        raise PageRefused(503, "unavailable", locale) from problem
    if answer.status_code == 200:
        return answer.json()  # type: ignore[no-any-return]
    if answer.status_code >= 500:
        raise PageRefused(503, "unavailable", locale)
    if answer.json().get("code") == "expired_token":
        raise PageRefused(410, "expired_token", locale)
    raise PageRefused(404, "invalid_token", locale)


def offer_view(
    cancellation: dict[str, Any], order: dict[str, Any], storefront_url: str
) -> dict[str, Any] | None:
    """What the page offers for the cancellation's reason: the customer's code (``kind``, what it takes off, until
    when) or the storefront link the offer names (the same pages as the cancellation email's links)."""
    code = cancellation.get("discount_code")
    if code:
        return {"code": code, "url": None, "link": None}
    offer = cancellation.get("offer") or {}
    if offer.get("kind") != "link":
        return None
    if offer.get("link") == "size_guide":
        return {"code": None, "url": f"{storefront_url}/size-guide", "link": "size_guide"}
    if offer.get("link") == "similar_products":
        skus = [("sku", line["sku"]) for line in order.get("lines", [])]
        return {
            "code": None,
            "url": f"{storefront_url}/similar?{urlencode(skus)}",
            "link": "similar_products",
        }
    return None


def _page_url(order_id: str, token: str, reason: str | None) -> str:
    query = urlencode({"order": order_id, "reason": reason or "", "token": token}, quote_via=quote)
    return f"/pages/feedback?{query}"


@router.get("/feedback", response_class=HTMLResponse)
async def feedback_page(
    request: Request,
    services: ServicesDep,
    order: str | None = None,
    token: str | None = None,
) -> Response:
    """The cancellation's reason and offer, and the feedback form; once feedback is kept, what was kept. The
    link's ``reason`` is for a storefront's page: this one shows the reason orders kept."""
    fallback = pages.locale_of(request.query_params.get("lang"), request)
    try:
        order_id = _order_id(order, fallback)
        kept = await _kept(services, order_id, token, fallback)
        shown = await order_of(services, order_id, fallback)
        locale = pages.locale_of(shown.get("locale"))
        answer = await services.orders.cancellation(order_id, access=OrderAccess(staff=True))
        if answer.status_code != 200:
            raise PageRefused(503 if answer.status_code >= 500 else 404, "unavailable", locale)
    except PageRefused as refused:
        return refused_page(refused)
    cancellation = answer.json()
    settings: GatewaySettings = request.app.state.settings
    return with_form(
        request,
        "feedback.html",
        locale,
        f"feedback:{order_id}",
        order=shown,
        cancellation=cancellation,
        offer=offer_view(cancellation, shown, settings.gateway_storefront_url.rstrip("/")),
        kept=kept,
        scores=SCORES,
        token=token,
        action="/pages/feedback",
    )


@router.post("/feedback")
async def feedback_from_page(request: Request, services: ServicesDep) -> Response:
    """Keep the score and comment (as ``POST /v1/cancellations/{id}/feedback``); the first answer stays."""
    form = await pages.form_of(request)
    token = form.get("token")
    fallback = pages.locale_of(form.get("lang"), request)
    try:
        try:
            await routes_cancellations.feedback_limit(request)
        except Problem as problem:
            raise PageRefused(problem.status, "unavailable", fallback) from problem
        order_id = _order_id(form.get("order"), fallback)
        await _kept(
            services, order_id, token, fallback
        )  # the token first: a wrong link says so, not the form
        assert token is not None
        if not pages.csrf_valid(request, form.get("csrf"), f"feedback:{order_id}"):
            raise PageRefused(403, "csrf", fallback)
        try:
            body = FeedbackIn(
                score=int(form.get("score") or "0"), comment=form.get("comment", "").strip() or None
            )
        except ValueError as error:
            raise PageRefused(400, "bad_form", fallback) from error
        answer = await services.orders.give_feedback(order_id, body, token=token)
        if answer.status_code not in (200, 201):
            raise PageRefused(503 if answer.status_code >= 500 else 400, "unavailable", fallback)
    except PageRefused as refused:
        return refused_page(refused)
    return pages.redirect(_page_url(order_id, token, form.get("reason")))
