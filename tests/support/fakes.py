"""Fakes for handler tests that touch no database (cosmicpython's FakeUnitOfWork, for this runtime).

``FakeUnitOfWork`` is the runtime's own unit of work, never entered: ``publish`` works as in production (the
envelope, the trace headers) and each message is also kept in ``published``; ``session`` fails, so a handler
under test must reach storage through the repository it is given. Each service's fake repository lives next
to its handler tests.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import sqlalchemy as sa

from shop_contracts import Envelope, Message
from shop_runtime.database import UnitOfWork
from shop_runtime.messaging_tables import add_messaging_tables

_OUTBOX, _INBOX = add_messaging_tables(sa.MetaData())
M = TypeVar("M", bound=Message)


class FakeUnitOfWork(UnitOfWork):
    def __init__(self) -> None:
        super().__init__(cast(Any, None), outbox=_OUTBOX, inbox=_INBOX)
        self.published: list[Message] = []

    def publish(self, message: Message, *, subject: str, correlation_id: str | None = None) -> Envelope:
        self.published.append(message)
        return super().publish(message, subject=subject, correlation_id=correlation_id)

    def of_type(self, message_type: type[M]) -> list[M]:
        """What was published of ``message_type``, in order."""
        return [message for message in self.published if isinstance(message, message_type)]
