"""Staff low-stock alerts against the real PostgreSQL, RabbitMQ and an SMTP server: one email per alert to each
staff address, in the staff's language, once however often the alert arrives; none, recorded with why, when no
address is set."""

from __future__ import annotations

import email
import email.policy
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import catalog
from shop_notifications.bootstrap import DEFINITION
from shop_notifications.mailcatcher import MailCatcher
from shop_notifications.staff_emails import NO_STAFF_ADDRESS
from tests.integration.notifications.test_preferences import Notifications, _free_port
from tests.support import infra
from tests.support.messages import eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

STAFF = ("ops@shop.example", "buyer@shop.example")


async def _notifications(
    broker: AbstractRobustConnection, tmp_path: Path, addresses: tuple[str, ...]
) -> AsyncIterator[Notifications]:
    port = _free_port()
    settings = infra.service_settings(
        DEFINITION,
        smtp_port=port,
        sender_poll_seconds=0.1,
        staff_alert_emails=list(addresses),
        staff_locale="ko",
    )
    catcher = await MailCatcher(tmp_path / "mail", port=port).start()
    try:
        async with running_service(DEFINITION, settings, broker) as service:
            yield Notifications(client=service.client, catcher=catcher)
    finally:
        await catcher.stop()


@pytest.fixture
async def staffed(broker: AbstractRobustConnection, tmp_path: Path) -> AsyncIterator[Notifications]:
    async for notifications in _notifications(broker, tmp_path, STAFF):
        yield notifications


@pytest.fixture
async def unstaffed(broker: AbstractRobustConnection, tmp_path: Path) -> AsyncIterator[Notifications]:
    async for notifications in _notifications(broker, tmp_path, ()):
        yield notifications


def _alert(sku: str, number: int = 1) -> catalog.StockLow:
    return catalog.StockLow(
        sku=sku,
        title="Launch Tee",
        available=3,
        threshold=5,
        alert_number=number,
        locations=[
            catalog.LowStockLocation(location="seoul-1", on_hand=5, reserved=2, safety_stock=0, available=3)
        ],
    )


def _mails_to(notifications: Notifications, address: str) -> list[EmailMessage]:
    found = []
    for path in notifications.catcher.messages():
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if message["To"] == address:
            found.append(message)
    return found


async def test_an_alert_emails_each_staff_address_once_in_the_staff_language(
    staffed: Notifications, broker: AbstractRobustConnection
) -> None:
    sku = f"LOW-{uuid.uuid4().hex[:8].upper()}"
    alert = _alert(sku)
    first = await send(broker, alert, subject=sku)
    await send(broker, alert, subject=sku, message_id=first.id)  # redelivered
    await send(broker, alert, subject=sku)  # published again under a new id

    async def sent_to_both() -> None:
        items = await staffed.log_of(f"low_stock:{sku}")
        assert sorted(item["recipient"] for item in items) == sorted(STAFF), items
        assert {item["status"] for item in items} == {"sent"}, items

    await eventually(sent_to_both)
    for address in STAFF:
        [mail] = _mails_to(staffed, address)
        assert sku in str(mail["Subject"])
        assert "재고 부족" in str(mail["Subject"])
        body = mail.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        for shown in ("Launch Tee", "seoul-1", "3개"):
            assert shown in text
        assert "unsubscribe" not in text.lower()  # transactional: no preference links

    await send(broker, _alert(sku, number=2), subject=sku)  # the next crossing: told again

    async def second_alert() -> None:
        items = await staffed.log_of(f"low_stock:{sku}")
        assert len(items) == 4, items
        assert {item["status"] for item in items} == {"sent"}, items

    await eventually(second_alert)


async def test_without_a_staff_address_an_alert_is_recorded_unsent_with_why(
    unstaffed: Notifications, broker: AbstractRobustConnection
) -> None:
    sku = f"LOW-{uuid.uuid4().hex[:8].upper()}"
    await send(broker, _alert(sku), subject=sku)
    item = await unstaffed.status_of(f"low_stock:{sku}", "suppressed")
    assert item["suppressed_reason"] == NO_STAFF_ADDRESS
    assert item["template"] == "staff_low_stock"
    assert unstaffed.catcher.messages() == []
