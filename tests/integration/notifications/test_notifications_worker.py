"""Notifications against the real PostgreSQL, RabbitMQ and an SMTP server (the mail catcher, in process)."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import Envelope, orders
from shop_contracts.notifications import NotificationSent
from shop_contracts.values import Address, Customer, PricedLine
from shop_notifications import handlers
from shop_notifications.bootstrap import DEFINITION
from shop_notifications.domain import Recipient
from shop_notifications.mailcatcher import MailCatcher
from shop_notifications.smtp import ORDER_ID_HEADER, TEMPLATE_HEADER
from shop_runtime.worker import Worker
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


@dataclass
class Notifications:
    client: httpx.AsyncClient
    worker: Worker
    catcher: MailCatcher

    async def log_of(self, order_id: str) -> list[dict[str, Any]]:
        response = await self.client.get("/notifications", params={"order_id": order_id})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def mails_about(self, order_id: str, template: str | None = None) -> list[EmailMessage]:
        found = []
        for path in self.catcher.messages():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if message[ORDER_ID_HEADER] == order_id and template in (None, message[TEMPLATE_HEADER]):
                found.append(message)
        return found


def _text(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


@pytest.fixture
async def notifications(broker: AbstractRobustConnection, tmp_path: Path) -> AsyncIterator[Notifications]:
    port = _free_port()
    settings = infra.service_settings(
        DEFINITION,
        smtp_port=port,
        sender_poll_seconds=0.1,
        sender_retry_base_seconds=0.2,
        sender_retry_max_seconds=0.5,
        sender_max_attempts=50,
    )
    catcher = await MailCatcher(tmp_path / "mail", port=port).start()
    try:
        async with running_service(DEFINITION, settings, broker) as service:
            yield Notifications(client=service.client, worker=service.worker, catcher=catcher)
    finally:
        await catcher.stop()


def _confirmed(order_id: str, locale: str) -> orders.OrderConfirmed:
    return orders.OrderConfirmed(
        order_id=order_id,
        customer=Customer(email="minji@example.com", locale="ko" if locale == "ko" else "en"),
        currency="KRW",
        lines=[PricedLine(sku="TEE-M", title="런칭 티셔츠", quantity=2, unit_price=18000, line_total=36000)],
        subtotal=36000,
        shipping=3000,
        total=39000,
        shipping_address=Address(
            name="김민지",
            line1="테헤란로 152",
            city="강남구",
            region="서울특별시",
            postal_code="06236",
            country="KR",
        ),
    )


def _shipped(order_id: str) -> orders.OrderShipped:
    return orders.OrderShipped(
        order_id=order_id,
        customer=Customer(email="ann@example.com", locale="en"),
        fulfillment_id="ful-1",
        carrier="CJ Logistics",
        tracking_number="6801-2345-6789",
    )


async def test_an_order_confirmed_in_korean_is_emailed_once_in_korean_with_the_total(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    await send(broker, _confirmed("ord-ko", "ko"), subject="ord-ko")

    def one_mail() -> None:
        assert len(notifications.mails_about("ord-ko")) == 1

    await eventually(one_mail)
    [mail] = notifications.mails_about("ord-ko")
    assert mail["To"] == "minji@example.com"
    assert mail["Subject"] == "[Shop] 주문이 확인되었습니다 (주문번호 ord-ko)"
    assert "총 결제 금액: 39,000원" in _text(mail)
    assert mail.get_body(("html",)) is not None

    sent = await probe.wait_for(NotificationSent, lambda m: m.order_id == "ord-ko")
    assert (sent.template, sent.channel, sent.recipient) == ("order_confirmed", "email", "minji@example.com")
    [logged] = await notifications.log_of("ord-ko")
    assert logged["id"] == sent.notification_id
    assert (logged["status"], logged["attempts"], logged["locale"]) == ("sent", 1, "ko")
    assert logged["sent_at"] is not None


async def test_an_order_shipped_in_english_carries_the_tracking_number(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    await send(broker, _shipped("ord-en"), subject="ord-en")
    await probe.wait_for(NotificationSent, lambda m: m.order_id == "ord-en")
    [mail] = notifications.mails_about("ord-en")
    assert mail["Subject"] == "[Shop] Your order ord-en has shipped"
    assert "Tracking number: 6801-2345-6789" in _text(mail)
    assert "Carrier: CJ Logistics" in _text(mail)


async def test_a_rejected_order_is_emailed_with_its_reason(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    rejected = orders.OrderRejected(
        order_id="ord-rej",
        customer=Customer(email="ann@example.com", locale="en"),
        reason="payment_declined",
        detail="card_declined",
    )
    await send(broker, rejected, subject="ord-rej")
    await probe.wait_for(NotificationSent, lambda m: m.order_id == "ord-rej")
    [mail] = notifications.mails_about("ord-rej", "order_rejected")
    assert "The charge was not taken" in _text(mail)


async def test_the_same_event_delivered_twice_is_emailed_once(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    message_id = uuid.uuid4()
    event = _confirmed("ord-dup", "en")
    await send(broker, event, subject="ord-dup", message_id=message_id)
    await send(broker, event, subject="ord-dup", message_id=message_id)
    # A later event for the same order: once its email is out, both copies above have been handled.
    delivered = orders.OrderDelivered(
        order_id="ord-dup", customer=Customer(email="minji@example.com", locale="en"), fulfillment_id="ful-1"
    )
    await send(broker, delivered, subject="ord-dup")
    await probe.wait_for(
        NotificationSent, lambda m: m.order_id == "ord-dup" and m.template == "order_delivered"
    )
    await probe.wait_for(
        NotificationSent, lambda m: m.order_id == "ord-dup" and m.template == "order_confirmed"
    )

    assert len(notifications.mails_about("ord-dup", "order_confirmed")) == 1
    assert [item["template"] for item in await notifications.log_of("ord-dup")] == [
        "order_confirmed",
        "order_delivered",
    ]
    confirmed_sent = [
        m
        for m in probe.of_type(NotificationSent)
        if m.template == "order_confirmed" and m.order_id == "ord-dup"
    ]
    assert len(confirmed_sent) == 1


async def test_the_handler_itself_queues_one_email_per_source_message(notifications: Notifications) -> None:
    causation = Envelope.wrap(_shipped("ord-twice"), subject="ord-twice", correlation_id="ord-twice")
    for _ in range(2):
        async with notifications.worker.database.unit_of_work(causation=causation) as uow:
            await handlers.notify_order_shipped(
                uow,
                order_id="ord-twice",
                recipient=Recipient(email="ann@example.com", locale="en"),
                carrier="CJ Logistics",
                tracking_number="T-1",
            )
    assert len(await notifications.log_of("ord-twice")) == 1


async def test_while_the_mail_server_is_down_the_email_waits_and_is_sent_when_it_is_back(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    await notifications.catcher.stop()
    await send(broker, _shipped("ord-down"), subject="ord-down")

    async def tried_and_waiting() -> None:
        items = await notifications.log_of("ord-down")
        assert len(items) == 1  # an AssertionError, so eventually keeps polling until the event is handled
        [item] = items
        assert item["status"] == "pending"
        assert item["attempts"] >= 2
        assert item["last_error"]

    await eventually(tried_and_waiting)
    assert notifications.mails_about("ord-down") == []

    await notifications.catcher.start()
    await probe.wait_for(NotificationSent, lambda m: m.order_id == "ord-down")
    assert len(notifications.mails_about("ord-down")) == 1
    [item] = await notifications.log_of("ord-down")
    assert item["status"] == "sent"


async def test_an_email_that_never_gets_through_is_marked_failed(
    test_vhost: str, tmp_path: Path, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    settings = infra.service_settings(
        DEFINITION,
        smtp_port=_free_port(),
        sender_poll_seconds=0.1,
        sender_retry_base_seconds=0.05,
        sender_max_attempts=2,
    )
    await infra.fresh_database(DEFINITION, settings)
    app = DEFINITION.create_app(settings)
    worker = Worker(DEFINITION, settings)
    assert await worker.start()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n") as client,
        ):
            await send(broker, _shipped("ord-fail"), subject="ord-fail")

            async def failed() -> None:
                items = (await client.get("/notifications", params={"order_id": "ord-fail"})).json()["items"]
                assert [(item["status"], item["attempts"]) for item in items] == [("failed", 2)]

            await eventually(failed)
    finally:
        await worker.stop()
    assert [m for m in probe.of_type(NotificationSent) if m.order_id == "ord-fail"] == []


async def test_the_log_needs_an_order_id(notifications: Notifications) -> None:
    response = await notifications.client.get("/notifications")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
