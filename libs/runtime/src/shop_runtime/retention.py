"""Keeping the outbox and the inbox from growing for ever: rows neither needs any more are deleted in batches.

An outbox row is needed until the broker confirmed it (``published_at``); it is kept ``retention`` longer for
operators (``shop-ops order`` reads an order's trace from it). An inbox claim is what makes a redelivered
message a duplicate; redeliveries come within minutes (a broker reconnect, a relay that died before marking
its batch), so a claim older than ``retention`` has nothing left to catch. A parked message was never
claimed (its unit of work rolled back), so replaying it later still runs it once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from shop_runtime.database import Database
from shop_runtime.metrics import MESSAGES_PRUNED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    outbox: int
    inbox: int


class MessageRetention:
    def __init__(
        self,
        database: Database,
        *,
        retention: timedelta,
        batch_size: int,
        interval_seconds: float,
        service: str = "unnamed",
    ) -> None:
        self._database = database
        self._retention = retention
        self._batch_size = batch_size
        self._interval_seconds = interval_seconds
        self._service = service

    async def prune(self) -> Pruned:
        """Delete every row past retention, one short transaction per batch (no long lock on either table).

        Ages are the database's own time (the rows' stamps are too), not the service clock a test may move."""
        outbox = await self._prune_all(self._outbox_batch)
        inbox = await self._prune_all(self._inbox_batch)
        MESSAGES_PRUNED.labels(self._service, "outbox").inc(outbox)
        MESSAGES_PRUNED.labels(self._service, "inbox").inc(inbox)
        return Pruned(outbox=outbox, inbox=inbox)

    async def run(self, stop: asyncio.Event) -> None:
        """Prune every interval, the first time one interval after start (a restart adds no work)."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._interval_seconds)
                return
            except TimeoutError:
                pass
            try:
                pruned = await self.prune()
                if pruned.outbox or pruned.inbox:
                    log.info("pruned %d outbox and %d inbox rows", pruned.outbox, pruned.inbox)
            except Exception:
                log.exception("pruning the outbox and inbox failed; trying again later")

    async def _prune_all(self, batch: sa.Delete) -> int:
        total = 0
        while True:
            async with self._database.engine.begin() as connection:
                deleted = (await connection.execute(batch)).rowcount
            total += deleted
            if deleted < self._batch_size:
                return total

    @property
    def _cutoff(self) -> sa.ColumnElement[datetime]:
        return sa.func.now() - sa.func.make_interval(0, 0, 0, 0, 0, 0, self._retention.total_seconds())

    @property
    def _outbox_batch(self) -> sa.Delete:
        outbox = self._database.outbox
        oldest = (
            sa.select(outbox.c.id)
            .where(outbox.c.published_at < self._cutoff)
            .order_by(outbox.c.id)
            .limit(self._batch_size)
        )
        return sa.delete(outbox).where(outbox.c.id.in_(oldest.scalar_subquery()))

    @property
    def _inbox_batch(self) -> sa.Delete:
        inbox = self._database.inbox
        key = sa.tuple_(inbox.c.consumer, inbox.c.message_id)
        old = (
            sa.select(inbox.c.consumer, inbox.c.message_id)
            .where(inbox.c.processed_at < self._cutoff)
            .limit(self._batch_size)
        )
        return sa.delete(inbox).where(key.in_(old))
