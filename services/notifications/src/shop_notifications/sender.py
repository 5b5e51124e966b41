"""Sending due emails: the use case that sends one batch (preferences checked, preference links added, each
outcome recorded) and the worker's loop that runs it in small batches until the worker stops."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind

from shop_contracts.notifications import NotificationSent
from shop_notifications import preferences, repository
from shop_notifications.delivery import DeliveryFailed, Mailer, Outcome, OutgoingEmail, RetryPolicy
from shop_notifications.domain import (
    EMAIL,
    TRANSACTIONAL,
    Category,
    category_of,
    normalise_email,
    suppression_reason,
)
from shop_notifications.links import LinkSigning, preference_links
from shop_notifications.rendering import with_preference_links
from shop_runtime.clock import Clock, SystemClock
from shop_runtime.database import Database, UnitOfWork

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)


class EmailSender:
    def __init__(
        self,
        database: Database,
        mailer: Mailer,
        *,
        policy: RetryPolicy,
        batch_size: int,
        poll_seconds: float,
        signing: LinkSigning,
        clock: Clock | None = None,
        idle_seconds: float = 10.0,
    ) -> None:
        self._database = database
        self._mailer = mailer
        self._policy = policy
        self._signing = signing
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._idle_seconds = idle_seconds

    async def run(self, stop: asyncio.Event) -> None:
        """Send batch after batch while there is due mail, otherwise poll; return once ``stop`` is set.

        The mailer's connection stays open while mail keeps coming, and is closed once none was due for
        ``idle_seconds``, and when the loop ends."""
        last_sent = time.monotonic()
        try:
            while not stop.is_set():
                try:
                    outcome = await self.send_batch()
                    busy = outcome.claimed >= self._batch_size
                except Exception:
                    log.exception("email sender batch failed; retrying")
                    outcome, busy = SendOutcome(), False
                if outcome.claimed:
                    last_sent = time.monotonic()
                elif time.monotonic() - last_sent >= self._idle_seconds:
                    await self._mailer.close()
                if not busy:
                    try:
                        await asyncio.wait_for(stop.wait(), timeout=self._poll_seconds)
                    except TimeoutError:
                        pass
        finally:
            await self._mailer.close()

    async def send_batch(self) -> SendOutcome:
        """Send one batch in one unit of work and commit it: the sender's edge, as the dispatcher is a message's.

        One commit for the batch, after every email in it was tried: the rows stay locked while they are sent,
        and what each try did (sent, retried, failed) is committed together.
        """
        async with self._database.unit_of_work() as uow:
            outcome = await send_due_emails(
                uow,
                mailer=self._mailer,
                policy=self._policy,
                limit=self._batch_size,
                signing=self._signing,
                now=self._clock.now(),
            )
            await uow.commit()
        return outcome


@dataclass(frozen=True)
class SendOutcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0

    @property
    def claimed(self) -> int:
        return self.sent + self.retried + self.failed + self.suppressed


async def send_due_emails(
    uow: UnitOfWork,
    *,
    mailer: Mailer,
    policy: RetryPolicy,
    limit: int,
    signing: LinkSigning,
    now: datetime,
) -> SendOutcome:
    """Send a small batch of due emails; each sent one is logged and announced, each failed one retried later,
    and each its recipient's preferences keep back is recorded as suppressed, with why, and never sent.

    Preferences are read as the batch goes out, so an unsubscribe also holds back what was queued before it.
    The rows stay locked (``FOR UPDATE SKIP LOCKED``) while they are sent, so two senders never send the
    same email; a crash after sending and before the commit sends it again (at least once). What happened to
    each email is recorded in one statement for the batch.
    """
    claimed = await repository.claim_due_emails(uow.session, limit=limit)
    if not claimed:
        return SendOutcome()
    optional = {
        normalise_email(email.recipient)
        for email, _, _ in claimed
        if category_of(email.template) != TRANSACTIONAL
    }
    choices = await repository.preferences_of_addresses(uow.session, optional) if optional else {}
    secret = (await preferences.link_secrets(uow))[0] if optional else ""
    outcomes: list[Outcome] = []
    for email, attempts, trace_context in claimed:
        with tracer.start_as_current_span(
            "email send", context=propagate.extract(trace_context), kind=SpanKind.CLIENT
        ) as span:
            span.set_attribute("shop.correlation_id", email.order_id)
            category = category_of(email.template)
            if category == TRANSACTIONAL:
                outcome = await _send_one(uow, email, attempts, mailer=mailer, policy=policy)
            else:
                address = normalise_email(email.recipient)
                outcome = await _send_if_wanted(
                    uow,
                    email,
                    attempts,
                    category,
                    choices.get(address, {}).get(category),
                    mailer=mailer,
                    policy=policy,
                    signing=signing,
                    secret=secret,
                    now=now,
                )
        outcomes.append(outcome)
    await repository.record_outcomes(uow.session, outcomes)
    counts = {"sent": 0, "retried": 0, "failed": 0, "suppressed": 0}
    for outcome in outcomes:
        counts[outcome.kind] += 1
    return SendOutcome(**counts)


async def _send_if_wanted(
    uow: UnitOfWork,
    email: OutgoingEmail,
    attempts: int,
    category: Category,
    subscribed: bool | None,
    *,
    mailer: Mailer,
    policy: RetryPolicy,
    signing: LinkSigning,
    secret: str,
    now: datetime,
) -> Outcome:
    """Send an email of a category its recipient may turn off, with its preference links, unless turned off
    (``subscribed`` is the recipient's recorded choice, None when they never chose)."""
    reason = suppression_reason(category, subscribed)
    if reason is not None:
        log.info("email %s is not sent: %s", email.notification_id, reason)
        return Outcome.suppressed(email.notification_id, reason=reason)
    links = preference_links(
        signing.public_url,
        normalise_email(email.recipient),
        category,
        secret=secret,
        issued_at=int(now.timestamp()),
        api_url=signing.api_url,
        locale=email.locale,
    )
    return await _send_one(
        uow, with_preference_links(email, category, links), attempts, mailer=mailer, policy=policy
    )


async def _send_one(
    uow: UnitOfWork, email: OutgoingEmail, attempts: int, *, mailer: Mailer, policy: RetryPolicy
) -> Outcome:
    """Send one claimed email and say what happened: sent (and announced), retried later, or failed.

    Any error of this one email is its outcome: raised, it would roll back the whole batch, and the emails
    already sent in it would go again at the next batch, and again at every one after.
    """
    try:
        await mailer.send(email)
    except DeliveryFailed as error:
        return _failure(email, attempts, error, policy=policy)
    except Exception as error:
        log.exception("email %s could not be handed to the mail server", email.notification_id)
        return _failure(email, attempts, DeliveryFailed(f"{type(error).__name__}: {error}"), policy=policy)
    uow.publish(
        NotificationSent(
            notification_id=email.notification_id,
            order_id=email.order_id,
            template=email.template,
            channel=EMAIL,
            recipient=email.recipient,
        ),
        subject=email.order_id,
        correlation_id=email.order_id,
    )
    return Outcome.sent(email.notification_id)


def _failure(email: OutgoingEmail, attempts: int, error: DeliveryFailed, *, policy: RetryPolicy) -> Outcome:
    delay = policy.after_failure(attempts=attempts + 1, permanent=error.permanent)
    if delay is None:
        log.error("email %s failed for good after %d tries: %s", email.notification_id, attempts + 1, error)
        return Outcome.failed(email.notification_id, error=str(error))
    log.warning("email %s not sent (%s); retrying in %s", email.notification_id, error, delay)
    return Outcome.retried(email.notification_id, error=str(error), delay=delay)
