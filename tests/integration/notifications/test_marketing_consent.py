"""Notifications honours the consent to marketing orders publishes for an account, against the real PostgreSQL,
RabbitMQ and an SMTP server: a win-back code goes as its own marketing email only to an address that consented
(with its unsubscribe link), is recorded as suppressed with why otherwise, while the cancellation email always
goes; a late or repeated consent event never undoes a newer choice."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import orders
from shop_contracts.values import Customer
from shop_notifications.bootstrap import DEFINITION
from shop_notifications.mailcatcher import MailCatcher
from shop_notifications.smtp import ORDER_ID_HEADER
from shop_notifications.tables import inbox, message_preferences
from shop_runtime.database import create_engine
from shop_runtime.settings import ServiceSettings
from tests.support import infra
from tests.support.messages import eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

STOREFRONT_URL = "https://shop.test"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Notifications:
    client: httpx.AsyncClient
    catcher: MailCatcher
    settings: ServiceSettings

    async def log_of(self, order_id: str) -> list[dict[str, Any]]:
        response = await self.client.get("/notifications", params={"order_id": order_id})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def settled(self, order_id: str, count: int) -> list[dict[str, Any]]:
        """The order's notifications once ``count`` of them left pending (sent, suppressed, ...)."""
        found: list[dict[str, Any]] = []

        async def done() -> None:
            items = await self.log_of(order_id)
            assert len(items) == count, items
            assert all(item["status"] != "pending" for item in items), items
            found[:] = items

        await eventually(done)
        return found

    def mails_about(self, order_id: str) -> list[EmailMessage]:
        found = []
        for path in self.catcher.messages():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if message[ORDER_ID_HEADER] == order_id:
                found.append(message)
        return found

    async def handled(self, message_id: uuid.UUID) -> bool:
        """Whether the worker took the message in (its inbox has it)."""
        engine = create_engine(self.settings)
        try:
            async with engine.connect() as connection:
                found = await connection.scalar(
                    sa.select(inbox.c.message_id).where(inbox.c.message_id == message_id)
                )
        finally:
            await engine.dispose()
        return found is not None

    async def marketing_choice(self, address: str) -> tuple[bool, datetime] | None:
        engine = create_engine(self.settings)
        try:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        sa.select(message_preferences.c.subscribed, message_preferences.c.changed_at).where(
                            message_preferences.c.email == address.lower(),
                            message_preferences.c.category == "marketing",
                        )
                    )
                ).first()
        finally:
            await engine.dispose()
        return None if row is None else (row.subscribed, row.changed_at)


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


@pytest.fixture
async def notifications(broker: AbstractRobustConnection, tmp_path: Path) -> AsyncIterator[Notifications]:
    port = _free_port()
    settings = infra.service_settings(
        DEFINITION, smtp_port=port, sender_poll_seconds=0.1, storefront_url=STOREFRONT_URL
    )
    catcher = await MailCatcher(tmp_path / "mail", port=port).start()
    try:
        async with running_service(DEFINITION, settings, broker) as service:
            yield Notifications(client=service.client, catcher=catcher, settings=settings)
    finally:
        await catcher.stop()


def _consent(address: str, consent: bool, at: datetime) -> orders.CustomerMarketingConsentChanged:
    return orders.CustomerMarketingConsentChanged(
        customer_id="cus-" + address, email=address, marketing_consent=consent, changed_at=at
    )


def _cancelled(order_id: str, address: str) -> orders.OrderCancelledV1:
    return orders.OrderCancelledV1(
        order_id=order_id,
        customer=Customer(email=address, locale="en"),
        reason="other",
        refund=21000,
        currency="KRW",
        cancelled_by="customer",
        discount_code="BACK-" + order_id[-6:].upper(),
        discount_percent=10,
        discount_expires_at=NOW + timedelta(days=30),
        offer=orders.WinBackOfferV1(
            kind="percent",
            code="BACK-" + order_id[-6:].upper(),
            percent_off=10,
            expires_at=NOW + timedelta(days=30),
        ),
        feedback_token="1796000000." + "ab" * 32,
    )


async def _recorded(notifications: Notifications, address: str, expected: tuple[bool, datetime]) -> None:
    async def kept() -> None:
        assert await notifications.marketing_choice(address) == expected

    await eventually(kept)


async def test_a_win_back_code_goes_only_to_an_address_whose_account_consented(
    notifications: Notifications, broker: AbstractRobustConnection
) -> None:
    consenting = f"Ann.{uuid.uuid4().hex[:8]}@Example.com"
    await send(broker, _consent(consenting, True, NOW), subject="cus-1")
    await _recorded(notifications, consenting, (True, NOW))
    order_id = f"ord-{uuid.uuid4().hex[:8]}"
    await send(broker, _cancelled(order_id, consenting), subject=order_id)
    log = await notifications.settled(order_id, 2)
    assert [(item["template"], item["status"]) for item in log] == [
        ("order_cancelled", "sent"),
        ("win_back_offer", "sent"),
    ]
    cancellation, offer = sorted(
        notifications.mails_about(order_id), key=lambda mail: "thank-you" in mail["Subject"]
    )
    assert cancellation["List-Unsubscribe"] is None  # transactional
    assert offer["List-Unsubscribe"] is not None  # marketing: it can be turned off
    body = offer.get_body(("plain",))
    assert body is not None
    assert "BACK-" in body.get_content()
    assert "10% off" in body.get_content()

    # An account without consent (told so at sign-up), and a guest orders never told about: the cancellation goes,
    # the code is recorded as suppressed, with why, and never sent.
    declined = f"bo.{uuid.uuid4().hex[:8]}@example.com"
    await send(broker, _consent(declined, False, NOW), subject="cus-2")
    await _recorded(notifications, declined, (False, NOW))
    for address, why in (
        (declined, "unsubscribed from marketing"),
        (f"guest.{uuid.uuid4().hex[:8]}@example.com", "no consent to marketing"),
    ):
        order_id = f"ord-{uuid.uuid4().hex[:8]}"
        await send(broker, _cancelled(order_id, address), subject=order_id)
        log = await notifications.settled(order_id, 2)
        assert [(item["template"], item["status"], item["suppressed_reason"]) for item in log] == [
            ("order_cancelled", "sent", None),
            ("win_back_offer", "suppressed", why),
        ]
        assert len(notifications.mails_about(order_id)) == 1


async def test_a_late_or_repeated_consent_event_never_undoes_a_newer_choice(
    notifications: Notifications, broker: AbstractRobustConnection
) -> None:
    address = f"cy.{uuid.uuid4().hex[:8]}@example.com"
    withdrawn = NOW + timedelta(minutes=5)
    await send(broker, _consent(address, False, withdrawn), subject="cus-3")
    await _recorded(notifications, address, (False, withdrawn))
    late = await send(broker, _consent(address, True, NOW), subject="cus-3")  # given earlier, arriving late
    again = await send(broker, _consent(address, False, withdrawn), subject="cus-3")  # the same again

    async def both_handled() -> None:
        assert await notifications.handled(late.id)
        assert await notifications.handled(again.id)

    await eventually(both_handled)
    assert await notifications.marketing_choice(address) == (False, withdrawn)
    given_again = withdrawn + timedelta(minutes=5)
    await send(broker, _consent(address, True, given_again), subject="cus-3")
    await _recorded(notifications, address, (True, given_again))
