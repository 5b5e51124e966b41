"""The signed links of non-transactional emails, free of I/O: a one-click unsubscribe token names an address and a
category, a preferences token an address. Tokens are never stored; their signature proves them.

A token reads ``<payload>.<unix seconds>.<hex HMAC-SHA256>``: the payload is base64url JSON, signed with its time
in the shop's one signature scheme (``shop_runtime.signatures``); of the secrets given, the first signs and all
verify.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from shop_notifications.domain import CATEGORIES, TRANSACTIONAL, Category, Locale, normalise_email
from shop_runtime import signatures

TokenKind = Literal["unsubscribe", "preferences"]

UNSUBSCRIBE: TokenKind = "unsubscribe"
PREFERENCES: TokenKind = "preferences"


class TokenRefused(Exception):
    """A token that does not prove anything: ``code`` says why, ``status`` how HTTP answers."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class LinkToken:
    """What a verified token names: the address, and for an unsubscribe token the category."""

    kind: TokenKind
    email: str
    category: Category | None = None


def _encode(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _payload(token: LinkToken) -> bytes:
    fields = {"k": token.kind, "e": token.email, "c": token.category}
    return json.dumps(fields, separators=(",", ":"), sort_keys=True).encode()


def sign_token(token: LinkToken, *, secret: str, issued_at: int) -> str:
    """The token of ``token`` signed with ``secret`` at ``issued_at`` (unix seconds)."""
    payload = _payload(token)
    parsed = signatures.parse_signature(
        signatures.sign(payload, secret=secret, timestamp=issued_at), name="token"
    )
    return f"{_encode(payload)}.{parsed.timestamp}.{parsed.signatures[0]}"


def unsubscribe_token(email: str, category: Category, *, secret: str, issued_at: int) -> str:
    if category == TRANSACTIONAL:
        raise ValueError("transactional email cannot be unsubscribed from")
    token = LinkToken(UNSUBSCRIBE, normalise_email(email), category)
    return sign_token(token, secret=secret, issued_at=issued_at)


def preferences_token(email: str, *, secret: str, issued_at: int) -> str:
    return sign_token(LinkToken(PREFERENCES, normalise_email(email)), secret=secret, issued_at=issued_at)


_MALFORMED = "the token is not one from the shop's emails: copy the whole link from the email"


def verify_token(
    text: str, *, kind: TokenKind, secrets: Sequence[str], now: float, valid_seconds: int
) -> LinkToken:
    """What ``text`` names, when one of ``secrets`` signed it within ``valid_seconds`` and it is a ``kind`` token."""
    payload_text, _, rest = text.strip().partition(".")
    issued, _, digest = rest.partition(".")
    if not payload_text or not issued.isdigit() or not digest:
        raise TokenRefused(_MALFORMED, code="malformed_token", status=400)
    try:
        payload = _decode(payload_text)
        fields = json.loads(payload)
    except (binascii.Error, ValueError) as error:
        raise TokenRefused(_MALFORMED, code="malformed_token", status=400) from error
    try:
        signatures.verify(
            payload,
            f"t={issued},{signatures.SCHEME}={digest}",
            secrets=secrets,
            now=now,
            tolerance_seconds=valid_seconds,
            name="token",
        )
    except signatures.SignatureRefused as error:
        if error.code == "stale_signature":
            days = valid_seconds // 86_400
            raise TokenRefused(
                f"the link has expired (links work for {days} days): use the link in a newer email",
                code="expired_token",
                status=401,
            ) from error
        raise TokenRefused(
            "the token's signature does not match: it was changed or cut short; copy the whole link",
            code="invalid_token",
            status=401,
        ) from error
    token = _token(fields)
    if token is None:
        raise TokenRefused(_MALFORMED, code="malformed_token", status=400)
    if token.kind != kind:
        where = (
            "unsubscribes from one kind of email" if token.kind == UNSUBSCRIBE else "opens the preferences"
        )
        raise TokenRefused(
            f"this token {where}; this call takes the {kind} link of an email",
            code="wrong_token",
            status=400,
        )
    return token


def _token(fields: object) -> LinkToken | None:
    """The token a signed payload names, or None when it names nothing this version knows."""
    if not isinstance(fields, dict):
        return None
    kind, email, category = fields.get("k"), fields.get("e"), fields.get("c")
    if not isinstance(email, str) or not email:
        return None
    if kind == PREFERENCES and category is None:
        return LinkToken(PREFERENCES, email)
    if kind == UNSUBSCRIBE and category in CATEGORIES and category != TRANSACTIONAL:
        return LinkToken(UNSUBSCRIBE, email, category)
    return None


@dataclass(frozen=True)
class PreferenceLinks:
    """Where an email's links point: the one-click unsubscribe (the gateway's ``POST /v1/unsubscribe``, which the
    ``List-Unsubscribe`` header names for mail clients), and for a reader the storefront's unsubscribe page (opening
    it changes nothing, as mail scanners open links: its button POSTs that same link) and preferences page (which
    calls ``/v1/preferences``)."""

    one_click_url: str
    unsubscribe_page_url: str
    preferences_url: str


def preference_links(
    public_url: str,
    email: str,
    category: Category,
    *,
    secret: str,
    issued_at: int,
    api_url: str | None = None,
    locale: Locale | None = None,
) -> PreferenceLinks:
    """The signed links of one email of ``category`` to ``email``: ``public_url`` is where the pages are (the
    gateway's hosted pages or the storefront), ``api_url`` the gateway that takes the one-click POST (default
    ``public_url``); ``locale`` names the pages' language in their query."""
    unsubscribe = unsubscribe_token(email, category, secret=secret, issued_at=issued_at)
    preferences = preferences_token(email, secret=secret, issued_at=issued_at)
    unsubscribe = quote(unsubscribe, safe="")
    language = f"&lang={locale}" if locale is not None else ""
    return PreferenceLinks(
        one_click_url=f"{api_url or public_url}/v1/unsubscribe?token={unsubscribe}",
        unsubscribe_page_url=f"{public_url}/unsubscribe?token={unsubscribe}{language}",
        preferences_url=f"{public_url}/preferences?token={quote(preferences, safe='')}{language}",
    )


@dataclass(frozen=True)
class LinkSigning:
    """Where this service's links point and how long they work (the key that signs them is in its database):
    ``public_url`` where the unsubscribe and preferences pages are, ``api_url`` the gateway (None: the same)."""

    public_url: str
    valid_seconds: int
    api_url: str | None = None
