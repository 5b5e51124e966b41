"""PSP webhook signatures: the header the PSP signs its webhooks with, in the shop's one signature scheme.

``Shop-PSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` (``shop_runtime.signatures``).
The PSP signs with the first of its secrets; during a rotation any configured secret verifies. A replay inside
the tolerance is caught by the event id payments records.
"""

from __future__ import annotations

from collections.abc import Sequence

from shop_runtime import signatures
from shop_runtime.signatures import SignatureRefused, parse_secrets, sign

__all__ = ["SIGNATURE_HEADER", "SignatureRefused", "parse_secrets", "sign", "verify"]

SIGNATURE_HEADER = "Shop-PSP-Signature"


def verify(
    body: bytes, header: str | None, *, secrets: Sequence[str], now: float, tolerance_seconds: int
) -> int:
    """Check that ``body`` was signed by the PSP with one of ``secrets`` within the tolerance; returns its time."""
    return signatures.verify(
        body, header, secrets=secrets, now=now, tolerance_seconds=tolerance_seconds, name=SIGNATURE_HEADER
    )
