"""The PSP port's answers about card holds (authorise now, capture later), and how the sandbox keeps its holds.

Each process has its own sandbox and a restart forgets it, so the sandbox's authorisation reference carries
what a capture needs to know: when the hold expires and whether the token's captures fail
(``sandbox_auth_<flags>_<expiry>_<id>``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Authorization:
    """The PSP's answer to an authorisation: the amount is held on the card until ``expires_at`` (approved),
    or declined. Nothing is taken until it is captured."""

    approved: bool
    psp_reference: str
    expires_at: datetime | None = None
    decline_code: str | None = None
    decline_message: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None


@dataclass(frozen=True)
class CaptureResult:
    """The PSP's answer to capturing part or all of a hold; a refusal (expired, failed) is an answer."""

    approved: bool
    psp_reference: str
    decline_code: str | None = None
    decline_message: str | None = None


@dataclass(frozen=True)
class VoidResult:
    psp_reference: str


class HoldRefused(Exception):
    """The sandbox knows the hold and it cannot capture or release that much of it (a bug in the caller)."""


@dataclass(frozen=True)
class SandboxHold:
    """A hold the sandbox placed: what it authorised, and what was captured and released of it since."""

    idempotency_key: str
    amount: int
    currency: str
    result: Authorization


@dataclass(frozen=True)
class SandboxCapture:
    idempotency_key: str
    authorization_reference: str
    amount: int
    result: CaptureResult


@dataclass(frozen=True)
class SandboxVoid:
    idempotency_key: str
    authorization_reference: str
    amount: int
    result: VoidResult


@dataclass(frozen=True)
class HoldTerms:
    """What a sandbox authorisation reference says of its hold."""

    expires_at: float | None
    captures_fail: bool
    flaky: bool


def hold_reference(*, expires_at: float, captures_fail: bool, flaky: bool) -> str:
    flags = ("c" if captures_fail else "") + ("f" if flaky else "") or "o"
    return f"sandbox_auth_{flags}_{int(expires_at)}_{uuid.uuid4().hex}"


def hold_terms(reference: str) -> HoldTerms:
    """The terms a sandbox reference carries; another PSP's reference carries none (it never expires here)."""
    parts = reference.split("_")
    if len(parts) != 5 or parts[:2] != ["sandbox", "auth"] or not parts[3].isdigit():
        return HoldTerms(expires_at=None, captures_fail=False, flaky=False)
    return HoldTerms(expires_at=float(parts[3]), captures_fail="c" in parts[2], flaky="f" in parts[2])
