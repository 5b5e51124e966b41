"""PSP webhooks against the real PostgreSQL and RabbitMQ: a balance the customer had to confirm is paid when
the PSP says so, once however often it says so, and only a webhook signed by the PSP recently is believed."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_payments import webhooks
from shop_payments.bootstrap import service_definition
from shop_payments.psp import SandboxPsp, SandboxWebhooks
from tests.integration.payments.harness import Payments, payments_of, worker_idle
from tests.support import infra
from tests.support.messages import MessageProbe, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

NEW_SECRET = "whsec-integration-new-0f3c9a"
OLD_SECRET = "whsec-integration-old-77b1e2"


@pytest.fixture
async def payments(broker: AbstractRobustConnection) -> AsyncIterator[Payments]:
    """Payments mid-rotation (new secret first, old still accepted); its sandbox delivers to its own app."""
    sandbox = SandboxPsp()
    definition = service_definition(lambda settings: sandbox)
    settings = infra.service_settings(definition, psp_webhook_secrets=f"{NEW_SECRET},{OLD_SECRET}")
    async with running_service(definition, settings, broker) as service:
        sandbox.webhooks = SandboxWebhooks(
            "http://payments/webhooks/psp", (NEW_SECRET,), transport=httpx.ASGITransport(app=service.app)
        )
        yield Payments(service.client, sandbox)


async def _balance_needing_action(
    broker: AbstractRobustConnection, probe: MessageProbe, payments: Payments, order_id: str
) -> dict[str, Any]:
    """A deposit paid at checkout with tok_requires_action, then its balance declined off session."""
    await send(
        broker,
        contracts.CapturePayment(
            order_id=order_id,
            step="full",
            amount=Money(3_000, "KRW"),
            payment_token="tok_requires_action",
            save_method=True,
        ),
        subject=order_id,
    )
    await probe.wait_for(contracts.PaymentSucceeded, lambda m: m.order_id == order_id)
    await send(
        broker,
        contracts.ChargeBalance(order_id=order_id, group_id="g-1", amount=Money(7_000, "KRW")),
        subject=order_id,
    )
    failed = await probe.wait_for(contracts.BalanceChargeFailed, lambda m: m.order_id == order_id)
    assert failed.requires_action
    view = await payments_of(payments.client, order_id)
    return next(item for item in view["items"] if item["balance_group"] == "g-1")


def _event(event_id: str, charge: str, amount: int = 7_000) -> bytes:
    data = {"charge": charge, "amount": amount, "currency": "KRW"}
    return json.dumps({"id": event_id, "type": "charge.succeeded", "created": 1, "data": data}).encode()


async def _post(payments: Payments, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[webhooks.SIGNATURE_HEADER] = signature
    return await payments.client.post("/webhooks/psp", content=body, headers=headers)


async def test_the_customer_confirming_a_declined_balance_pays_it_once_however_often_the_psp_says_so(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    declined = await _balance_needing_action(broker, probe, payments, "order-action")
    assert declined["status"] == "failed"
    assert declined["requires_action"]

    delivery = await payments.sandbox.complete_action(
        charge_reference=declined["psp_reference"], amount=7_000, currency="KRW"
    )

    assert delivery.status == 200, delivery.answer
    assert delivery.answer == {"event_id": delivery.event_id, "status": "balance_charged"}
    charged = await probe.wait_for(contracts.BalanceCharged, lambda m: m.order_id == "order-action")
    assert (charged.group_id, charged.amount) == ("g-1", Money(7_000, "KRW"))
    view = await payments_of(payments.client, "order-action")
    assert view["captured"] == 10_000
    paid = [
        item for item in view["items"] if item["balance_group"] == "g-1" and item["status"] == "succeeded"
    ]
    assert [(p["psp_reference"], p["balance_attempt"]) for p in paid] == [(declined["psp_reference"], 2)]

    # the PSP delivers at least once: the same event again changes nothing
    again = await payments.sandbox.webhooks.redeliver(delivery.event_id)
    assert again is not None
    assert again.status == 200
    assert again.answer == {"event_id": delivery.event_id, "status": "duplicate"}
    # another event about the same charge tells nothing new either
    other = await payments.sandbox.complete_action(
        charge_reference=declined["psp_reference"], amount=7_000, currency="KRW"
    )
    assert other.answer == {"event_id": other.event_id, "status": "no_change"}
    await worker_idle()
    assert (await payments_of(payments.client, "order-action"))["captured"] == 10_000
    assert len([m for m in probe.of_type(contracts.BalanceCharged) if m.order_id == "order-action"]) == 1


async def test_a_webhook_not_signed_by_the_psp_or_signed_too_long_ago_is_refused_and_changes_nothing(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    declined = await _balance_needing_action(broker, probe, payments, "order-forged")
    body = _event("evt_forged_1", declined["psp_reference"])
    now = int(time.time())

    missing = await _post(payments, body, None)
    malformed = await _post(payments, body, "sha256=abc")
    forged = await _post(payments, body, webhooks.sign(body, secret="whsec-an-attacker-guess", timestamp=now))
    tampered = await _post(
        payments,
        _event("evt_forged_1", declined["psp_reference"], amount=1),
        webhooks.sign(body, secret=NEW_SECRET, timestamp=now),
    )
    stale = await _post(payments, body, webhooks.sign(body, secret=NEW_SECRET, timestamp=now - 301))

    for response, status, code in (
        (missing, 400, "missing_signature"),
        (malformed, 400, "malformed_signature"),
        (forged, 401, "bad_signature"),
        (tampered, 401, "bad_signature"),
        (stale, 401, "stale_signature"),
    ):
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == code
        assert problem["errors"][0]["field"] == f"header:{webhooks.SIGNATURE_HEADER}"
    assert "300 s" in stale.json()["detail"]
    view = await payments_of(payments.client, "order-forged")
    assert view["captured"] == 3_000

    # the refused deliveries recorded nothing: the same event, properly signed, still takes effect
    signed = await _post(payments, body, webhooks.sign(body, secret=NEW_SECRET, timestamp=now - 10))
    assert signed.json() == {"event_id": "evt_forged_1", "status": "balance_charged"}
    assert (await payments_of(payments.client, "order-forged"))["captured"] == 10_000


async def test_during_a_secret_rotation_the_old_and_the_new_secret_both_verify(payments: Payments) -> None:
    now = int(time.time())
    old = b'{"id":"evt_rotation_old","type":"customer.updated","data":{}}'
    new = b'{"id":"evt_rotation_new","type":"customer.updated","data":{}}'

    by_old = await _post(payments, old, webhooks.sign(old, secret=OLD_SECRET, timestamp=now))
    by_new = await _post(payments, new, webhooks.sign(new, secret=NEW_SECRET, timestamp=now))

    # an event type payments does not act on is recorded and acknowledged, so the PSP stops sending it
    assert by_old.json() == {"event_id": "evt_rotation_old", "status": "ignored"}
    assert by_new.json() == {"event_id": "evt_rotation_new", "status": "ignored"}
    unknown_charge = _event("evt_unknown_charge", "sandbox_ch_never_made")
    answer = await _post(
        payments, unknown_charge, webhooks.sign(unknown_charge, secret=OLD_SECRET, timestamp=now)
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "unknown_charge"
    not_json = await _post(
        payments, b"{not json", webhooks.sign(b"{not json", secret=NEW_SECRET, timestamp=now)
    )
    assert not_json.status_code == 400
    assert not_json.json()["code"] == "malformed_event"


async def test_a_charge_confirmed_after_another_attempt_paid_the_group_is_refunded_at_once(
    payments: Payments, probe: MessageProbe, broker: AbstractRobustConnection
) -> None:
    """The customer replaced the card and the retry paid the group; then they also confirmed the first,
    declined charge at their bank, and the PSP took the money a second time. Payments records that charge
    and gives it back at once, once however often the PSP tells of it."""
    order_id = "order-paid-twice"
    declined = await _balance_needing_action(broker, probe, payments, order_id)
    replaced = await payments.client.put(f"/payment-methods/{order_id}", json={"token": "tok_visa"})
    assert replaced.status_code == 200, replaced.text
    await send(
        broker,
        contracts.ChargeBalance(order_id=order_id, group_id="g-1", amount=Money(7_000, "KRW")),
        subject=order_id,
    )
    paid = await probe.wait_for(contracts.BalanceCharged, lambda m: m.order_id == order_id)

    delivery = await payments.sandbox.complete_action(
        charge_reference=declined["psp_reference"], amount=7_000, currency="KRW"
    )
    assert delivery.answer == {"event_id": delivery.event_id, "status": "already_paid"}
    again = await payments.sandbox.webhooks.redeliver(delivery.event_id)
    assert again is not None
    assert again.answer == {"event_id": delivery.event_id, "status": "duplicate"}
    other = await payments.sandbox.complete_action(
        charge_reference=declined["psp_reference"], amount=7_000, currency="KRW"
    )
    assert other.answer == {"event_id": other.event_id, "status": "no_change"}
    await worker_idle()

    assert [(r.charge_reference, r.amount) for r in payments.sandbox.refunds] == [
        (declined["psp_reference"], 7_000)
    ]
    view = await payments_of(payments.client, order_id)
    assert (view["captured"] - view["refunded"]) == 10_000  # what the customer owes: deposit and balance
    assert (view["captured"], view["refunded"]) == (17_000, 7_000)
    [refund] = view["refunds"]
    assert (refund["amount"], refund["reason"]) == (7_000, "charged_twice")
    charged = [m for m in probe.of_type(contracts.BalanceCharged) if m.order_id == order_id]
    assert [m.payment_id for m in charged] == [paid.payment_id]
