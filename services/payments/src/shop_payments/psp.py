"""The payment service provider (PSP) adapter: the port handlers charge through, and the in-process sandbox.

The sandbox answers by test token. Each token maps to a ``Behaviour`` (a function of the attempt), so new
ones (time out, error then succeed, need customer action) are one more entry in ``TEST_TOKENS``. Verifying
a token is its behaviour's on-session answer to an attempt of 0, so every token verifies as it charges.

Holds (authorise now, capture later) answer by token too; see ``psp_holds`` for what their references carry.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shop_payments.psp_holds import (
    Authorization,
    CaptureResult,
    HoldRefused,
    SandboxCapture,
    SandboxHold,
    SandboxVoid,
    VoidResult,
    hold_reference,
    hold_terms,
)
from shop_payments.sandbox_webhooks import SandboxWebhooks, WebhookDelivery, WebhooksNotConfigured

__all__ = [
    "Authorization",
    "CaptureResult",
    "HoldRefused",
    "SandboxCapture",
    "SandboxHold",
    "SandboxVoid",
    "SandboxWebhooks",
    "VoidResult",
    "WebhookDelivery",
    "WebhooksNotConfigured",
]

log = logging.getLogger(__name__)


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

    async def authorize(
        self, *, token: str, amount: int, currency: str, idempotency_key: str
    ) -> Authorization:
        """Hold ``amount`` on the card behind ``token`` without taking it; at most once per idempotency key."""
        ...

    async def capture(
        self, *, authorization_reference: str, amount: int, currency: str, idempotency_key: str
    ) -> CaptureResult:
        """Take ``amount`` of the hold ``authorization_reference``; at most once per idempotency key."""
        ...

    async def void(self, *, authorization_reference: str, amount: int, idempotency_key: str) -> VoidResult:
        """Release ``amount`` of the hold (all that is left of it ends it); at most once per idempotency key."""
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
    # Authorised at checkout, refused when the hold is captured; charged off session it is approved.
    "tok_capture_fails": approves(brand="visa", last4="0119"),
    # Authorised at checkout with a hold that expires a minute later; charged off session it is approved.
    "tok_hold_expires_early": approves(brand="visa", last4="0077"),
    # Its hold expires a minute later, and charged off session in its place it is declined (dunning).
    "tok_hold_expires_declined": by_session(
        on_session=approves(brand="visa", last4="0085"),
        off_session=declines(
            code="card_declined", message="The card was declined.", brand="visa", last4="0085"
        ),
    ),
}
CAPTURE_FAILS_TOKENS = frozenset({"tok_capture_fails"})
"""Tokens whose holds are authorised but whose captures the PSP refuses (the card charges off session)."""
EXPIRES_EARLY_TOKENS = frozenset({"tok_hold_expires_early", "tok_hold_expires_declined"})
"""Tokens whose holds expire a minute after they are placed (some issuers hold for less than the PSP's days)."""
EARLY_EXPIRY_SECONDS = 60
FLAKY_TOKENS = frozenset({"tok_timeout_then_ok", "tok_error_then_ok"})
"""Tokens whose captures and voids fail on the first attempt under each key, as their charges do."""
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


class SandboxPsp:
    """An in-process PSP with test tokens and no network; it keeps its charges and refunds in memory.

    Each process has its own sandbox, so a refund of a charge another process made cannot be checked
    against it; a refund of a charge this sandbox made can. Its webhooks go to one configured URL.
    """

    def __init__(
        self,
        behaviours: Mapping[str, Behaviour] | None = None,
        *,
        webhooks: SandboxWebhooks | None = None,
        clock: Callable[[], float] = time.time,
        hold_seconds: float = 7 * 24 * 3600,
        webhook_retry_seconds: tuple[float, ...] = (0.2, 0.5, 1, 2, 4, 8, 16),
    ) -> None:
        self.webhooks = webhooks or SandboxWebhooks(None, ())
        self._clock = clock
        self._hold_seconds = hold_seconds
        self._webhook_retry_seconds = webhook_retry_seconds
        self._hold_answers: dict[str, tuple[Any, Any]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self.holds: list[SandboxHold] = []
        self.captures: list[SandboxCapture] = []
        self.voids: list[SandboxVoid] = []
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

    def _replayed(self, idempotency_key: str, request: Any, what: str) -> Any | None:
        """The answer given before under this key to this same request (None when none was given yet)."""
        if idempotency_key not in self._hold_answers:
            return None
        answered, result = self._hold_answers[idempotency_key]
        if answered != request:
            raise IdempotencyKeyReused(f"idempotency key {idempotency_key!r} was used for another {what}")
        return result

    def _attempt(self, idempotency_key: str) -> int:
        number = self._attempts[idempotency_key] = self._attempts.get(idempotency_key, 0) + 1
        return number

    async def authorize(
        self, *, token: str, amount: int, currency: str, idempotency_key: str
    ) -> Authorization:
        if amount <= 0:
            raise ValueError(f"amount must be more than 0, not {amount}")
        request = ("authorize", amount, currency, hashlib.sha256(token.encode()).hexdigest())
        replayed = self._replayed(idempotency_key, request, "authorisation")
        if replayed is not None:
            return replayed  # type: ignore[no-any-return]
        number = self._attempt(idempotency_key)
        behaviour = self._behaviours.get(token, UNKNOWN_TOKEN)
        answer = behaviour(ChargeAttempt(amount, currency, idempotency_key, number, off_session=False))
        now = self._clock()
        expires = now + (EARLY_EXPIRY_SECONDS if token in EXPIRES_EARLY_TOKENS else self._hold_seconds)
        result = Authorization(
            approved=answer.approved,
            psp_reference=(
                hold_reference(
                    expires_at=expires,
                    captures_fail=token in CAPTURE_FAILS_TOKENS,
                    flaky=token in FLAKY_TOKENS,
                )
                if answer.approved
                else _reference("auth")
            ),
            expires_at=datetime.fromtimestamp(int(expires), UTC) if answer.approved else None,
            decline_code=answer.decline_code,
            decline_message=answer.decline_message,
            card_brand=answer.card_brand,
            card_last4=answer.card_last4,
        )
        self._hold_answers[idempotency_key] = (request, result)
        self.holds.append(SandboxHold(idempotency_key, amount, currency, result))
        return result

    def _left_of(self, authorization_reference: str) -> int | None:
        """What this sandbox's hold still holds (None when another process placed it)."""
        hold = next((h for h in self.holds if h.result.psp_reference == authorization_reference), None)
        if hold is None:
            return None
        taken = sum(
            c.amount
            for c in self.captures
            if c.authorization_reference == authorization_reference and c.result.approved
        )
        released = sum(v.amount for v in self.voids if v.authorization_reference == authorization_reference)
        return hold.amount - taken - released

    async def capture(
        self, *, authorization_reference: str, amount: int, currency: str, idempotency_key: str
    ) -> CaptureResult:
        if amount <= 0:
            raise ValueError(f"amount must be more than 0, not {amount}")
        request = ("capture", authorization_reference, amount, currency)
        replayed = self._replayed(idempotency_key, request, "capture")
        if replayed is not None:
            return replayed  # type: ignore[no-any-return]
        terms = hold_terms(authorization_reference)
        if terms.flaky and self._attempt(idempotency_key) == 1:
            raise PspServerError(f"sandbox: the PSP answered 503 to capture {idempotency_key!r}")
        if terms.expires_at is not None and self._clock() >= terms.expires_at:
            result = CaptureResult(
                approved=False,
                psp_reference=_reference("cap"),
                decline_code="authorization_expired",
                decline_message="The card hold expired before it was captured.",
            )
        elif terms.captures_fail:
            result = CaptureResult(
                approved=False,
                psp_reference=_reference("cap"),
                decline_code="capture_failed",
                decline_message="The card issuer refused to capture the hold.",
            )
        else:
            left = self._left_of(authorization_reference)
            if left is not None and amount > left:
                raise HoldRefused(f"hold {authorization_reference} cannot give {amount}, it holds {left}")
            result = CaptureResult(approved=True, psp_reference=_reference("cap"))
        self._hold_answers[idempotency_key] = (request, result)
        self.captures.append(SandboxCapture(idempotency_key, authorization_reference, amount, result))
        self._send_later(
            "capture.succeeded" if result.approved else "capture.failed",
            {
                "authorization": authorization_reference,
                "capture": result.psp_reference,
                "amount": amount,
                "currency": currency,
            },
        )
        return result

    async def void(self, *, authorization_reference: str, amount: int, idempotency_key: str) -> VoidResult:
        if amount <= 0:
            raise ValueError(f"amount must be more than 0, not {amount}")
        request = ("void", authorization_reference, amount)
        replayed = self._replayed(idempotency_key, request, "void")
        if replayed is not None:
            return replayed  # type: ignore[no-any-return]
        if hold_terms(authorization_reference).flaky and self._attempt(idempotency_key) == 1:
            raise PspServerError(f"sandbox: the PSP answered 503 to void {idempotency_key!r}")
        left = self._left_of(authorization_reference)
        if left is not None and amount > left:
            raise HoldRefused(f"hold {authorization_reference} cannot release {amount}, it holds {left}")
        result = VoidResult(psp_reference=_reference("void"))
        self._hold_answers[idempotency_key] = (request, result)
        self.voids.append(SandboxVoid(idempotency_key, authorization_reference, amount, result))
        return result

    def _send_later(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Deliver a webhook after this call returns, again and again until it is answered 2xx (a capture is
        recorded once its transaction commits; until then payments answers 404), as a real PSP does."""
        if not self.webhooks.configured:
            return
        event_id, body = self.webhooks.event(event_type, data)
        task = asyncio.get_running_loop().create_task(self._deliver_until_heard(event_id, body))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def close(self) -> None:
        """Stop delivering webhooks still on their way (a test's sandbox, at its end)."""
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)

    async def _deliver_until_heard(self, event_id: str, body: bytes) -> None:
        for wait in self._webhook_retry_seconds:
            await asyncio.sleep(wait)
            try:
                delivery = await self.webhooks.deliver(event_id, body)
            except Exception as error:  # the receiver is down: a PSP tries again later
                log.warning("sandbox webhook %s not delivered: %s", event_id, error)
                continue
            if 200 <= delivery.status < 300:
                return
        log.warning(
            "sandbox webhook %s given up after %d attempts", event_id, len(self._webhook_retry_seconds)
        )

    async def expire_hold(
        self, *, authorization_reference: str, amount: int, currency: str
    ) -> WebhookDelivery:
        """The hold lapsed at the PSP: it says so with ``authorization.expired`` (``amount`` is what it still
        held, told by the caller: each process has its own sandbox)."""
        if not self.webhooks.configured:
            raise WebhooksNotConfigured("the sandbox needs a webhook URL and secret to deliver webhooks")
        event_id, body = self.webhooks.event(
            "authorization.expired",
            {"authorization": authorization_reference, "amount": amount, "currency": currency},
        )
        return await self.webhooks.deliver(event_id, body)
