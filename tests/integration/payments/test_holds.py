"""Payments capturing at shipment, against the real PostgreSQL and RabbitMQ: a checkout is authorised, each
shipment fulfillment reports captures its share, money asked back is released from the hold before anything is
refunded, a hold about to lapse is replaced by an off-session charge, and the PSP's webhooks about holds and
captures act once."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import Envelope, fulfillment, orders
from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_contracts.values import Address, Customer, LocatedLine, PricedLineV1
from shop_payments import webhooks
from shop_payments.bootstrap import service_definition
from shop_payments.psp import SandboxPsp, SandboxWebhooks
from shop_payments.tables import hold_orders, hold_shipments
from tests.integration.payments.harness import Payments, charges_of, inbox_rows, payments_of, worker_idle
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

SECRET = "whsec-integration-holds-5b2e71"
ADDRESS = Address(name="Jane Park", line1="1 Sejong-daero", city="Seoul", postal_code="04524", country="KR")


@pytest.fixture
async def payments(broker: AbstractRobustConnection) -> AsyncIterator[Payments]:
    """Payments capturing at shipment, its sandbox delivering webhooks to its own app."""
    sandbox = SandboxPsp(webhook_retry_seconds=(0.1, 0.2, 0.5, 1, 2))
    definition = service_definition(lambda settings: sandbox)
    settings = infra.service_settings(
        definition, capture_mode="at_shipment", psp_webhook_secrets=SECRET, scheduler_poll_seconds=0.2
    )
    async with running_service(definition, settings, broker) as service:
        sandbox.webhooks = SandboxWebhooks(
            "http://payments/webhooks/psp", (SECRET,), transport=httpx.ASGITransport(app=service.app)
        )
        yield Payments(service.client, sandbox, service.worker.database)
        await sandbox.close()


def _checkout(order_id: str, amount: int, token: str = "tok_visa") -> contracts.CapturePayment:
    return contracts.CapturePayment(
        order_id=order_id, step="full", amount=Money(amount, "KRW"), payment_token=token, save_method=True
    )


def _confirmed(order_id: str, lines: dict[str, tuple[int, int]], shipping: int) -> orders.OrderConfirmedV1:
    priced = [
        PricedLineV1(sku=sku, title=sku, quantity=quantity, unit_price=price, line_total=quantity * price)
        for sku, (quantity, price) in lines.items()
    ]
    subtotal = sum(line.line_total for line in priced)
    return orders.OrderConfirmedV1(
        order_id=order_id,
        customer=Customer(email="jane@example.com", locale="en"),
        currency="KRW",
        lines=priced,
        subtotal=subtotal,
        shipping=shipping,
        total=subtotal + shipping,
        shipping_address=ADDRESS,
    )


def _shipped(order_id: str, group: str, lines: dict[str, int], short: dict[str, int] | None = None) -> Any:
    return fulfillment.ShipmentShipped(
        fulfillment_id=f"f-{group}",
        order_id=order_id,
        location="seoul-1",
        lines=[LocatedLine(sku=sku, quantity=units, location="seoul-1") for sku, units in lines.items()],
        carrier="cj",
        tracking_number=f"T-{group}",
        group_id=group,
        short_lines=[
            LocatedLine(sku=sku, quantity=units, location="seoul-1") for sku, units in (short or {}).items()
        ],
    )


async def _authorised(
    broker: AbstractRobustConnection, probe: MessageProbe, order_id: str, amount: int, token: str = "tok_visa"
) -> contracts.PaymentSucceeded:
    await send(broker, _checkout(order_id, amount, token), subject=order_id)
    return await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == order_id)


def _steps(view: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [(item["kind"], item["step"], item["status"], item["amount"]) for item in view["items"]]


async def test_checkout_is_authorised_and_the_shipment_captures_it(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    succeeded = await _authorised(broker, probe, "h-ship", 43_000)
    assert succeeded.authorized_only
    assert succeeded.amount == Money(43_000, "KRW")
    view = await payments_of(payments.client, "h-ship")
    assert (view["authorised"], view["held"], view["captured"]) == (43_000, 43_000, 0)
    assert not payments.sandbox.charges  # nothing taken at checkout

    await send(broker, _confirmed("h-ship", {"SHIRT": (1, 40_000)}, 3_000), subject="h-ship")
    await send(broker, _shipped("h-ship", "g-1", {"SHIRT": 1}), subject="h-ship")

    async def captured() -> None:
        view = await payments_of(payments.client, "h-ship")
        assert (view["captured"], view["held"], view["voided"]) == (43_000, 0, 0)
        assert ("capture", "capture:g-1", "succeeded", 43_000) in _steps(view)

    await eventually(captured)
    # The same shipment told again captures nothing more.
    await send(broker, _shipped("h-ship", "g-1", {"SHIRT": 1}), subject="h-ship")
    await worker_idle()
    assert len(payments.sandbox.captures) == 1
    assert (await payments_of(payments.client, "h-ship"))["captured"] == 43_000


async def test_a_short_pick_releases_its_part_and_the_shipment_captures_the_rest(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-short", 83_000)
    await send(broker, _confirmed("h-short", {"SHIRT": (2, 40_000)}, 3_000), subject="h-short")
    # Orders asks for the short unit's money back: released from the hold, not refunded.
    await send(
        broker,
        contracts.IssueRefund(
            order_id="h-short",
            amount=Money(40_000, "KRW"),
            reason="short_pick",
            idempotency_key="short:f-g-1",
        ),
        subject="h-short",
    )
    issued = await probe.wait_for(contracts.RefundIssued, lambda m: m.order_id == "h-short")
    assert (issued.amount, issued.voided) == (Money(40_000, "KRW"), Money(40_000, "KRW"))
    await send(broker, _shipped("h-short", "g-1", {"SHIRT": 1}, short={"SHIRT": 1}), subject="h-short")

    async def settled() -> None:
        view = await payments_of(payments.client, "h-short")
        assert (view["authorised"], view["voided"], view["captured"], view["held"]) == (
            83_000,
            40_000,
            43_000,
            0,
        )
        assert view["refunded"] == 0

    await eventually(settled)
    assert not payments.sandbox.refunds


async def test_a_shipment_that_arrives_before_orders_asks_back_its_short_unit_waits_to_capture_the_rest(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """The same short pick with the messages the other way round: fulfillment's shipment reaches payments before
    orders' ask for the short unit's money. The end is the same: released, not captured and refunded."""
    await _authorised(broker, probe, "h-short-late", 83_000)
    await send(broker, _confirmed("h-short-late", {"SHIRT": (2, 40_000)}, 3_000), subject="h-short-late")
    await send(
        broker, _shipped("h-short-late", "g-1", {"SHIRT": 1}, short={"SHIRT": 1}), subject="h-short-late"
    )
    # Handled in the order sent: one order's messages keep their order in a worker.
    await send(
        broker,
        contracts.IssueRefund(
            order_id="h-short-late",
            amount=Money(40_000, "KRW"),
            reason="short_pick",
            idempotency_key="short:f-g-1-late",
        ),
        subject="h-short-late",
    )

    async def settled() -> None:
        view = await payments_of(payments.client, "h-short-late")
        assert (view["authorised"], view["voided"], view["captured"], view["held"]) == (
            83_000,
            40_000,
            43_000,
            0,
        )
        assert view["refunded"] == 0

    await eventually(settled)
    assert not payments.sandbox.refunds


@pytest.mark.parametrize("version", [1, 2])
async def test_two_shipments_capture_their_shares_and_the_last_takes_what_is_left(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection, version: int
) -> None:
    order_id = f"h-two-v{version}"
    await _authorised(broker, probe, order_id, 100_000)
    confirmed = _confirmed(order_id, {"SHIRT": (2, 40_000), "CAP": (1, 10_000)}, 10_000)
    # Version 2 of the confirmation carries the same prices and totals as Money: the shares are the same.
    await send(
        broker, confirmed if version == 1 else orders.OrderConfirmed.upcast(confirmed), subject=order_id
    )
    await send(broker, _shipped(order_id, "g-1", {"SHIRT": 1}), subject=order_id)

    async def first() -> None:
        view = await payments_of(payments.client, order_id)
        assert (view["captured"], view["held"]) == (44_444, 55_556)

    await eventually(first)
    await send(broker, _shipped(order_id, "g-2", {"SHIRT": 1, "CAP": 1}), subject=order_id)

    async def all_of_it() -> None:
        view = await payments_of(payments.client, order_id)
        assert (view["captured"], view["held"]) == (100_000, 0)

    await eventually(all_of_it)


def _delivered(shipped: fulfillment.ShipmentShipped) -> fulfillment.ShipmentDelivered:
    """Delivered as fulfillment tells it, carrying the shipment (for a consumer that has not handled it yet)."""
    return fulfillment.ShipmentDelivered(
        fulfillment_id=shipped.fulfillment_id,
        order_id=shipped.order_id,
        group_id=shipped.group_id,
        shipment=fulfillment.Shipment(
            location=shipped.location,
            lines=shipped.lines,
            carrier=shipped.carrier,
            tracking_number=shipped.tracking_number,
            short_lines=shipped.short_lines,
        ),
    )


async def test_a_held_orders_delivery_shipment_and_confirmation_arriving_backwards_and_twice_capture_once(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """The delivery (carrying its shipment) first, then the shipment, then the confirmation, each told twice:
    the shipment is kept once, waits for the confirmation's terms, and is captured once."""
    await _authorised(broker, probe, "h-backwards", 43_000)
    shipped = _shipped("h-backwards", "g-1", {"SHIRT": 1})
    for message in (_delivered(shipped), _delivered(shipped), shipped, shipped):
        await send(broker, message, subject="h-backwards")
    await worker_idle()
    view = await payments_of(payments.client, "h-backwards")
    assert (view["captured"], view["held"]) == (0, 43_000)  # the shares wait for the confirmation
    confirmed = _confirmed("h-backwards", {"SHIRT": (1, 40_000)}, 3_000)
    await send(broker, confirmed, subject="h-backwards")
    await send(broker, orders.OrderConfirmed.upcast(confirmed), subject="h-backwards")
    await send(broker, _delivered(shipped), subject="h-backwards")

    async def captured() -> None:
        view = await payments_of(payments.client, "h-backwards")
        assert (view["captured"], view["held"]) == (43_000, 0)
        assert [step for step in _steps(view) if step[0] == "capture"] == [
            ("capture", "capture:g-1", "succeeded", 43_000)
        ]

    await eventually(captured)
    await worker_idle()
    assert [c.amount for c in payments.sandbox.captures if c.idempotency_key.startswith("h-backwards:")] == [
        43_000
    ]


