"""HMAC signatures of messages that cross the shop's edge, free of I/O: signing and verifying one header.

``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``. The sender signs with the first of its secrets;
during a rotation a header may carry several ``v1`` values, and any configured secret that matches any of them
verifies. The timestamp is signed too, so an old message cannot be replayed past the tolerance with a fresh
header. The PSP signs its webhooks to payments this way (``Shop-PSP-Signature``), and the shop signs what it
sends to warehouse systems this way (``Shop-Signature``), so one verifier serves both.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

SCHEME = "v1"


class SignatureRefused(Exception):
    """A body whose signature does not prove who sent it; ``code`` says why, ``status`` how HTTP answers."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def parse_secrets(value: str | None) -> tuple[str, ...]:
    """A comma-separated secret list (new first, old after during a rotation); blanks dropped."""
    if not value:
        return ()
    return tuple(secret.strip() for secret in value.split(",") if secret.strip())


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(body: bytes, *, secret: str, timestamp: int) -> str:
    """The header value that proves ``body`` was sent at ``timestamp`` by the holder of ``secret``."""
    return f"t={timestamp},{SCHEME}={_digest(secret, timestamp, body)}"


def parse_signature(header: str | None, *, name: str) -> ParsedSignature:
    """The timestamp and signatures of a header called ``name`` (named in the errors)."""
    if not header or not header.strip():
        raise SignatureRefused(f"the {name} header is missing", code="missing_signature", status=400)
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureRefused(
            f"the {name} header must read 't=<unix seconds>,{SCHEME}=<hex HMAC-SHA256>'",
            code="malformed_signature",
            status=400,
        )
    return ParsedSignature(timestamp, tuple(signatures))


def verify(
    body: bytes,
    header: str | None,
    *,
    secrets: Sequence[str],
    now: float,
    tolerance_seconds: int,
    name: str = "signature",
) -> int:
    """Check that ``body`` was signed with one of ``secrets`` within the tolerance; returns when it was signed.

    Every secret is compared against every signature in constant time, so timing tells nothing of which (or
    how much of one) matched.
    """
    parsed = parse_signature(header, name=name)
    matched = False
    for secret in secrets:
        expected = _digest(secret, parsed.timestamp, body).encode()
        for signature in parsed.signatures:
            if hmac.compare_digest(expected, signature.encode()):
                matched = True
    if not matched:
        raise SignatureRefused(
            "the signature does not match the body with any secret", code="bad_signature", status=401
        )
    if abs(now - parsed.timestamp) > tolerance_seconds:
        raise SignatureRefused(
            f"the signature's timestamp is {int(now - parsed.timestamp)} s from now, more than the "
            f"{tolerance_seconds} s allowed",
            code="stale_signature",
            status=401,
        )
    return parsed.timestamp
