"""The envelope (CloudEvents-style attributes) and the base class of every message."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class MessageKind(enum.StrEnum):
    EVENT = "event"
    COMMAND = "command"


class Message(BaseModel):
    """A contract: a frozen model with a versioned type name and where it is routed.

    ``TYPE`` is the wire name (``<source>.<aggregate>.<fact or order>.v<N>``); it is also the routing key.
    A breaking change is a new class with a new version, never an edit of an existing one. The new class
    names the class it replaces in ``REPLACES`` and turns one of those into itself in ``from_previous``, so
    a consumer of the new version also takes the old one (still in queues, outboxes and parking queues
    when the new version is deployed) and its handler sees only the new class.
    """

    # Unknown fields are ignored, so a consumer keeps working when a producer adds an optional field.
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    KIND: ClassVar[MessageKind]
    SOURCE: ClassVar[str]
    EXCHANGE: ClassVar[str]
    REPLACES: ClassVar[type[Message] | None] = None
    """The previous version of this message, which ``from_previous`` turns into this one; None for a first."""

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        """This message from one of the version it replaces (an instance of ``REPLACES``), meaning the same."""
        raise NotImplementedError(f"{cls.__name__} replaces no earlier version")

    @classmethod
    def replaced_versions(cls) -> list[type[Message]]:
        """Every earlier version of this message, newest first (``REPLACES``, what that replaces, ...)."""
        versions: list[type[Message]] = []
        replaced = cls.REPLACES
        while replaced is not None:
            if replaced is cls or replaced in versions:
                raise TypeError(f"{cls.__name__}'s versions replace each other in a loop")
            versions.append(replaced)
            replaced = replaced.REPLACES
        return versions

    @classmethod
    def upcast(cls, message: Message) -> Self:
        """``message``, this class or any version it replaces, as this class: one ``from_previous`` a step."""
        if isinstance(message, cls):
            return message
        if cls.REPLACES is None:
            raise TypeError(f"{type(message).__name__} is not a version of {cls.__name__}")
        return cls.from_previous(cls.REPLACES.upcast(message))

    def routing_key(self) -> str:
        """Where this message goes on ``EXCHANGE``: its type, unless a message routes by its content."""
        return self.TYPE


_Version = TypeVar("_Version", bound=Message)


def as_version(message: Message, version: type[_Version]) -> _Version:
    """``message``, which a ``from_previous`` of ``version``'s successor takes, as a ``version``; else TypeError."""
    if not isinstance(message, version):
        raise TypeError(f"expected a {version.__name__}, not a {type(message).__name__}")
    return message


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
