"""A consumer of a message's new version still takes the versions it replaces: bound, upcast, handled once."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, ClassVar, Self, cast

import pytest

from shop_contracts import Envelope, Message, MessageKind, UnknownMessageType
from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_runtime.broker import Binding
from shop_runtime.consumer import Dispatcher, bindings_for
from shop_runtime.database import Database, UnitOfWork


class _FakeUnitOfWork:
    def __init__(self, inbox: set[uuid.UUID]) -> None:
        self._inbox = inbox
        self.committed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        return None

    async def claim_inbox(self, message_id: uuid.UUID, *, consumer: str, message_type: str) -> bool:
        if message_id in self._inbox:
            return False
        self._inbox.add(message_id)
        return True

    async def commit(self) -> None:
        self.committed = True


class _FakeDatabase:
    """Just what ``Dispatcher`` uses: a unit of work whose inbox remembers message ids."""

    def __init__(self) -> None:
        self.inbox: set[uuid.UUID] = set()

    def unit_of_work(self, causation: Envelope | None = None) -> _FakeUnitOfWork:
        return _FakeUnitOfWork(self.inbox)


def _dispatcher(subscriptions: dict[type[Message], Any]) -> Dispatcher:
    return Dispatcher(cast(Database, _FakeDatabase()), consumer="test", subscriptions=subscriptions)


def _envelope(message: Message) -> Envelope:
    return Envelope.wrap(message, subject="order-1", correlation_id="order-1")


async def test_an_old_version_is_handled_by_the_new_versions_handler_with_its_money() -> None:
    handled: list[Message] = []

    async def on_payment_succeeded(message: contracts.PaymentSucceeded, uow: UnitOfWork) -> None:
        handled.append(message)

    dispatcher = _dispatcher({contracts.PaymentSucceeded: on_payment_succeeded})
    old = contracts.PaymentSucceededV1(
        order_id="order-1",
        payment_id="pay-1",
        step="full",
        amount=1250,
        currency="USD",
        card_brand="visa",
        card_last4="4242",
        authorized_only=True,
    )

    assert await dispatcher.dispatch(_envelope(old))

    assert handled == [
        contracts.PaymentSucceeded(
            order_id="order-1",
            payment_id="pay-1",
            step="full",
            amount=Money(1250, "USD"),
            card_brand="visa",
            card_last4="4242",
            authorized_only=True,
        )
    ]
    assert handled[0].TYPE == "payments.payment.succeeded.v2"


async def test_the_new_version_is_handled_directly_and_each_message_once() -> None:
    handled: list[Message] = []

    async def on_refund_issued(message: contracts.RefundIssued, uow: UnitOfWork) -> None:
        handled.append(message)

    dispatcher = _dispatcher({contracts.RefundIssued: on_refund_issued})
    new = contracts.RefundIssued(
        order_id="order-1",
        refund_id="re-1",
        amount=Money(39_000, "KRW"),
        reason="cancelled",
        idempotency_key="cancel:order-1",
        voided=Money(9_000, "KRW"),
    )
    envelope = _envelope(new)

    assert await dispatcher.dispatch(envelope)
    assert not await dispatcher.dispatch(envelope)

    assert handled == [new]


def test_the_bindings_take_the_new_and_every_replaced_version() -> None:
    async def ignore(message: Message, uow: UnitOfWork) -> None:
        return None

    bindings = bindings_for({contracts.IssueRefund: ignore, contracts.PaymentMethodUpdated: ignore})

    assert bindings == [
        Binding("shop.commands", "payments.refund.issue.v2"),
        Binding("shop.commands", "payments.refund.issue.v1"),
        Binding("shop.events", "payments.payment_method.updated.v1"),
    ]
    dispatcher = _dispatcher({contracts.IssueRefund: ignore})
    assert sorted(dispatcher.message_types) == ["payments.refund.issue.v1", "payments.refund.issue.v2"]


class _NoteV1(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "test"
    EXCHANGE: ClassVar[str] = "shop.events"
    TYPE: ClassVar[str] = "test.note.written.v1"
    text: str


class _NoteV2(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "test"
    EXCHANGE: ClassVar[str] = "shop.events"
    TYPE: ClassVar[str] = "test.note.written.v2"
    REPLACES: ClassVar[type[Message] | None] = _NoteV1
    lines: list[str]

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        assert isinstance(previous, _NoteV1)
        return cls(lines=previous.text.splitlines())


class _NoteV3(Message):
    KIND: ClassVar[MessageKind] = MessageKind.EVENT
    SOURCE: ClassVar[str] = "test"
    EXCHANGE: ClassVar[str] = "shop.events"
    TYPE: ClassVar[str] = "test.note.written.v3"
    REPLACES: ClassVar[type[Message] | None] = _NoteV2
    lines: list[str]
    signed: bool

    @classmethod
    def from_previous(cls, previous: Message) -> Self:
        assert isinstance(previous, _NoteV2)
        return cls(lines=previous.lines, signed=False)


async def test_a_chain_of_versions_is_upcast_one_step_at_a_time() -> None:
    handled: list[Message] = []

    async def on_note(message: _NoteV3, uow: UnitOfWork) -> None:
        handled.append(message)

    dispatcher = _dispatcher({_NoteV3: on_note})

    assert await dispatcher.dispatch(_envelope(_NoteV1(text="first\nsecond")))
    assert await dispatcher.dispatch(_envelope(_NoteV2(lines=["third"])))
    assert await dispatcher.dispatch(_envelope(_NoteV3(lines=["fourth"], signed=True)))

    assert handled == [
        _NoteV3(lines=["first", "second"], signed=False),
        _NoteV3(lines=["third"], signed=False),
        _NoteV3(lines=["fourth"], signed=True),
    ]
    assert [binding.routing_key for binding in bindings_for({_NoteV3: on_note})] == [
        "test.note.written.v3",
        "test.note.written.v2",
        "test.note.written.v1",
    ]


async def test_a_type_no_subscription_replaces_is_still_unknown() -> None:
    async def ignore(message: Message, uow: UnitOfWork) -> None:
        return None

    dispatcher = _dispatcher({_NoteV2: ignore})

    with pytest.raises(UnknownMessageType):
        await dispatcher.dispatch(_envelope(_NoteV3(lines=[], signed=True)))
