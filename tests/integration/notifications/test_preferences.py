"""Notifications honours message preferences against the real PostgreSQL, RabbitMQ and an SMTP server: the links and
headers of a non-transactional email, one-click unsubscribe, a suppressed email recorded with why and never sent,
transactional email sent whatever the preferences, and preferences read and changed with a link's token."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import catalog, orders
from shop_contracts.values import Address, Customer, PricedLineV1
from shop_notifications.bootstrap import DEFINITION
from shop_notifications.mailcatcher import MailCatcher
from shop_notifications.smtp import ORDER_ID_HEADER
from tests.support import infra
from tests.support.messages import eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

STOREFRONT_URL = "https://shop.test"


def _free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


@dataclass
class Notifications:
    client: httpx.AsyncClient
    catcher: MailCatcher

    async def log_of(self, reference: str) -> list[dict[str, Any]]:
        response = await self.client.get("/notifications", params={"order_id": reference})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def mails_about(self, reference: str) -> list[EmailMessage]:
        found = []
        for path in self.catcher.messages():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            if message[ORDER_ID_HEADER] == reference:
                found.append(message)
        return found

    async def the_mail_about(self, reference: str) -> EmailMessage:
        async def one_mail() -> None:
            assert len(self.mails_about(reference)) == 1

        await eventually(one_mail)
        [mail] = self.mails_about(reference)
        return mail

    async def status_of(self, reference: str, status: str) -> dict[str, Any]:
        """The only notification of ``reference`` once it reaches ``status``."""
        found: list[dict[str, Any]] = []

        async def reached() -> None:
            items = await self.log_of(reference)
            assert [item["status"] for item in items] == [status], items
            found[:] = items

        await eventually(reached)
        return found[0]


@pytest.fixture
async def notifications(broker: AbstractRobustConnection, tmp_path: Path) -> AsyncIterator[Notifications]:
    port = _free_port()
    settings = infra.service_settings(
        DEFINITION,
        smtp_port=port,
        sender_poll_seconds=0.1,
        storefront_url=STOREFRONT_URL,
        gateway_url=STOREFRONT_URL,
    )
    catcher = await MailCatcher(tmp_path / "mail", port=port).start()
    try:
        async with running_service(DEFINITION, settings, broker) as service:
            yield Notifications(client=service.client, catcher=catcher)
    finally:
        await catcher.stop()


def _waitlist(
    address: str, kind: Literal["back_in_stock", "preorder_open"] = "back_in_stock"
) -> tuple[str, catalog.WaitlistNotification]:
    entry_id = str(uuid.uuid4())
    event = catalog.WaitlistNotification(
        waitlist_entry_id=entry_id,
        kind=kind,
        sku="TEE-M",
        product_id="prod-1",
        title="Launch Tee",
        customer=Customer(email=address, locale="en"),
    )
    return f"waitlist:{entry_id}", event


def _confirmed(order_id: str, address: str) -> orders.OrderConfirmedV1:
    return orders.OrderConfirmedV1(
        order_id=order_id,
        customer=Customer(email=address, locale="en"),
        currency="KRW",
        lines=[PricedLineV1(sku="TEE-M", title="Launch Tee", quantity=1, unit_price=18000, line_total=18000)],
        subtotal=18000,
        shipping=3000,
        total=21000,
        shipping_address=Address(
            name="Ann", line1="1 Main St", city="Seoul", postal_code="06236", country="KR"
        ),
    )


def _token(link: str) -> str:
    [token] = parse_qs(urlsplit(link).query)["token"]
    return token


def _links(mail: EmailMessage) -> tuple[str, str]:
    """The one-click link of ``mail``'s List-Unsubscribe header, and the preferences link in its text."""
    one_click = str(mail["List-Unsubscribe"]).strip("<>")
    body = mail.get_body(("plain",))
    assert body is not None
    [preferences] = [line for line in body.get_content().splitlines() if "/preferences?token=" in line]
    return one_click, preferences.strip()


async def test_an_unsubscribed_address_gets_no_more_of_that_category_but_still_its_transactional_email(
    notifications: Notifications, broker: AbstractRobustConnection
) -> None:
    address = f"Ann.{uuid.uuid4().hex[:8]}@Example.com"
    first, event = _waitlist(address)
    await send(broker, event, subject="TEE-M")
    mail = await notifications.the_mail_about(first)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    one_click, _ = _links(mail)
    assert one_click.startswith(f"{STOREFRONT_URL}/v1/unsubscribe?token=")

    for _ in range(2):  # unsubscribing again is the same
        unsubscribed = await notifications.client.post("/unsubscribe", params={"token": _token(one_click)})
        assert unsubscribed.status_code == 200, unsubscribed.text
        assert unsubscribed.json() == {"email": address.lower(), "category": "waitlist", "subscribed": False}

    second, event = _waitlist(address.upper())  # the same address in another case: the same preferences
    await send(broker, event, subject="TEE-M")
    suppressed = await notifications.status_of(second, "suppressed")
    assert suppressed["suppressed_reason"] == "unsubscribed from waitlist"
    assert suppressed["sent_at"] is None

    # Pre-order news is another category: still sent. Order email is transactional: always sent, no headers.
    opened, event = _waitlist(address, "preorder_open")
    await send(broker, event, subject="TEE-M")
    assert (await notifications.the_mail_about(opened))["List-Unsubscribe"] is not None
    order_id = f"ord-{uuid.uuid4().hex[:8]}"
    await send(broker, _confirmed(order_id, address), subject=order_id)
    confirmation = await notifications.the_mail_about(order_id)
    assert confirmation["List-Unsubscribe"] is None
    assert notifications.mails_about(second) == []


async def test_preferences_are_read_and_changed_with_the_preferences_link(
    notifications: Notifications, broker: AbstractRobustConnection
) -> None:
    address = f"bo.{uuid.uuid4().hex[:8]}@example.com"
    first, event = _waitlist(address, "preorder_open")
    await send(broker, event, subject="TEE-M")
    one_click, preferences_link = _links(await notifications.the_mail_about(first))
    token = _token(preferences_link)

    shown = await notifications.client.get("/preferences", params={"token": token})
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "email": address,
        "transactional": True,
        "preorder_updates": True,
        "waitlist": True,
        "marketing": False,
    }
    changed = await notifications.client.put(
        "/preferences",
        params={"token": token},
        json={"preorder_updates": False, "waitlist": True, "marketing": True},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["preorder_updates"] is False
    assert changed.json()["marketing"] is True

    refused = await notifications.client.put(
        "/preferences",
        params={"token": token},
        json={"preorder_updates": True, "waitlist": True, "marketing": True, "transactional": False},
    )
    assert refused.status_code == 422
    assert "always sent" in refused.text

    second, event = _waitlist(address, "preorder_open")
    await send(broker, event, subject="TEE-M")
    suppressed = await notifications.status_of(second, "suppressed")
    assert suppressed["suppressed_reason"] == "unsubscribed from preorder_updates"

    wrong_kind = await notifications.client.get("/preferences", params={"token": _token(one_click)})
    assert wrong_kind.status_code == 400
    assert wrong_kind.json()["code"] == "wrong_token"


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [("nonsense", 400, "malformed_token"), ("e30.1800000000.00ff", 401, "invalid_token")],
)
async def test_a_bad_token_is_a_problem_that_says_what_is_wrong(
    notifications: Notifications, token: str, status: int, code: str
) -> None:
    for answer in (
        await notifications.client.post("/unsubscribe", params={"token": token}),
        await notifications.client.get("/preferences", params={"token": token}),
    ):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == code
        assert answer.json()["detail"]
