"""The worker's sender loop: sends due emails in small batches until the worker stops."""

from __future__ import annotations

import asyncio
import logging

from shop_notifications import handlers
from shop_notifications.delivery import Mailer, RetryPolicy
from shop_notifications.links import LinkSigning
from shop_runtime.clock import Clock, SystemClock
from shop_runtime.database import Database

log = logging.getLogger(__name__)


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
    ) -> None:
        self._database = database
        self._mailer = mailer
        self._policy = policy
        self._signing = signing
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds

    async def run(self, stop: asyncio.Event) -> None:
        """Send batch after batch while there is due mail, otherwise poll; return once ``stop`` is set."""
        while not stop.is_set():
            try:
                outcome = await self.send_batch()
                busy = outcome.claimed >= self._batch_size
            except Exception:
                log.exception("email sender batch failed; retrying")
                busy = False
            if not busy:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self._poll_seconds)
                except TimeoutError:
                    pass

    async def send_batch(self) -> handlers.SendOutcome:
        """Send one batch in one unit of work and commit it: the sender's edge, as the dispatcher is a message's.

        One commit for the batch, after every email in it was tried: the rows stay locked while they are sent,
        and what each try did (sent, retried, failed) is committed together.
        """
        async with self._database.unit_of_work() as uow:
            outcome = await handlers.send_due_emails(
                uow,
                mailer=self._mailer,
                policy=self._policy,
                limit=self._batch_size,
                signing=self._signing,
                now=self._clock.now(),
            )
            await uow.commit()
        return outcome
