"""The signed links from an email to a customer's page, free of I/O: the order status page, the pre-order date
decision and a draft order's invoice. Tokens are never stored by the pages; their signature proves them.

A page token reads ``<payload>.<unix seconds>.<hex HMAC-SHA256>`` like a preference link's (``links``), signed
with the same stored key, but its payload says ``"k": "page"``, so a page token never unsubscribes and an
unsubscribe token never opens a page. The payload names one page (``p``), one order or draft (``s``), the locale
the page speaks (``l``), the expiry (``x``, unix seconds) and, for the decision and the invoice, the token orders
made for that one action (``a``), which the page passes on when the customer acts.

Where links point is the shop's choice (``LinkTarget``): the gateway's hosted pages (``/pages/...``, the default)
or the merchant's storefront, with the same token in the query, which the storefront checks with
``GET /v1/page-links?token=`` on the gateway. The cancellation email's feedback link goes to the same place
(``{pages_url}/feedback?order=&reason=&token=``) with orders' own feedback token, which orders checks itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import quote

from shop_notifications.domain import Locale
from shop_runtime import signatures

PageKind = Literal["order", "decision", "invoice"]
PAGE_KINDS: tuple[PageKind, ...] = get_args(PageKind)
LinkMode = Literal["hosted", "storefront"]

HOSTED_PREFIX = "/pages"
"""Where the gateway serves the hosted pages."""


class PageTokenRefused(Exception):
    """A page token that proves nothing: ``code`` says why, ``status`` how HTTP answers."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class PageLink:
    """One page an email links to, before it is signed: which page, for which order or draft, in which locale,
    and the action token orders made for it (decision and invoice only)."""

    kind: PageKind
    subject: str
    locale: Locale
    action_token: str | None = None


@dataclass(frozen=True)
class VerifiedPage:
    """What a verified page token opens, and until when (unix seconds)."""

    kind: PageKind
    subject: str
    locale: Locale
    action_token: str | None
    expires_at: int


@dataclass(frozen=True)
class LinkTarget:
    """Where the links of emails point: ``hosted`` (the gateway's pages at ``gateway_url``) or ``storefront``
    (the merchant's pages at ``storefront_url``); ``valid_seconds`` is how long a page link works."""

    mode: LinkMode
    gateway_url: str
    storefront_url: str
    valid_seconds: int

    @property
    def pages_url(self) -> str:
        """The base every page path is appended to."""
        if self.mode == "hosted":
            return f"{self.gateway_url}{HOSTED_PREFIX}"
        return self.storefront_url


def page_path(kind: PageKind, subject: str) -> str:
    """The page's path below the pages' base, the same on the gateway and on a storefront."""
    quoted = quote(subject, safe="")
    if kind == "order":
        return f"/orders/{quoted}"
    if kind == "decision":
        return f"/orders/{quoted}/preorder-decision"
    return f"/draft-orders/{quoted}/invoice"


def _encode(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_page_token(link: PageLink, *, secret: str, issued_at: int, valid_seconds: int) -> str:
    """The token of ``link``, signed with ``secret`` at ``issued_at``, good for ``valid_seconds``."""
    fields = {
        "k": "page",
        "p": link.kind,
        "s": link.subject,
        "l": link.locale,
        "a": link.action_token,
        "x": issued_at + valid_seconds,
    }
    payload = json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()
    digest = signatures.parse_signature(
        signatures.sign(payload, secret=secret, timestamp=issued_at), name="token"
    ).signatures[0]
    return f"{_encode(payload)}.{issued_at}.{digest}"


def page_url(target: LinkTarget, link: PageLink, *, secret: str, issued_at: int) -> str:
    """The email's link to ``link``'s page, with its signed token in the query."""
    token = sign_page_token(link, secret=secret, issued_at=issued_at, valid_seconds=target.valid_seconds)
    return f"{target.pages_url}{page_path(link.kind, link.subject)}?token={quote(token, safe='')}"


_MALFORMED = "the link is not one from the shop's emails: copy the whole link from the email"


def verify_page_token(text: str, *, secrets: Sequence[str], now: float) -> VerifiedPage:
    """What ``text`` opens, when one of ``secrets`` signed it and it has not expired."""
    payload_text, _, rest = text.strip().partition(".")
    issued, _, digest = rest.partition(".")
    if not payload_text or not issued.isdigit() or not digest:
        raise PageTokenRefused(_MALFORMED, code="malformed_token", status=400)
    try:
        payload = _decode(payload_text)
        fields = json.loads(payload)
    except (binascii.Error, ValueError) as error:
        raise PageTokenRefused(_MALFORMED, code="malformed_token", status=400) from error
    try:
        signatures.verify(
            payload,
            f"t={issued},{signatures.SCHEME}={digest}",
            secrets=secrets,
            now=now,
            tolerance_seconds=10**10,  # expiry is the payload's own ``x``; the signature proves it
            name="token",
        )
    except signatures.SignatureRefused as error:
        raise PageTokenRefused(
            "the link's signature does not match: it was changed or cut short; copy the whole link",
            code="invalid_token",
            status=401,
        ) from error
    page = _page(fields)
    if page is None:
        raise PageTokenRefused(
            "this link does not open a page (it may be an unsubscribe link)", code="wrong_token", status=400
        )
    if now >= page.expires_at:
        raise PageTokenRefused(
            "the link has expired: use the link in a newer email, or ask the shop to send it again",
            code="expired_token",
            status=401,
        )
    return page


def _page(fields: object) -> VerifiedPage | None:
    """The page a signed payload names, or None when it names nothing this version knows."""
    if not isinstance(fields, dict) or fields.get("k") != "page":
        return None
    kind, subject, locale = fields.get("p"), fields.get("s"), fields.get("l")
    action, expires = fields.get("a"), fields.get("x")
    if kind not in PAGE_KINDS or not isinstance(subject, str) or not subject:
        return None
    if locale not in ("ko", "en") or not isinstance(expires, int):
        return None
    if action is not None and not isinstance(action, str):
        return None
    return VerifiedPage(kind=kind, subject=subject, locale=locale, action_token=action, expires_at=expires)


@dataclass(frozen=True)
class EmailPage:
    """The page an email links to and where the shop's links point: signed as the email is recorded."""

    link: PageLink
    target: LinkTarget
