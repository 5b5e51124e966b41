"""The envelope (CloudEvents-style attributes) and the base class of every message."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class MessageKind(enum.StrEnum):
    EVENT = "event"
    COMMAND = "command"


class Message(BaseModel):
    """A contract: a frozen model with a versioned type name and where it is routed.

    ``TYPE`` is the wire name (``<source>.<aggregate>.<fact or order>.v<N>``); it is also the routing key.
    A breaking change is a new class with a new version, never an edit of an existing one.
    """

    # Unknown fields are ignored, so a consumer keeps working when a producer adds an optional field.
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    KIND: ClassVar[MessageKind]
    SOURCE: ClassVar[str]
    EXCHANGE: ClassVar[str]

    def routing_key(self) -> str:
        """Where this message goes on ``EXCHANGE``: its type, unless a message routes by its content."""
        return self.TYPE


class Envelope(BaseModel):
    """What travels on the wire: attributes after CloudEvents 1.0 plus the message as ``data``.

    W3C trace context is not here: it travels in the AMQP headers (``traceparent``, ``tracestate``).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    source: str
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str
    correlation_id: str
    causation_id: str | None = None
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        message: Message,
        *,
        subject: str,
        correlation_id: str,
        causation_id: str | None = None,
    ) -> Envelope:
        return cls(
            type=message.TYPE,
            source=message.SOURCE,
            subject=subject,
            correlation_id=correlation_id,
            causation_id=causation_id,
            data=message.model_dump(mode="json"),
        )
