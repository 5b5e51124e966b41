"""The payment service provider (PSP) adapter: the port handlers charge through, and the in-process sandbox.

The sandbox answers by test token. Each token maps to a ``Behaviour`` (a function of the attempt), so new
ones (time out, error then succeed, need customer action) are one more entry in ``TEST_TOKENS``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ChargeResult:
    """The PSP's final answer to a charge. A decline is an answer, not an error."""

    approved: bool
    psp_reference: str
    decline_code: str | None = None
    decline_message: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None


class PspUnavailable(Exception):
    """The PSP gave no answer (timeout, server error); charging again with the same key is safe."""


class IdempotencyKeyReused(Exception):
    """The same idempotency key came with a different charge: a bug in the caller, never retried away."""


class PaymentServiceProvider(Protocol):
    async def charge(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> ChargeResult:
        """Charge ``amount`` (minor units) to the card behind ``token``; at most once per idempotency key."""
        ...


@dataclass(frozen=True)
class ChargeAttempt:
    amount: int
    currency: str
    idempotency_key: str
    number: int
    """1 for the first try under this idempotency key, 2 for the next (after an error), and so on."""


Behaviour = Callable[[ChargeAttempt], ChargeResult]
"""How a sandbox test token answers; it may raise ``PspUnavailable`` to play an outage."""


def _reference() -> str:
    return f"sandbox_ch_{uuid.uuid4().hex}"


def approves(*, brand: str, last4: str) -> Behaviour:
    def behaviour(attempt: ChargeAttempt) -> ChargeResult:
        return ChargeResult(approved=True, psp_reference=_reference(), card_brand=brand, card_last4=last4)

    return behaviour


def declines(*, code: str, message: str, brand: str | None = None, last4: str | None = None) -> Behaviour:
    def behaviour(attempt: ChargeAttempt) -> ChargeResult:
        return ChargeResult(
            approved=False,
            psp_reference=_reference(),
            decline_code=code,
            decline_message=message,
            card_brand=brand,
            card_last4=last4,
        )

    return behaviour


TEST_TOKENS: Mapping[str, Behaviour] = {
    "tok_visa": approves(brand="visa", last4="4242"),
    "tok_mastercard": approves(brand="mastercard", last4="4444"),
    "tok_card_declined": declines(
        code="card_declined", message="The card was declined.", brand="visa", last4="0002"
    ),
    "tok_insufficient_funds": declines(
        code="insufficient_funds", message="The card has insufficient funds.", brand="visa", last4="9995"
    ),
}
UNKNOWN_TOKEN: Behaviour = declines(code="invalid_token", message="The payment method token is not valid.")


@dataclass(frozen=True)
class SandboxCharge:
    """A charge the sandbox really made (a replay under the same idempotency key is not one)."""

    idempotency_key: str
    amount: int
    currency: str
    result: ChargeResult


@dataclass(frozen=True)
class _Request:
    amount: int
    currency: str
    token_digest: str


class SandboxPsp:
    """An in-process PSP with test tokens and no network; it keeps its charges in memory."""

    def __init__(self, behaviours: Mapping[str, Behaviour] | None = None) -> None:
        self._behaviours = {**TEST_TOKENS, **(behaviours or {})}
        self._answers: dict[str, tuple[_Request, ChargeResult]] = {}
        self._attempts: dict[str, int] = {}
        self.charges: list[SandboxCharge] = []

    async def charge(self, *, token: str, amount: int, currency: str, idempotency_key: str) -> ChargeResult:
        if amount <= 0:
            raise ValueError(f"amount must be more than 0, not {amount}")
        # Only a digest of the token is kept, to notice a key reused for another card.
        request = _Request(amount, currency, hashlib.sha256(token.encode()).hexdigest())
        if idempotency_key in self._answers:
            answered, result = self._answers[idempotency_key]
            if answered != request:
                raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for another charge")
            return result
        number = self._attempts[idempotency_key] = self._attempts.get(idempotency_key, 0) + 1
        behaviour = self._behaviours.get(token, UNKNOWN_TOKEN)
        result = behaviour(ChargeAttempt(amount, currency, idempotency_key, number))
        # An error above stores nothing, so a retry under the same key charges afresh, as with a real PSP.
        self._answers[idempotency_key] = (request, result)
        self.charges.append(SandboxCharge(idempotency_key, amount, currency, result))
        return result
