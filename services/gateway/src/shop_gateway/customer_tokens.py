"""Customers' short-lived bearer tokens, free of I/O: minted by the gateway at login, checked on every call.

A token is ``cus1.<claims>.<signature>``: the claims (customer id, issued and expiry times, base64url JSON) signed
with HMAC-SHA256. The first configured key signs; every configured key verifies, so keys rotate without logging
anyone out: deploy ``new,old``, wait one token lifetime, deploy ``new``. Nothing is stored: a token cannot be
revoked before it expires, which is why it lives minutes, not days.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PREFIX = "cus1."
MIN_KEY_LENGTH = 32


class TokenRefused(Exception):
    """Not a token the gateway made, or no longer valid; ``reason`` is ``invalid`` or ``expired``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedToken:
    token: str
    customer_id: str
    expires_at: datetime


def looks_like_customer_token(token: str) -> bool:
    """Order access tokens have no dots; customer tokens start with their version prefix."""
    return token.startswith(PREFIX)


def mint(customer_id: str, *, keys: Sequence[str], now: datetime, lifetime: timedelta) -> IssuedToken:
    if not keys:
        raise ValueError("no signing key")
    expires = int((now + lifetime).timestamp())
    claims = {"sub": customer_id, "iat": int(now.timestamp()), "exp": expires}
    body = PREFIX + _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    token = f"{body}.{_b64(_sign(keys[0], body))}"
    return IssuedToken(token=token, customer_id=customer_id, expires_at=datetime.fromtimestamp(expires, UTC))


def verify(token: str, *, keys: Sequence[str], now: datetime) -> str:
    """The customer id the token was minted for; TokenRefused when it is forged, malformed or expired."""
    body, dot, signature = token.rpartition(".")
    if not dot or not body.startswith(PREFIX):
        raise TokenRefused("invalid")
    try:
        presented = _unb64(signature)
        claims = json.loads(_unb64(body.removeprefix(PREFIX)))
    except ValueError as error:
        raise TokenRefused("invalid") from error
    # every key is compared whichever matches, so timing says nothing about which key (or whether) it was
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented, _sign(key, body))
    if not matched or not isinstance(claims, dict):
        raise TokenRefused("invalid")
    subject, expires = claims.get("sub"), claims.get("exp")
    if not isinstance(subject, str) or not subject or not isinstance(expires, int):
        raise TokenRefused("invalid")
    if now.timestamp() >= expires:
        raise TokenRefused("expired")
    return subject


def _sign(key: str, body: str) -> bytes:
    return hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or "=" in text:
        raise ValueError("not unpadded base64url")
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))