async def test_an_order_paid_at_checkout_keeps_nothing_of_its_shipments_and_confirmation(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """An order whose checkout was captured (a deposit: not held) told its delivery, shipments and
    confirmation in any order and twice: nothing is captured, released or charged, and the payment stands."""
    deposit = _checkout("h-not-held", 10_000).model_copy(update={"balance_later": True})
    await send(broker, deposit, subject="h-not-held")
    await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "h-not-held")
    shipped = _shipped("h-not-held", "g-1", {"SHIRT": 1})
    confirmed = _confirmed("h-not-held", {"SHIRT": (1, 40_000)}, 3_000)
    for message in (_delivered(shipped), shipped, confirmed, shipped, confirmed, _delivered(shipped)):
        await send(broker, message, subject="h-not-held")
    await worker_idle()
    view = await payments_of(payments.client, "h-not-held")
    assert "authorised" not in view
    assert view["captured"] == 10_000
    assert _steps(view) == [("charge", "full", "succeeded", 10_000)]
    assert not [c for c in payments.sandbox.captures if c.idempotency_key.startswith("h-not-held:")]
    assert len(charges_of(payments.sandbox, "h-not-held")) == 1


async def _kept_of_order(payments: Payments, order_id: str) -> dict[str, int]:
    """Rows payments keeps of an order's holds: its confirmation terms and its shipments."""
    assert payments.database is not None
    async with payments.database.engine.connect() as connection:
        return {
            table.name: (
                await connection.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.order_id == order_id)
                )
            ).scalar_one()
            for table in (hold_orders, hold_shipments)
        }


