"""The sender's SMTP connection against a real SMTP server (the mail catcher): one connection carries a stream of
mail, batch after batch; one the server ends is replaced without losing or repeating an email; one lost after the
server took a message but before it answered leaves that one email to be sent again, as SMTP's at-least-once
delivery allows, and no other.

The guarantee: every email reaches the server at least once. It reaches it twice only when the connection is lost
between the end of its DATA and the server's answer (or the worker dies between sending and recording the batch);
both copies carry the same Message-ID, which receiving systems use to drop the second.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from shop_contracts import Envelope, orders
from shop_contracts.values import Customer
from shop_notifications import consumers, tables
from shop_notifications.bootstrap import DEFINITION
from shop_notifications.delivery import OutgoingEmail, RetryPolicy
from shop_notifications.links import LinkSigning
from shop_notifications.mailcatcher import MailCatcher
from shop_notifications.sender import EmailSender
from shop_notifications.settings import NotificationsSettings
from shop_notifications.smtp import NOTIFICATION_ID_HEADER, SmtpMailer
from shop_runtime.consumer import Dispatcher
from shop_runtime.database import Database
from tests.support import infra
from tests.support.messages import eventually

pytestmark = pytest.mark.integration

SIGNING = LinkSigning(public_url="https://shop.test", valid_seconds=86_400)
RETRY_AT_ONCE = RetryPolicy(max_attempts=3, base_delay=timedelta(0), max_delay=timedelta(0))


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


@dataclass
class Mail:
    database: Database
    dispatcher: Dispatcher
    mailer: SmtpMailer
    catcher: MailCatcher

    def sender(self, *, idle_seconds: float = 10.0) -> EmailSender:
        return EmailSender(
            self.database,
            self.mailer,
            policy=RETRY_AT_ONCE,
            batch_size=10,
            poll_seconds=0.02,
            signing=SIGNING,
            idle_seconds=idle_seconds,
        )

    async def queue(self, count: int) -> list[str]:
        """Queue one email each for ``count`` new orders (their shipment); the orders' ids."""
        order_ids = [f"conn-{uuid.uuid4().hex[:8]}" for _ in range(count)]
        for order_id in order_ids:
            shipped = orders.OrderShipped(
                order_id=order_id,
                customer=Customer(email="ann@example.com", locale="en"),
                fulfillment_id="ful-1",
                carrier="CJ",
                tracking_number="T-1",
            )
            await self.dispatcher.dispatch(Envelope.wrap(shipped, subject=order_id, correlation_id=order_id))
        return order_ids

    def received(self) -> Counter[str]:
        """How many times the server took each email, by notification id."""
        taken: Counter[str] = Counter()
        for path in self.catcher.messages():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            taken[str(message[NOTIFICATION_ID_HEADER])] += 1
        return taken

    def message_ids(self, notification_id: str) -> list[str]:
        found = []
        for path in self.catcher.messages():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message[NOTIFICATION_ID_HEADER] == notification_id:
                found.append(str(message["Message-ID"]))
        return found

    async def log(self, order_ids: list[str]) -> dict[str, tuple[str, str, int]]:
        """(status, notification id, tries) of each order's email."""
        table = tables.notifications
        async with self.database.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(table.c.order_id, table.c.status, table.c.id, table.c.attempts).where(
                    table.c.order_id.in_(order_ids)
                )
            )
            return {row.order_id: (row.status, str(row.id), row.attempts) for row in rows}


@pytest.fixture
async def mail(tmp_path: Path) -> AsyncIterator[Mail]:
    port = _free_port()
    settings = infra.service_settings(DEFINITION, suffix="_smtp_connection", smtp_port=port)
    assert isinstance(settings, NotificationsSettings)
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    catcher = await MailCatcher(tmp_path / "mail", port=port).start()
    mailer = SmtpMailer(settings)
    try:
        yield Mail(
            database=database,
            dispatcher=Dispatcher(
                database,
                consumer="notifications",
                subscriptions=consumers.subscriptions(storefront_url="https://shop.test"),
            ),
            mailer=mailer,
            catcher=catcher,
        )
    finally:
        await mailer.close()
        await catcher.stop()
        await database.dispose()


async def test_a_stream_of_mail_goes_over_one_connection_batch_after_batch_each_email_once(
    mail: Mail,
) -> None:
    sender = mail.sender()
    first = await mail.queue(6)
    assert (await sender.send_batch()).sent == 6
    later = await mail.queue(4)
    assert (await sender.send_batch()).sent == 4

    assert mail.catcher.connections == 1
    assert mail.catcher.open_connections == 1  # kept for the mail still to come
    logged = await mail.log(first + later)
    assert sorted(status for status, _, _ in logged.values()) == ["sent"] * 10
    assert mail.received() == Counter({notification_id: 1 for _, notification_id, _ in logged.values()})

    await mail.mailer.close()
    await eventually(lambda: _closed(mail.catcher))


