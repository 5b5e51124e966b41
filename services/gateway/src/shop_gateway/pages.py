"""What every hosted customer page shares: Jinja2 rendering in the page's locale, the security headers, forms'
CSRF tokens (a signed double submit), amounts and dates as a customer reads them, and the plain error page.

The pages are server-rendered HTML with one stylesheet and no script: every form posts to the gateway and is
answered with a redirect to a page (post, redirect, get), so reloading never sends a form twice.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shop_contracts.money import format_money
from shop_gateway.page_text import TEXT

Locale = Literal["ko", "en"]
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
CSRF_COOKIE = "shop_csrf"
CSRF_FIELD = "csrf"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
"""No script at all, nothing from another origin, forms only to the gateway, never framed."""
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",  # the token is in the address: never send it on
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["money"] = lambda amount, currency, locale: format_money(
        int(amount), currency, locale
    )
    environment.filters["day"] = format_day
    return environment


def locale_of(value: object, request: Request | None = None) -> Locale:
    """``ko`` or ``en``: the order's (or the link's) locale, else what the browser asks for, else English."""
    if value in ("ko", "en"):
        return value
    if request is not None and request.headers.get("accept-language", "").lower().startswith("ko"):
        return "ko"
    return "en"


def format_day(value: object, locale: Locale) -> str:
    """A date (or the day of a time) as a customer reads it: ``2026년 3월 5일`` or ``5 March 2026``."""
    if value is None or value == "":
        return ""
    try:
        if isinstance(value, str):
            day = datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)
        elif isinstance(value, datetime):
            day = value.date()
        elif isinstance(value, date):
            day = value
        else:
            return str(value)
    except ValueError:
        return str(value)
    if locale == "ko":
        return f"{day.year}년 {day.month}월 {day.day}일"
    return f"{day.day} {day.strftime('%B')} {day.year}"


def render(name: str, locale: Locale, *, status: int = 200, **values: Any) -> HTMLResponse:
    """The page ``name`` in ``locale``, with the security headers every page carries."""
    html = _environment().get_template(name).render(locale=locale, t=TEXT[locale], **values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def problem_page(status: int, locale: Locale, what: str) -> HTMLResponse:
    """A plain page saying what went wrong and what to do (``what`` names a message in ``page_text``)."""
    text = TEXT[locale]
    return render(
        "error.html",
        locale,
        status=status,
        title=text[f"error_{what}_title"],
        message=text[f"error_{what}"],
    )


def redirect(url: str) -> RedirectResponse:
    """After a form: to the page that shows the outcome (303, so reloading it sends nothing again)."""
    response = RedirectResponse(url, status_code=303)
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    return response


def csrf_key(request: Request) -> bytes:
    """The key forms' CSRF tokens are signed with, derived from the customer token key (shared by replicas)."""
    auth = request.app.state.customer_auth
    return hmac.new(auth.keys[0].encode(), b"customer-page-forms", hashlib.sha256).digest()


def _csrf_signature(key: bytes, nonce: str, scope: str) -> str:
    return hmac.new(key, f"{nonce}|{scope}".encode(), hashlib.sha256).hexdigest()


def issue_csrf(request: Request, scope: str) -> tuple[str, str]:
    """The cookie's nonce (the browser's own, or a new one) and the form field that proves this page made it:
    the nonce signed with the page's scope (its page and order), so a form of one page never acts on another."""
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    return nonce, f"{nonce}.{_csrf_signature(csrf_key(request), nonce, scope)}"


def set_csrf_cookie(response: Response, request: Request, nonce: str) -> Response:
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/pages",
    )
    return response


def csrf_valid(request: Request, field: str | None, scope: str) -> bool:
    """The form's field matches the browser's cookie and was signed by this gateway for this scope."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not field:
        return False
    nonce, _, signature = field.partition(".")
    if not hmac.compare_digest(nonce.encode(), cookie.encode()):
        return False
    return hmac.compare_digest(signature.encode(), _csrf_signature(csrf_key(request), nonce, scope).encode())


async def form_of(request: Request) -> dict[str, str]:
    """The fields of a posted form (``application/x-www-form-urlencoded``), the first value of each."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return {}
    fields = parse_qs((await request.body()).decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}
