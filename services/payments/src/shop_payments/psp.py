"""The payment service provider (PSP) adapter: the port handlers charge through, and the in-process sandbox.

The sandbox answers by test token. Each token maps to a ``Behaviour`` (a function of the attempt), so new
ones (time out, error then succeed, need customer action) are one more entry in ``TEST_TOKENS``. Verifying
a token is its behaviour's on-session answer to an attempt of 0, so every token verifies as it charges.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from shop_payments import webhooks


@dataclass(frozen=True)
class ChargeResult:
    """The PSP's final answer to a charge. A decline is an answer, not an error."""

    approved: bool
    psp_reference: str
    decline_code: str | None = None
    decline_message: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    requires_action: bool = False
    """Declined because the customer must authenticate; an off-session charge cannot ask them."""


@dataclass(frozen=True)
class Verification:
    """The PSP's answer to whether a token can be charged later, without charging it."""

    approved: bool
    psp_reference: str
    decline_code: str | None = None
    decline_message: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None


@dataclass(frozen=True)
class RefundResult:
    psp_reference: str


class PspUnavailable(Exception):
    """The PSP gave no answer (timeout, server error); charging again with the same key is safe."""


class PspTimeout(PspUnavailable):
    """The PSP did not answer in time; whether it charged is unknown until asked again with the same key."""