async def _outbox_rows(payments: Payments) -> int:
    assert payments.database is not None
    async with payments.database.engine.connect() as connection:
        outbox = payments.database.outbox
        return int((await connection.execute(sa.select(sa.func.count()).select_from(outbox))).scalar_one())


async def test_an_unheld_orders_confirmation_shipment_and_delivery_leave_no_inbox_row_and_change_nothing(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """Each of the three, delivered twice (the same message again, as after a lost ack), is found a no-op by its
    probe before it is claimed: no inbox row, nothing kept, nothing captured or charged, nothing published."""
    order_id = "h-unheld-inbox"
    deposit = _checkout(order_id, 10_000).model_copy(update={"balance_later": True})
    checkout = await send(broker, deposit, subject=order_id)
    await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == order_id)
    await worker_idle()
    outbox_before = await _outbox_rows(payments)
    shipped = _shipped(order_id, "g-1", {"SHIRT": 1})
    messages = (_confirmed(order_id, {"SHIRT": (1, 40_000)}, 3_000), shipped, _delivered(shipped))
    sent = [await send(broker, message, subject=order_id) for message in messages]
    for message, envelope in zip(messages, sent, strict=True):
        await send(broker, message, subject=order_id, message_id=envelope.id)
    await worker_idle()

    assert await inbox_rows(payments, [checkout, *sent]) == {checkout.id: 1} | dict.fromkeys(
        (envelope.id for envelope in sent), 0
    )
    assert await _kept_of_order(payments, order_id) == {"hold_orders": 0, "hold_shipments": 0}
    view = await payments_of(payments.client, order_id)
    assert _steps(view) == [("charge", "full", "succeeded", 10_000)]
    assert not [c for c in payments.sandbox.captures if c.idempotency_key.startswith(f"{order_id}:")]
    assert len(charges_of(payments.sandbox, order_id)) == 1
    assert await _outbox_rows(payments) == outbox_before  # nothing published


