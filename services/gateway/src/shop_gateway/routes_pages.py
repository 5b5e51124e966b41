"""The hosted customer pages the links in emails open (``/pages``): an order's status, the decision on a changed
pre-order date, a draft order's invoice, and message preferences with the one-click unsubscribe confirmation
(the cancellation feedback page is ``routes_feedback_page``'s).

Each page is opened only with its email link's token, which notifications signed for one page of one order
(or draft, or address) and checks again here; opening a page changes nothing (mail scanners open links). Each
form carries a CSRF token (``pages.issue_csrf``) and is answered with a redirect, and each action is one the
services already make idempotent, so a double submit changes nothing. A storefront that serves these pages
itself reads the same token with ``GET /v1/page-links``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from shop_api.notifications import PreferencesIn
from shop_api.orders.checkout import CancellationIn, PaymentIn, PreorderDecisionIn
from shop_api.orders.client import OrderAccess
from shop_api.orders.drafts import DraftCheckoutIn
from shop_api.orders.returns import ReturnIn
from shop_gateway import api, pages, routes_cancellations
from shop_gateway.api import ALWAYS, ServicesDep, problems
from shop_gateway.page_views import SANDBOX_CARDS, order_view, returnable_lines
from shop_gateway.services import Services, passed_on
from shop_runtime.problems import Problem

router = APIRouter(prefix="/pages", include_in_schema=False)
links_router = APIRouter(prefix="/v1", tags=["storefront"], responses=problems(*ALWAYS, 401, 404))

Token = str | None


class PageRefused(Exception):
    """The page cannot be shown: ``what`` names the message of the plain page answered with ``status``."""

    def __init__(self, status: int, what: str, locale: pages.Locale = "en") -> None:
        super().__init__(what)
        self.status = status
        self.what = what
        self.locale = locale


@dataclass(frozen=True)
class Link:
    """A verified email link: its page, what it opens, the page's locale and orders' action token."""

    page: str
    subject: str
    locale: pages.Locale
    action_token: str | None
    token: str


async def _verified(services: Services, request: Request, token: Token, page: str, subject: str) -> Link:
    """The link, checked by notifications (which signed it) and matched to this page and this order."""
    fallback = pages.locale_of(request.query_params.get("lang"), request)
    if not token:
        raise PageRefused(400, "missing_token", fallback)
    try:
        answer = await services.notifications.page_link(token)
    except Problem as problem:
        raise PageRefused(503, "unavailable", fallback) from problem
    if answer.status_code != 200:
        code = answer.json().get("code") if answer.status_code < 500 else None
        if code == "expired_token":
            raise PageRefused(410, "expired_token", fallback)
        if answer.status_code >= 500:
            raise PageRefused(503, "unavailable", fallback)
        raise PageRefused(404, "invalid_token", fallback)
    found = answer.json()
    locale = pages.locale_of(found["locale"])
    if found["page"] != page or found["subject"] != subject:
        raise PageRefused(404, "invalid_token", locale)
    return Link(page, subject, locale, found.get("action_token"), token)


async def action_token_of(services: Services, token: str, page: str, subject: str) -> str:
    """What a bearer token stands for on the public API: an email link's page token (``<payload>.<time>.<hex>``)
    for this page and order stands for the action token orders made (so a storefront serving the pages itself
    calls the API with the link's token as it is); any other token is passed on as it is, for orders to judge."""
    if token.count(".") != 2 or not token.split(".")[1].isdigit():
        return token
    try:
        answer = await services.notifications.page_link(token)
    except Problem:
        return token
    if answer.status_code == 200:
        found = answer.json()
        if found["page"] == page and found["subject"] == subject and found.get("action_token"):
            return str(found["action_token"])
    return token


async def posted(
    request: Request, services: Services, page: str, subject: str
) -> tuple[dict[str, str], Link]:
    """A page's submitted form with its link verified for this page and subject and its CSRF token checked:
    what every form a page posts begins with."""
    form = await pages.form_of(request)
    link = await _verified(services, request, form.get("token"), page, subject)
    if not pages.csrf_valid(request, form.get("csrf"), f"{page}:{subject}"):
        raise PageRefused(403, "csrf", link.locale)
    return form, link


def refused_page(refused: PageRefused) -> HTMLResponse:
    return pages.problem_page(refused.status, refused.locale, refused.what)


def as_uuid(value: str, locale: pages.Locale = "en") -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as error:
        raise PageRefused(404, "invalid_token", locale) from error


async def order_of(services: Services, order_id: str, locale: pages.Locale) -> dict[str, Any]:
    """The order as ``GET /v1/orders/{id}`` shows it (payments, shipments and queue places included): the
    gateway opens it for the link it has just verified for this order."""
    answer = await api.get_order(as_uuid(order_id, locale), services, OrderAccess(staff=True))
    if answer.status_code != 200:
        raise PageRefused(503 if answer.status_code >= 500 else 404, "unavailable", locale)
    return json.loads(bytes(answer.body))  # type: ignore[no-any-return]


def acting_as(order: dict[str, Any]) -> OrderAccess:
    """Who acts on an order from its page: its customer. The account that owns it; for a guest's order, the
    gateway as the order's customer (the link it has just verified was signed for this order, so whoever holds
    it is the customer the email went to): orders records the customer as the one who acted, never staff."""
    if order.get("customer_id"):
        return OrderAccess(customer_id=str(order["customer_id"]))
    return OrderAccess(as_customer=True)


def _page_url(kind: str, subject: str, token: str, **query: str) -> str:
    paths = {
        "order": f"/pages/orders/{subject}",
        "decision": f"/pages/orders/{subject}/preorder-decision",
        "invoice": f"/pages/draft-orders/{subject}/invoice",
        "preferences": "/pages/preferences",
        "unsubscribe": "/pages/unsubscribe",
    }
    extra = "".join(f"&{name}={quote(value, safe='')}" for name, value in query.items())
    return f"{paths[kind]}?token={quote(token, safe='')}{extra}"


def with_form(
    request: Request, name: str, locale: pages.Locale, scope: str, status: int = 200, **values: Any
) -> HTMLResponse:
    nonce, field = pages.issue_csrf(request, scope)
    response = pages.render(name, locale, status=status, csrf=field, **values)
    pages.set_csrf_cookie(response, request, nonce)
    return response


@router.get("/static/pages.css")
async def stylesheet() -> FileResponse:
    return FileResponse(
        pages.STATIC / "pages.css", media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
    )


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(
    request: Request, order_id: str, services: ServicesDep, token: Token = None, done: str | None = None
) -> Response:
    """An order's status: lines, shipments and tracking, pre-order places, balance due, returns, actions."""
    try:
        link = await _verified(services, request, token, "order", order_id)
        order = await order_of(services, order_id, link.locale)
        returns = await services.orders.order_returns(order_id, access=OrderAccess(staff=True))
        view = order_view(order, returns.json().get("items", []) if returns.status_code == 200 else [])
    except PageRefused as refused:
        return refused_page(refused)
    return with_form(
        request,
        "order.html",
        link.locale,
        f"order:{order_id}",
        order=order,
        view=view,
        token=link.token,
        done=done,
        action=f"/pages/orders/{order_id}",
    )


@router.post("/orders/{order_id}/cancel")
async def cancel_from_page(
    request: Request,
    order_id: str,
    services: ServicesDep,
) -> Response:
    """Cancel the order with the reason chosen; orders answers a second cancel as the first."""
    try:
        form, link = await posted(request, services, "order", order_id)
        order = await order_of(services, order_id, link.locale)
        try:
            body = CancellationIn(reason=form.get("reason"))
        except ValueError:
            body = CancellationIn(reason="other")
        try:  # as POST /v1/orders/{id}/cancel: waits briefly while fulfillment stops the warehouse's work
            answer = await routes_cancellations.cancel_order(
                as_uuid(order_id, link.locale), body, request, services, acting_as(order)
            )
        except Problem as problem:
            if problem.status >= 500:
                raise PageRefused(503, "unavailable", link.locale) from problem
            answer = JSONResponse({}, status_code=problem.status)
    except PageRefused as refused:
        return refused_page(refused)
    outcome = "cancelled" if answer.status_code in (200, 202) else "not_cancellable"
    return pages.redirect(_page_url("order", order_id, link.token, done=outcome))


@router.post("/orders/{order_id}/returns")
async def return_from_page(
    request: Request,
    order_id: str,
    services: ServicesDep,
) -> Response:
    """Ask for every shipped unit not yet returned back; a second submit finds nothing left to return."""
    try:
        form, link = await posted(request, services, "order", order_id)
        order = await order_of(services, order_id, link.locale)
        existing = await services.orders.order_returns(order_id, access=OrderAccess(staff=True))
        lines = returnable_lines(
            order, existing.json().get("items", []) if existing.status_code == 200 else []
        )
        if not lines:
            return pages.redirect(_page_url("order", order_id, link.token, done="return_requested"))
        try:
            body = ReturnIn(lines=lines, reason=form.get("reason"))
        except ValueError:
            body = ReturnIn(lines=lines, reason="other")
        answer = await services.orders.request_return(order_id, body, access=acting_as(order))
    except PageRefused as refused:
        return refused_page(refused)
    outcome = "return_requested" if answer.status_code in (200, 201) else "return_refused"
    return pages.redirect(_page_url("order", order_id, link.token, done=outcome))


@router.get("/orders/{order_id}/preorder-decision", response_class=HTMLResponse)
async def decision_page(
    request: Request, order_id: str, services: ServicesDep, token: Token = None, step: str | None = None
) -> Response:
    """The changed date, the promise and what it allows; keeping the order, or cancelling after seeing the refund."""
    try:
        link = await _verified(services, request, token, "decision", order_id)
        order = await order_of(services, order_id, link.locale)
        view = order_view(order, [])
    except PageRefused as refused:
        return refused_page(refused)
    return with_form(
        request,
        "decision.html",
        link.locale,
        f"decision:{order_id}",
        order=order,
        view=view,
        token=link.token,
        step=step,
        action=f"/pages/orders/{order_id}/preorder-decision",
    )


@router.post("/orders/{order_id}/preorder-decision")
async def decide_from_page(
    request: Request,
    order_id: str,
    services: ServicesDep,
) -> Response:
    """Keep the order (accept the date) or cancel it with a full refund, with the link's decision token."""
    try:
        form, link = await posted(request, services, "decision", order_id)
        decision = form.get("decision")
        if decision not in ("accept", "cancel"):
            raise PageRefused(400, "bad_form", link.locale)
        access = OrderAccess(access_token=link.action_token)
        body = PreorderDecisionIn(decision=decision)
        answer = await services.orders.decide_on_changed_date(order_id, body, access=access)
        if answer.status_code >= 500:
            raise PageRefused(503, "unavailable", link.locale)
    except PageRefused as refused:
        return refused_page(refused)
    return pages.redirect(_page_url("decision", order_id, link.token, step=f"done-{decision}"))


@router.get("/draft-orders/{draft_id}/invoice", response_class=HTMLResponse)
async def invoice_page(
    request: Request, draft_id: str, services: ServicesDep, token: Token = None, done: str | None = None
) -> Response:
    """A draft order's invoice and its payment by a PSP token; once paid, the order's status."""
    try:
        link = await _verified(services, request, token, "invoice", draft_id)
        answer = await services.orders.invoice(
            as_uuid(draft_id, link.locale), draft_token=link.action_token or ""
        )
        if answer.status_code != 200:
            raise PageRefused(503 if answer.status_code >= 500 else 404, "unavailable", link.locale)
        invoice = answer.json()
        order = (
            await order_of(services, invoice["order_id"], link.locale) if invoice.get("order_id") else None
        )
    except PageRefused as refused:
        return refused_page(refused)
    return with_form(
        request,
        "invoice.html",
        link.locale,
        f"invoice:{draft_id}",
        invoice=invoice,
        order=order,
        view=order_view(order, []) if order else None,
        cards=SANDBOX_CARDS,
        token=link.token,
        done=done,
        action=f"/pages/draft-orders/{draft_id}/invoice",
    )


@router.post("/draft-orders/{draft_id}/invoice")
async def pay_from_page(
    request: Request,
    draft_id: str,
    services: ServicesDep,
) -> Response:
    """Pay the invoice with the PSP's token (never a card number); orders answers a second payment as the first."""
    try:
        form, link = await posted(request, services, "invoice", draft_id)
        payment_token = form.get("payment_token")
        if not payment_token or payment_token not in SANDBOX_CARDS:
            raise PageRefused(400, "bad_form", link.locale)
        body = DraftCheckoutIn(payment=PaymentIn(token=payment_token))
        answer = await services.orders.pay_invoice(
            as_uuid(draft_id, link.locale), body, draft_token=link.action_token or ""
        )
        if answer.status_code >= 500:
            raise PageRefused(503, "unavailable", link.locale)
    except PageRefused as refused:
        return refused_page(refused)
    outcome = "paid" if answer.status_code in (200, 202) else "not_paid"
    return pages.redirect(_page_url("invoice", draft_id, link.token, done=outcome))


async def _preferences_of(services: Services, token: str | None, locale: pages.Locale) -> dict[str, Any]:
    if not token:
        raise PageRefused(400, "missing_token", locale)
    answer = await services.notifications.preferences(token)
    if answer.status_code == 200:
        return answer.json()  # type: ignore[no-any-return]
    code = answer.json().get("code") if answer.status_code < 500 else None
    if answer.status_code >= 500:
        raise PageRefused(503, "unavailable", locale)
    raise PageRefused(410 if code == "expired_token" else 404, str(code or "invalid_token"), locale)


@router.get("/preferences", response_class=HTMLResponse)
async def preferences_page(
    request: Request,
    services: ServicesDep,
    token: Token = None,
    lang: str | None = None,
    saved: str | None = None,
) -> Response:
    """Each kind of email an address may turn off, on or off, and a form to change them."""
    locale = pages.locale_of(lang, request)
    try:
        found = await _preferences_of(services, token, locale)
    except PageRefused as refused:
        return pages.problem_page(refused.status, locale, _known(refused.what))
    return with_form(
        request, "preferences.html", locale, "preferences", prefs=found, token=token, lang=locale, saved=saved
    )


@router.post("/preferences")
async def change_preferences_from_page(
    request: Request,
    services: ServicesDep,
) -> Response:
    """Save the boxes as ticked (an unticked box is off); saving the same twice is the same."""
    form = await pages.form_of(request)
    token = form.get("token")
    csrf = form.get("csrf")
    lang = form.get("lang")
    preorder_updates = form.get("preorder_updates")
    waitlist = form.get("waitlist")
    marketing = form.get("marketing")
    locale = pages.locale_of(lang, request)
    if not pages.csrf_valid(request, csrf, "preferences"):
        return pages.problem_page(403, locale, "csrf")
    body = PreferencesIn(
        preorder_updates=preorder_updates == "on", waitlist=waitlist == "on", marketing=marketing == "on"
    )
    answer = await services.notifications.change_preferences(token or "", body)
    if answer.status_code != 200:
        return pages.problem_page(410 if answer.status_code == 401 else 404, locale, "invalid_token")
    return pages.redirect(_page_url("preferences", "", token or "", lang=locale, saved="1"))


@router.get("/unsubscribe", response_class=HTMLResponse)
async def unsubscribe_page(
    request: Request, token: Token = None, lang: str | None = None, done: str | None = None
) -> Response:
    """The confirmation before unsubscribing (opening the link unsubscribes nothing), or that it is done."""
    locale = pages.locale_of(lang, request)
    if not token:
        return pages.problem_page(400, locale, "missing_token")
    return with_form(request, "unsubscribe.html", locale, "unsubscribe", token=token, lang=locale, done=done)


@router.post("/unsubscribe")
async def unsubscribe_from_page(
    request: Request,
    services: ServicesDep,
) -> Response:
    """Unsubscribe the link's address from the link's kind of email; twice is the same."""
    form = await pages.form_of(request)
    token = form.get("token")
    csrf = form.get("csrf")
    lang = form.get("lang")
    locale = pages.locale_of(lang, request)
    if not pages.csrf_valid(request, csrf, "unsubscribe"):
        return pages.problem_page(403, locale, "csrf")
    answer = await services.notifications.unsubscribe(token or "")
    if answer.status_code != 200:
        code = answer.json().get("code") if answer.status_code < 500 else None
        status = 503 if answer.status_code >= 500 else 410 if code == "expired_token" else 404
        return pages.problem_page(status, locale, "unavailable" if status == 503 else _known(str(code)))
    category = answer.json()["category"]
    return pages.redirect(_page_url("unsubscribe", "", token or "", lang=locale, done=category))


def _known(what: str) -> str:
    return what if what in ("expired_token", "missing_token", "unavailable", "csrf") else "invalid_token"


@links_router.get("/page-links", summary="Check an email link's token")
async def check_page_link(
    services: ServicesDep,
    token: Annotated[
        str, Query(min_length=1, max_length=2000, description="The token of an email link's query")
    ],
) -> JSONResponse:
    """For a storefront that serves the customer pages itself (notifications' ``customer_links=storefront``):
    what the token in an email link's query opens (``page``: order, decision or invoice; ``subject``: the order
    or draft id; ``locale``; ``action_token``: the bearer token for the decision or the invoice call) and until
    when. A changed or cut token answers 400 or 401 (``invalid_token``), an expired one 401 (``expired_token``)."""
    return passed_on(await services.notifications.page_link(token))