def _closed(catcher: MailCatcher) -> None:
    assert catcher.open_connections == 0


async def test_a_connection_the_server_ended_between_batches_is_replaced_and_nothing_is_tried_twice(
    mail: Mail,
) -> None:
    sender = mail.sender()
    first = await mail.queue(3)
    assert (await sender.send_batch()).sent == 3
    mail.catcher.disconnect()  # the server's idle timeout, say
    later = await mail.queue(3)
    assert (await sender.send_batch()).sent == 3

    assert mail.catcher.connections == 2
    logged = await mail.log(first + later)
    assert sorted(logged.values()) == sorted(
        ("sent", notification_id, 1) for _, notification_id, _ in logged.values()
    )
    assert mail.received() == Counter({notification_id: 1 for _, notification_id, _ in logged.values()})


@dataclass
class EndingTheConnectionAfter:
    """The real mailer, except that the server ends the connection right after it took the given number of
    emails, in the middle of a batch."""

    mailer: SmtpMailer
    catcher: MailCatcher
    after: int
    sent: int = 0

    async def send(self, outgoing: OutgoingEmail) -> None:
        await self.mailer.send(outgoing)
        self.sent += 1
        if self.sent == self.after:
            self.catcher.disconnect()

    async def close(self) -> None:
        await self.mailer.close()


async def test_a_connection_ended_in_the_middle_of_a_batch_is_replaced_and_each_email_arrives_once(
    mail: Mail,
) -> None:
    order_ids = await mail.queue(5)
    sender = EmailSender(
        mail.database,
        EndingTheConnectionAfter(mail.mailer, mail.catcher, after=2),
        policy=RETRY_AT_ONCE,
        batch_size=10,
        poll_seconds=0.02,
        signing=SIGNING,
    )
    assert (await sender.send_batch()).sent == 5

    assert mail.catcher.connections == 2
    logged = await mail.log(order_ids)
    assert [tries for _, _, tries in logged.values()] == [1] * 5
    assert mail.received() == Counter({notification_id: 1 for _, notification_id, _ in logged.values()})


async def test_a_connection_lost_before_the_server_answered_an_email_sends_that_one_again_and_no_other(
    mail: Mail,
) -> None:
    """The server took the third email of the batch and hung up before saying so: the sender cannot know, so it
    retries that email (at least once), and sends the rest of the batch over a new connection."""
    order_ids = await mail.queue(5)
    mail.catcher.hang_up_after(2)
    sender = mail.sender()

    outcome = await sender.send_batch()
    assert (outcome.sent, outcome.retried) == (4, 1)
    assert mail.catcher.connections == 2
    [(unanswered_order, (_, unanswered, _))] = [
        (order_id, entry) for order_id, entry in (await mail.log(order_ids)).items() if entry[0] == "pending"
    ]

    async def all_sent() -> None:
        await sender.send_batch()
        assert [status for status, _, _ in (await mail.log(order_ids)).values()] == ["sent"] * 5

    await eventually(all_sent)
    logged = await mail.log(order_ids)
    assert logged[unanswered_order] == ("sent", unanswered, 2)
    assert mail.received() == Counter(
        {
            notification_id: 2 if notification_id == unanswered else 1
            for _, notification_id, _ in logged.values()
        }
    )
    # Both copies are one message to a receiving system that drops a Message-ID it already delivered.
    [first_copy, second_copy] = mail.message_ids(unanswered)
    assert first_copy == second_copy


async def test_the_sender_closes_its_connection_once_no_mail_came_for_a_while_and_opens_one_when_mail_comes(
    mail: Mail,
) -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(mail.sender(idle_seconds=0.3).run(stop))
    try:
        first = await mail.queue(2)

        async def delivered_and_let_go() -> None:
            assert len(mail.received()) == 2
            assert mail.catcher.open_connections == 0

        await eventually(delivered_and_let_go)
        later = await mail.queue(2)

        async def delivered() -> None:
            assert len(mail.received()) == 4

        await eventually(delivered)
    finally:
        stop.set()
        await running
    assert mail.catcher.connections == 2
    logged = await mail.log(first + later)
    assert mail.received() == Counter({notification_id: 1 for _, notification_id, _ in logged.values()})
    await eventually(lambda: _closed(mail.catcher))  # the loop said QUIT as it stopped