async def test_a_held_orders_confirmation_shipment_and_delivery_each_take_effect_once_when_delivered_twice(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """Probed and found held, each is claimed and handled as before: the same message delivered again is a
    duplicate (one inbox row), the terms and each shipment are kept once, each shipment captured once."""
    order_id = "h-held-twice"
    await _authorised(broker, probe, order_id, 100_000)
    confirmed = _confirmed(order_id, {"SHIRT": (2, 40_000), "CAP": (1, 10_000)}, 10_000)
    first = _shipped(order_id, "g-1", {"SHIRT": 1})
    second = _delivered(_shipped(order_id, "g-2", {"SHIRT": 1, "CAP": 1}))  # carries its shipment
    sent: list[Envelope] = []
    for message in (confirmed, first, second):
        envelope = await send(broker, message, subject=order_id)
        await send(broker, message, subject=order_id, message_id=envelope.id)
        sent.append(envelope)

    async def all_of_it() -> None:
        view = await payments_of(payments.client, order_id)
        assert (view["captured"], view["held"]) == (100_000, 0)

    await eventually(all_of_it)
    await worker_idle()
    assert await inbox_rows(payments, sent) == dict.fromkeys((envelope.id for envelope in sent), 1)
    assert await _kept_of_order(payments, order_id) == {"hold_orders": 1, "hold_shipments": 2}
    captures = [c.amount for c in payments.sandbox.captures if c.idempotency_key.startswith(f"{order_id}:")]
    assert captures == [44_444, 55_556]


async def test_a_cancellation_before_shipment_voids_the_hold_and_refunds_nothing(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-cancel", 39_000)
    await send(
        broker,
        contracts.IssueRefund(
            order_id="h-cancel",
            amount=Money(39_000, "KRW"),
            reason="changed_mind",
            idempotency_key="cancel:h",
        ),
        subject="h-cancel",
    )
    issued = await probe.wait_for(contracts.RefundIssued, lambda m: m.order_id == "h-cancel")
    assert issued.voided == Money(39_000, "KRW")
    view = await payments_of(payments.client, "h-cancel")
    assert (view["voided"], view["held"], view["captured"], view["refunded"]) == (39_000, 0, 0, 0)
    assert [part["voided"] for part in view["refunds"][0]["parts"]] == [True]
    assert [void.amount for void in payments.sandbox.voids] == [39_000]
    assert not payments.sandbox.refunds
    # A shipment reported afterwards (it cannot happen, but messages arrive as they will) captures nothing.
    await send(broker, _confirmed("h-cancel", {"SHIRT": (1, 39_000)}, 0), subject="h-cancel")
    await send(broker, _shipped("h-cancel", "g-1", {"SHIRT": 1}), subject="h-cancel")
    await worker_idle()
    assert not payments.sandbox.captures


async def test_a_return_after_capture_is_refunded(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-return", 39_000)
    await send(broker, _confirmed("h-return", {"SHIRT": (1, 39_000)}, 0), subject="h-return")
    await send(broker, _shipped("h-return", "g-1", {"SHIRT": 1}), subject="h-return")

    async def captured() -> None:
        assert (await payments_of(payments.client, "h-return"))["captured"] == 39_000

    await eventually(captured)
    await send(
        broker,
        contracts.IssueRefund(
            order_id="h-return",
            amount=Money(39_000, "KRW"),
            reason="return_damaged",
            idempotency_key="return:r",
        ),
        subject="h-return",
    )
    issued = await probe.wait_for(contracts.RefundIssued, lambda m: m.order_id == "h-return")
    assert issued.voided == Money(0, "KRW")
    assert [refund.amount for refund in payments.sandbox.refunds] == [39_000]


async def test_a_hold_about_to_lapse_is_replaced_by_an_off_session_charge(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-early", 39_000, token="tok_hold_expires_early")

    async def replaced() -> None:
        view = await payments_of(payments.client, "h-early")
        assert (view["expired"], view["held"], view["captured"]) == (39_000, 0, 39_000)
        assert ("replacement", "replacement", "succeeded", 39_000) in _steps(view)

    await eventually(replaced, timeout=15)
    [charge] = payments.sandbox.charges
    assert charge.idempotency_key == "h-early:replacement"
    # The shipment afterwards takes nothing more: the order is paid.
    await send(broker, _confirmed("h-early", {"SHIRT": (1, 39_000)}, 0), subject="h-early")
    await send(broker, _shipped("h-early", "g-1", {"SHIRT": 1}), subject="h-early")
    await worker_idle()
    assert not payments.sandbox.captures
    assert (await payments_of(payments.client, "h-early"))["captured"] == 39_000


async def test_a_capture_the_psp_refuses_is_replaced_by_an_off_session_charge(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-refused", 39_000, token="tok_capture_fails")
    await send(broker, _confirmed("h-refused", {"SHIRT": (1, 39_000)}, 0), subject="h-refused")
    await send(broker, _shipped("h-refused", "g-1", {"SHIRT": 1}), subject="h-refused")

    async def replaced() -> None:
        view = await payments_of(payments.client, "h-refused")
        assert ("capture", "capture:g-1", "failed", 39_000) in _steps(view)
        assert ("replacement", "replacement", "succeeded", 39_000) in _steps(view)
        assert (view["captured"], view["expired"], view["held"]) == (39_000, 39_000, 0)

    await eventually(replaced)


async def test_an_order_with_pre_order_lines_is_captured_on_confirmation(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-pre", 39_000)
    confirmed = _confirmed("h-pre", {"DROP": (1, 39_000)}, 0)
    summary = orders.PreorderSummaryV1(
        sku="DROP",
        title="DROP",
        quantity=1,
        payment_mode="pay_now",
        paid_now=39_000,
        balance=0,
        balance_due="on_ready",
    )
    await send(
        broker,
        confirmed.model_copy(update={"preorder_lines": [summary], "charged_now": 39_000}),
        subject="h-pre",
    )

    async def captured() -> None:
        view = await payments_of(payments.client, "h-pre")
        assert (view["captured"], view["held"]) == (39_000, 0)
        assert ("capture", "capture:checkout", "succeeded", 39_000) in _steps(view)

    await eventually(captured)


async def test_a_deposit_and_a_pay_later_order_are_not_held(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    deposit = _checkout("h-deposit", 10_000).model_copy(update={"balance_later": True})
    await send(broker, deposit, subject="h-deposit")
    paid = await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "h-deposit")
    assert not paid.authorized_only
    await send(broker, _checkout("h-later", 0), subject="h-later")
    later = await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == "h-later")
    assert not later.authorized_only
    assert "authorised" not in await payments_of(payments.client, "h-deposit")
    assert (await payments_of(payments.client, "h-deposit"))["captured"] == 10_000


def _signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {
        "Content-Type": "application/json",
        webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=SECRET, timestamp=int(time.time())),
    }


async def test_authorization_expired_replaces_the_hold_once_however_often_it_is_told(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-lapsed", 39_000)
    authorization = next(
        item
        for item in (await payments_of(payments.client, "h-lapsed"))["items"]
        if item["kind"] == "authorization"
    )
    event = {
        "id": "evt_hold_lapsed_1",
        "type": "authorization.expired",
        "data": {"authorization": authorization["psp_reference"], "amount": 39_000, "currency": "KRW"},
    }
    body, headers = _signed(event)
    first = await payments.client.post("/webhooks/psp", content=body, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "hold_expired"
    again = await payments.client.post("/webhooks/psp", content=body, headers=headers)
    assert again.json()["status"] == "duplicate"
    view = await payments_of(payments.client, "h-lapsed")
    assert (view["expired"], view["captured"], view["held"]) == (39_000, 39_000, 0)
    assert not payments.sandbox.voids  # it lapsed at the PSP: nothing to release there
    assert len(payments.sandbox.charges) == 1


async def test_the_psps_capture_webhooks_confirm_what_payments_recorded(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    await _authorised(broker, probe, "h-hook", 39_000)
    await send(broker, _confirmed("h-hook", {"SHIRT": (1, 39_000)}, 0), subject="h-hook")
    await send(broker, _shipped("h-hook", "g-1", {"SHIRT": 1}), subject="h-hook")

    async def confirmed_by_the_psp() -> None:
        assert len(payments.sandbox.captures) == 1
        [capture] = payments.sandbox.captures
        delivered = [
            event_id
            for event_id, body in payments.sandbox.webhooks.sent.items()
            if json.loads(body)["data"].get("capture") == capture.result.psp_reference
        ]
        assert delivered
        redelivered = await payments.sandbox.webhooks.redeliver(delivered[0])
        assert redelivered is not None
        assert redelivered.answer["status"] == "duplicate"

    await eventually(confirmed_by_the_psp, timeout=15)
    unknown, headers = _signed(
        {"id": "evt_unknown_capture", "type": "capture.succeeded", "data": {"capture": "sandbox_cap_nope"}}
    )
    answer = await payments.client.post("/webhooks/psp", content=unknown, headers=headers)
    assert answer.status_code == 404