class PspServerError(PspUnavailable):
    """The PSP answered with a server error (a 5xx); nothing was charged."""

    def __init__(self, message: str, *, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


class IdempotencyKeyReused(Exception):
    """The same idempotency key came with a different charge: a bug in the caller, never retried away."""


class PaymentServiceProvider(Protocol):
    async def charge(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, off_session: bool = False
    ) -> ChargeResult:
        """Charge ``amount`` (minor units) to the card behind ``token``; at most once per idempotency key.

        ``off_session``: the customer is not there to authenticate (a balance charged later).
        """
        ...

    async def verify(self, *, token: str) -> Verification:
        """Check that ``token`` can be charged later, charging nothing."""
        ...

    async def refund(self, *, psp_reference: str, amount: int, idempotency_key: str) -> RefundResult:
        """Give back ``amount`` of the charge ``psp_reference``; at most once per idempotency key."""
        ...


@dataclass(frozen=True)
class ChargeAttempt:
    amount: int
    currency: str
    idempotency_key: str
    number: int
    """1 for the first try under this idempotency key, 2 for the next (after an error), and so on."""
    off_session: bool = False


Behaviour = Callable[[ChargeAttempt], ChargeResult]
"""How a sandbox test token answers; it may raise ``PspUnavailable`` to play an outage."""


def _reference(kind: str = "ch") -> str:
    return f"sandbox_{kind}_{uuid.uuid4().hex}"


def approves(*, brand: str, last4: str) -> Behaviour:
    def behaviour(attempt: ChargeAttempt) -> ChargeResult:
        return ChargeResult(approved=True, psp_reference=_reference(), card_brand=brand, card_last4=last4)

    return behaviour


def declines(
    *,
    code: str,
    message: str,
    brand: str | None = None,
    last4: str | None = None,
    requires_action: bool = False,
) -> Behaviour:
    def behaviour(attempt: ChargeAttempt) -> ChargeResult:
        return ChargeResult(
            approved=False,
            psp_reference=_reference(),
            decline_code=code,
            decline_message=message,
            card_brand=brand,
            card_last4=last4,
            requires_action=requires_action,
        )

    return behaviour


def by_session(*, on_session: Behaviour, off_session: Behaviour) -> Behaviour:
    """A card that answers differently when the customer is not there to authenticate."""

    def behaviour(attempt: ChargeAttempt) -> ChargeResult:
        return off_session(attempt) if attempt.off_session else on_session(attempt)

    return behaviour


def fails_first(then: Behaviour, *, error: Callable[[ChargeAttempt], PspUnavailable]) -> Behaviour:
    """A PSP that is unavailable for the first attempt under each idempotency key, then answers ``then``.

    Verifying the token (which charges nothing) answers ``then`` straight away.
    """

    def behaviour(attempt: ChargeAttempt) -> ChargeResult:
        if attempt.number == 1 and attempt.currency != VERIFICATION_CURRENCY:
            raise error(attempt)
        return then(attempt)

    return behaviour


def _timeout(attempt: ChargeAttempt) -> PspUnavailable:
    return PspTimeout(f"sandbox: the PSP did not answer charge {attempt.idempotency_key!r} within 30s")


def _server_error(attempt: ChargeAttempt) -> PspUnavailable:
    return PspServerError(f"sandbox: the PSP answered 503 to charge {attempt.idempotency_key!r}", status=503)


TEST_TOKENS: Mapping[str, Behaviour] = {
    "tok_visa": approves(brand="visa", last4="4242"),
    "tok_mastercard": approves(brand="mastercard", last4="4444"),
    "tok_card_declined": declines(
        code="card_declined", message="The card was declined.", brand="visa", last4="0002"
    ),
    "tok_insufficient_funds": declines(
        code="insufficient_funds", message="The card has insufficient funds.", brand="visa", last4="9995"
    ),
    # Needs the customer to authenticate (3-D Secure): fine at checkout, declined when charged later.
    "tok_requires_action": by_session(
        on_session=approves(brand="visa", last4="3184"),
        off_session=declines(
            code="authentication_required",
            message="The card needs the customer to confirm this charge.",
            brand="visa",
            last4="3184",
            requires_action=True,
        ),
    ),
    # Good at checkout, declined when the balance is charged later (cancelled, over its limit by then).
    "tok_fails_later": by_session(
        on_session=approves(brand="visa", last4="0341"),
        off_session=declines(
            code="card_declined", message="The card was declined.", brand="visa", last4="0341"
        ),
    ),
    # The PSP times out on the first attempt of each charge; the retry (same idempotency key) is approved.
    "tok_timeout_then_ok": fails_first(approves(brand="visa", last4="1881"), error=_timeout),
    # The PSP answers a server error (503) on the first attempt of each charge, then approves.
    "tok_error_then_ok": fails_first(approves(brand="mastercard", last4="5100"), error=_server_error),
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
class SandboxRefund:
    idempotency_key: str
    charge_reference: str
    amount: int
    result: RefundResult


class RefundRefused(Exception):
    """The sandbox knows the charge and it cannot give that much back (a bug in the caller)."""


@dataclass(frozen=True)
class _Request:
    amount: int
    currency: str
    token_digest: str
    off_session: bool


VERIFICATION_CURRENCY = "XXX"
"""ISO 4217's code for 'no currency': a verification is an attempt of 0 in none."""


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery of a sandbox webhook: the event, and how the receiving URL answered."""

    event_id: str
    status: int
    answer: Any


class WebhooksNotConfigured(Exception):
    """The sandbox has no webhook URL or signing secret to deliver with."""


class SandboxWebhooks:
    """The sandbox's webhook sender: signs each event with the first secret and POSTs it to one URL.

    It keeps the events it sent, so one can be delivered again, as a real PSP redelivers until it hears 2xx.
    """

    def __init__(
        self,
        url: str | None,
        secrets: tuple[str, ...],
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._secrets = secrets
        self._clock = clock
        self._transport = transport
        self.sent: dict[str, bytes] = {}

    def event(self, event_type: str, data: Mapping[str, Any]) -> tuple[str, bytes]:
        """A new event (id and body as the PSP sends it)."""
        event_id = f"evt_sandbox_{uuid.uuid4().hex}"
        body = {"id": event_id, "type": event_type, "created": int(self._clock()), "data": dict(data)}
        return event_id, json.dumps(body, separators=(",", ":")).encode()

    @property
    def configured(self) -> bool:
        return bool(self._url and self._secrets)

    async def deliver(self, event_id: str, body: bytes, *, signed_at: int | None = None) -> WebhookDelivery:
        """POST the event, signed now (or at ``signed_at``), and return the answer."""
        if not self._url or not self._secrets:
            raise WebhooksNotConfigured("the sandbox needs a webhook URL and secret to deliver webhooks")
        self.sent[event_id] = body
        timestamp = int(self._clock()) if signed_at is None else signed_at
        headers = {
            "Content-Type": "application/json",
            webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=self._secrets[0], timestamp=timestamp),
        }
        async with httpx.AsyncClient(transport=self._transport, timeout=10) as client:
            response = await client.post(self._url, content=body, headers=headers)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = response.text
        return WebhookDelivery(event_id, response.status_code, answer)

    async def redeliver(self, event_id: str) -> WebhookDelivery | None:
        """Deliver an event sent before once more (same id and body, a fresh signature); None if unknown."""
        body = self.sent.get(event_id)
        return None if body is None else await self.deliver(event_id, body)


class SandboxPsp:
    """An in-process PSP with test tokens and no network; it keeps its charges and refunds in memory.

    Each process has its own sandbox, so a refund of a charge another process made cannot be checked
    against it; a refund of a charge this sandbox made can. Its webhooks go to one configured URL.
    """

    def __init__(
        self, behaviours: Mapping[str, Behaviour] | None = None, *, webhooks: SandboxWebhooks | None = None
    ) -> None:
        self.webhooks = webhooks or SandboxWebhooks(None, ())
        self._behaviours = {**TEST_TOKENS, **(behaviours or {})}
        self._answers: dict[str, tuple[_Request, ChargeResult]] = {}
        self._attempts: dict[str, int] = {}
        self._refund_answers: dict[str, tuple[tuple[str, int], RefundResult]] = {}
        self.charges: list[SandboxCharge] = []
        self.refunds: list[SandboxRefund] = []
        self.verifications = 0

    async def charge(
        self, *, token: str, amount: int, currency: str, idempotency_key: str, off_session: bool = False
    ) -> ChargeResult:
        if amount <= 0:
            raise ValueError(f"amount must be more than 0, not {amount}")
        # Only a digest of the token is kept, to notice a key reused for another card.
        request = _Request(amount, currency, hashlib.sha256(token.encode()).hexdigest(), off_session)
        if idempotency_key in self._answers:
            answered, result = self._answers[idempotency_key]
            if answered != request:
                raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for another charge")
            return result
        number = self._attempts[idempotency_key] = self._attempts.get(idempotency_key, 0) + 1
        behaviour = self._behaviours.get(token, UNKNOWN_TOKEN)
        result = behaviour(ChargeAttempt(amount, currency, idempotency_key, number, off_session))
        # An error above stores nothing, so a retry under the same key charges afresh, as with a real PSP.
        self._answers[idempotency_key] = (request, result)
        self.charges.append(SandboxCharge(idempotency_key, amount, currency, result))
        return result

    async def verify(self, *, token: str) -> Verification:
        behaviour = self._behaviours.get(token, UNKNOWN_TOKEN)
        self.verifications += 1
        answer = behaviour(
            ChargeAttempt(0, VERIFICATION_CURRENCY, f"verify:{uuid.uuid4().hex}", 1, off_session=False)
        )
        return Verification(
            approved=answer.approved,
            psp_reference=_reference("seti"),
            decline_code=answer.decline_code,
            decline_message=answer.decline_message,
            card_brand=answer.card_brand,
            card_last4=answer.card_last4,
        )

    async def refund(self, *, psp_reference: str, amount: int, idempotency_key: str) -> RefundResult:
        if amount <= 0:
            raise ValueError(f"amount must be more than 0, not {amount}")
        request = (psp_reference, amount)
        if idempotency_key in self._refund_answers:
            answered, result = self._refund_answers[idempotency_key]
            if answered != request:
                raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for another refund")
            return result
        charge = next((c for c in self.charges if c.result.psp_reference == psp_reference), None)
        if charge is not None:
            refunded = sum(r.amount for r in self.refunds if r.charge_reference == psp_reference)
            if not charge.result.approved or refunded + amount > charge.amount:
                raise RefundRefused(f"charge {psp_reference} cannot give back {amount} more")
        result = RefundResult(psp_reference=_reference("re"))
        self._refund_answers[idempotency_key] = (request, result)
        self.refunds.append(SandboxRefund(idempotency_key, psp_reference, amount, result))
        return result

    def confirm_action(self, *, charge_reference: str) -> bool:
        """The customer confirmed a charge that required their action: this sandbox's charge is approved from
        now on (a replay of its key answers so, and it can be refunded). False when it made no such charge."""
        for index, charge in enumerate(self.charges):
            if charge.result.psp_reference == charge_reference and charge.result.requires_action:
                approved = dataclasses.replace(
                    charge.result,
                    approved=True,
                    decline_code=None,
                    decline_message=None,
                    requires_action=False,
                )
                self.charges[index] = dataclasses.replace(charge, result=approved)
                request, _ = self._answers[charge.idempotency_key]
                self._answers[charge.idempotency_key] = (request, approved)
                return True
        return False

    async def complete_action(self, *, charge_reference: str, amount: int, currency: str) -> WebhookDelivery:
        """The customer confirmed a charge that required their action: the PSP charges it and says so.

        ``amount`` and ``currency`` are the charge's (the caller knows them: each process has its own sandbox,
        so this one may not have made the charge).
        """
        if not self.webhooks.configured:
            raise WebhooksNotConfigured("the sandbox needs a webhook URL and secret to deliver webhooks")
        self.confirm_action(charge_reference=charge_reference)
        event_id, body = self.webhooks.event(
            "charge.succeeded", {"charge": charge_reference, "amount": amount, "currency": currency}
        )
        return await self.webhooks.deliver(event_id, body)
