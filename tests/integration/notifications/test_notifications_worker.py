"""Notifications against the real PostgreSQL, RabbitMQ and an SMTP server (the mail catcher, in process)."""

from __future__ import annotations

import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import Envelope, catalog, orders
from shop_contracts.notifications import NotificationSent
from shop_contracts.values import Address, Customer, Locale, PricedLineV1
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

STOREFRONT_URL = "https://shop.test"


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
    return content.replace("\r\n", "\n")  # a 7-bit body comes back with the wire's line endings


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
        storefront_url=STOREFRONT_URL,
    )
    catcher = await MailCatcher(tmp_path / "mail", port=port).start()
    try:
        async with running_service(DEFINITION, settings, broker) as service:
            yield Notifications(client=service.client, worker=service.worker, catcher=catcher)
    finally:
        await catcher.stop()


def _confirmed(order_id: str, locale: str) -> orders.OrderConfirmedV1:
    return orders.OrderConfirmedV1(
        order_id=order_id,
        customer=Customer(email="minji@example.com", locale="ko" if locale == "ko" else "en"),
        currency="KRW",
        lines=[
            PricedLineV1(sku="TEE-M", title="런칭 티셔츠", quantity=2, unit_price=18000, line_total=36000)
        ],
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


async def _the_only_mail_about(
    notifications: Notifications, probe: MessageProbe, order_id: str, template: str
) -> EmailMessage:
    """Wait for the email of ``template`` to be sent, then check it is the order's only email and log entry."""
    await probe.wait_for(NotificationSent, lambda m: m.order_id == order_id and m.template == template)
    mails = notifications.mails_about(order_id)
    assert len(mails) == 1
    assert [item["template"] for item in await notifications.log_of(order_id)] == [template]
    assert len([m for m in probe.of_type(NotificationSent) if m.order_id == order_id]) == 1
    return mails[0]


def _customer(locale: Locale) -> Customer:
    return Customer(email="minji@example.com", locale=locale)


@pytest.mark.parametrize("version", [1, 2])
async def test_a_confirmation_with_a_deposit_pre_order_says_deposit_balance_when_charged_and_the_date(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe, version: int
) -> None:
    order_id = f"ord-pre-v{version}"
    confirmed = _confirmed(order_id, "ko").model_copy(
        update={
            "lines": [
                PricedLineV1(sku="CAM-1", title="카메라", quantity=1, unit_price=500000, line_total=500000)
            ],
            "subtotal": 500000,
            "total": 503000,
            "charged_now": 153000,
            "preorder_lines": [
                orders.PreorderSummaryV1(
                    sku="CAM-1",
                    title="카메라",
                    quantity=1,
                    payment_mode="deposit",
                    paid_now=150000,
                    balance=350000,
                    balance_due="2025-03-14T16:00:00Z",  # 01:00 on the 15th in Seoul
                    expected_ship_date=date(2025, 4, 1),
                    queue_position=7,
                )
            ],
        }
    )
    # Version 2 carries the same amounts as Money: the email reads the same.
    await send(
        broker, confirmed if version == 1 else orders.OrderConfirmed.upcast(confirmed), subject=order_id
    )
    mail = await _the_only_mail_about(notifications, probe, order_id, "order_confirmed")
    text = _text(mail)
    assert "- 카메라 (CAM-1) x 1: 500,000원\n" in text
    assert "상품 금액: 500,000원\n배송비: 3,000원\n" in text
    assert "총 주문 금액: 503,000원\n이번에 결제된 금액: 153,000원" in text
    assert (
        "- 카메라 (CAM-1) x 1\n"
        "  결제된 예약금: 150,000원\n"
        "  남은 잔금: 350,000원\n"
        "  잔금 결제 시점: 2025년 3월 15일\n"
        "  출고 예정일: 2025년 4월 1일\n"
        "  예약 순번: 7번\n"
    ) in text


@pytest.mark.parametrize("version", [1, 2])
async def test_a_charged_balance_is_emailed_once_with_the_amount_and_the_ship_date(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe, version: int
) -> None:
    order_id = f"ord-bal-v{version}"
    charged = orders.OrderBalanceChargedV1(
        order_id=order_id,
        customer=_customer("en"),
        group_id="grp-1",
        amount=35050,
        currency="USD",
        expected_ship_date=date(2025, 4, 1),
    )
    await send(
        broker, charged if version == 1 else orders.OrderBalanceCharged.upcast(charged), subject=order_id
    )
    mail = await _the_only_mail_about(notifications, probe, order_id, "order_balance_charged")
    assert mail["Subject"] == f"[Shop] We charged the balance of your pre-order (order {order_id})"
    assert "remaining balance of $350.50" in _text(mail)
    assert "Expected to ship: April 1, 2025" in _text(mail)


@pytest.mark.parametrize(
    ("requires_action", "locale", "says"),
    [
        (
            False,
            "ko",
            [
                "사유: 카드 잔액(한도)이 부족합니다.",
                "아래 링크에서 결제 수단을 변경해 주세요.\nhttps://shop.test/orders/ord-dun-{0}/payment\n",
                "2025년 3월 15일에 다시 결제를 시도하겠습니다.",
            ],
        ),
        (
            True,
            "en",
            [
                "Why: your bank needs you to confirm this payment yourself.",
                "Please confirm the payment here:\nhttps://shop.test/orders/ord-dun-{0}/payment\n",
                "we will try again on March 14, 2025.",
            ],
        ),
    ],
)
async def test_a_failed_balance_charge_is_emailed_once_with_the_reason_the_retry_and_the_link(
    notifications: Notifications,
    broker: AbstractRobustConnection,
    probe: MessageProbe,
    requires_action: bool,
    locale: Locale,
    says: list[str],
) -> None:
    order_id = f"ord-dun-{locale}"
    failed = orders.OrderBalanceChargeFailedV1(
        order_id=order_id,
        customer=_customer(locale),
        group_id="grp-1",
        amount=350000,
        currency="KRW",
        reason="insufficient_funds" if not requires_action else "authentication_required",
        requires_action=requires_action,
        retry_at=datetime(2025, 3, 14, 16, 0, tzinfo=UTC),
    )
    await send(broker, failed, subject=order_id)
    mail = await _the_only_mail_about(notifications, probe, order_id, "order_balance_charge_failed")
    text = _text(mail)
    for phrase in says:
        assert phrase.format(locale) in text
    html = mail.get_body(("html",))
    assert html is not None
    assert f'<a href="{STOREFRONT_URL}/orders/{order_id}/payment">' in html.get_content()


async def test_the_handler_itself_queues_one_email_per_source_message(notifications: Notifications) -> None:
    causation = Envelope.wrap(_shipped("ord-twice"), subject="ord-twice", correlation_id="ord-twice")
    for _ in range(2):
        async with notifications.worker.database.unit_of_work(causation=causation) as uow:
            await handlers.notify_order_shipped(
                uow,
                order_id="ord-twice",
                fulfillment_id="ful-1",
                recipient=Recipient(email="ann@example.com", locale="en"),
                carrier="CJ Logistics",
                tracking_number="T-1",
            )
            await uow.commit()  # the test is the edge here, as the dispatcher is in the worker
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


def _waitlist_notification(
    entry_id: str, kind: Literal["back_in_stock", "preorder_open"], locale: Locale
) -> catalog.WaitlistNotification:
    return catalog.WaitlistNotification(
        waitlist_entry_id=entry_id,
        kind=kind,
        sku="TEE-M",
        product_id="prod-1",
        title="Launch Tee",
        options={"size": "M"},
        customer=_customer(locale),
        ends_at=datetime(2030, 3, 14, 12, 0, tzinfo=UTC) if kind == "preorder_open" else None,
        expected_ship_date=date(2030, 5, 1) if kind == "preorder_open" else None,
    )


async def test_a_back_in_stock_notice_is_emailed_once_in_korean_with_the_product_link(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    entry_id = str(uuid.uuid4())
    message_id = uuid.uuid4()
    event = _waitlist_notification(entry_id, "back_in_stock", "ko")
    await send(broker, event, subject="TEE-M", message_id=message_id)
    await send(broker, event, subject="TEE-M", message_id=message_id)  # redelivered: still one email

    mail = await _the_only_mail_about(notifications, probe, f"waitlist:{entry_id}", "waitlist_back_in_stock")
    assert mail["To"] == "minji@example.com"
    assert mail["Subject"] == "[Shop] Launch Tee (M) 상품이 재입고되었습니다"
    assert f"{STOREFRONT_URL}/products/prod-1" in _text(mail)


async def test_a_pre_order_open_notice_is_emailed_in_english_with_the_window_end_and_ship_date(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe
) -> None:
    entry_id = str(uuid.uuid4())
    await send(broker, _waitlist_notification(entry_id, "preorder_open", "en"), subject="TEE-M")

    mail = await _the_only_mail_about(notifications, probe, f"waitlist:{entry_id}", "waitlist_preorder_open")
    assert mail["Subject"] == "[Shop] Pre-orders for Launch Tee (M) are open"
    text = _text(mail)
    assert "Pre-orders close: March 14, 2030" in text
    assert "Expected to ship: May 1, 2030" in text
    assert f"{STOREFRONT_URL}/products/prod-1" in text


@pytest.mark.parametrize(
    ("locale", "says"),
    [
        ("ko", ["350,000원", "2025년 3월 15일 01:00(한국 시간)", "결제 수단을 변경"]),
        ("en", ["₩350,000", "March 14, 2025 at 16:00 (UTC)", "update your payment method"]),
    ],
)
async def test_a_balance_reminder_says_how_much_when_and_where_to_change_the_card(
    notifications: Notifications,
    broker: AbstractRobustConnection,
    probe: MessageProbe,
    locale: Locale,
    says: list[str],
) -> None:
    order_id = f"ord-remind-{locale}"
    reminder = orders.OrderBalanceReminderV1(
        order_id=order_id,
        customer=_customer(locale),
        group_id="grp-1",
        amount=350000,
        currency="KRW",
        charge_at=datetime(2025, 3, 14, 16, 0, tzinfo=UTC),
    )
    await send(broker, reminder, subject=order_id)
    mail = await _the_only_mail_about(notifications, probe, order_id, "order_balance_reminder")
    text = _text(mail)
    for phrase in says:
        assert phrase in text, text
    html = mail.get_body(("html",))
    assert html is not None
    assert f'<a href="{STOREFRONT_URL}/orders/{order_id}/payment">' in html.get_content()


@pytest.mark.parametrize("version", [1, 2])
async def test_a_return_refund_is_emailed_with_the_goods_the_fees_and_the_refund(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe, version: int
) -> None:
    order_id = f"ord-ret-v{version}"
    refunded = orders.ReturnRefundedV1(
        return_id="ret-1",
        order_id=order_id,
        customer=_customer("en"),
        currency="USD",
        value=3600,
        return_shipping_fee=500,
        restocking_fee=180,
        refund=2920,
    )
    await send(broker, refunded if version == 1 else orders.ReturnRefunded.upcast(refunded), subject=order_id)
    mail = await _the_only_mail_about(notifications, probe, order_id, "return_refunded")
    assert (
        "Returned goods: $36.00\nReturn shipping fee: -$5.00\nRestocking fee: -$1.80\n"
        "We are refunding $29.20 to your payment method."
    ) in _text(mail)


@pytest.mark.parametrize("version", [1, 2])
async def test_a_charged_subscription_cycle_is_emailed_with_the_amount_and_the_next_charge(
    notifications: Notifications, broker: AbstractRobustConnection, probe: MessageProbe, version: int
) -> None:
    subscription_id = f"sub-v{version}"
    charged = orders.SubscriptionCycleChargedV1(
        subscription_id=subscription_id,
        customer=_customer("ko"),
        plan_name="원두 구독",
        cycle=2,
        order_id="ord-sub-2",
        amount=19900,
        currency="KRW",
        next_charge_at=datetime(2025, 4, 1, 0, 0, tzinfo=UTC),
    )
    upcast = orders.SubscriptionCycleCharged.upcast(charged)
    await send(broker, charged if version == 1 else upcast, subject=subscription_id)
    mail = await _the_only_mail_about(notifications, probe, subscription_id, "subscription_charged")
    assert "원두 구독 정기구독 금액 19,900원이(가) 결제되었습니다." in _text(mail)
    assert "다음 결제일은 2025년 4월 1일입니다." in _text(mail)
