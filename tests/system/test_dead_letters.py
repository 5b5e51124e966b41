"""Dead letters through the staff API of a running shop: a message payments cannot handle is parked, staff
see it with its error, replay it once the cause is fixed, and purge what cannot be fixed after confirming
how many they saw. Support may only read (unit tests), warehouse nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from scripts.stack import Stack
from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_contracts.routing import COMMANDS_EXCHANGE
from shop_runtime.broker import connect, declare_exchanges
from shop_runtime.metrics import worker_metrics_port
from tests.support.messages import eventually, send
from tests.system.shop import STAFF, WAREHOUSE

pytestmark = pytest.mark.system

DEAD_LETTERS = "/v1/admin/dead-letters"


async def rename_table(stack: Stack, old: str, new: str) -> None:
    engine = create_async_engine(stack.config.database_url("payments"))
    async with engine.begin() as connection:
        await connection.execute(sa.text(f'ALTER TABLE "{old}" RENAME TO "{new}"'))
    await engine.dispose()


@pytest.fixture
async def payments_without_saved_methods(stack: Stack) -> AsyncIterator[None]:
    """The cause of the failures: a table payments needs is gone (a botched migration, say)."""
    await rename_table(stack, "payment_methods", "payment_methods_away")
    try:
        yield
    finally:
        engine = create_async_engine(stack.config.database_url("payments"))
        async with engine.connect() as connection:
            away = await connection.scalar(sa.text("SELECT to_regclass('payment_methods_away') IS NOT NULL"))
        await engine.dispose()
        if away:
            await rename_table(stack, "payment_methods_away", "payment_methods")


async def parked_at_payments(gateway: httpx.AsyncClient) -> dict[str, Any]:
    listed = await gateway.get(DEAD_LETTERS, headers=STAFF)
    assert listed.status_code == 200, listed.text
    [payments] = [entry for entry in listed.json()["services"] if entry["service"] == "payments"]
    return payments  # type: ignore[no-any-return]


async def test_a_parked_message_is_seen_replayed_after_the_fix_and_the_rest_purged(
    gateway: httpx.AsyncClient, stack: Stack, payments_without_saved_methods: None
) -> None:
    order_id = f"dl-{uuid.uuid4()}"
    broker = await connect(stack.config.amqp_url)
    try:
        charge = await send(
            broker,
            contracts.ChargeBalance(order_id=order_id, group_id="g-1", amount=Money(1000, "KRW")),
            subject=order_id,
        )
        channel = await broker.channel(publisher_confirms=True)
        await declare_exchanges(channel)
        not_json = str(uuid.uuid4())
        await (await channel.get_exchange(COMMANDS_EXCHANGE)).publish(
            aio_pika.Message(b"{not json", message_id=not_json, type="payments.payment.capture.v1"),
            routing_key="payments.payment.capture.v1",
        )
    finally:
        await broker.close()
    charge_id = str(charge.id)

    async def both_parked() -> None:
        ids = {item["id"] for item in (await parked_at_payments(gateway))["items"]}
        assert {charge_id, not_json} <= ids

    await eventually(both_parked, timeout=30)
    listed = await gateway.get(DEAD_LETTERS, headers=STAFF)
    assert {entry["service"] for entry in listed.json()["services"]} == {
        "catalog",
        "orders",
        "payments",
        "fulfillment",
        "notifications",
    }
    assert listed.json()["total"] >= 2
    assert (await gateway.get(DEAD_LETTERS, headers=WAREHOUSE)).status_code == 403
    assert (await gateway.get(DEAD_LETTERS)).status_code == 401

    shown = await gateway.get(f"{DEAD_LETTERS}/payments/{charge_id}", headers=STAFF)
    assert shown.status_code == 200, shown.text
    details = shown.json()
    assert details["attempts"] == 4  # the first try and three retries
    assert "payment_methods" in details["error"]
    assert 'File "' in details["traceback"]  # its last 4,000 characters
    assert details["type"] == contracts.ChargeBalance.TYPE
    assert details["original_routing_key"] == contracts.ChargeBalance.TYPE
    assert details["headers"]["x-shop-attempts"] == 4  # the headers it was parked with
    assert details["body"]["data"]["order_id"] == order_id
    missing = await gateway.get(f"{DEAD_LETTERS}/payments/{uuid.uuid4()}", headers=STAFF)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    # parked depth is a metric the payments worker samples
    metrics_url = f"http://127.0.0.1:{worker_metrics_port(stack.config.service_port('payments'))}/metrics"

    async def depth_is_a_metric() -> None:
        async with httpx.AsyncClient() as client:
            text = (await client.get(metrics_url)).text
        samples = [
            line
            for line in text.splitlines()
            if line.startswith('shop_dead_letter_messages{queue="payments.messages.parked"}')
        ]
        assert len(samples) == 1, f"parked depth samples so far: {samples}"
        [sample] = samples
        assert float(sample.rsplit(" ", 1)[1]) >= 2

    await eventually(depth_is_a_metric, timeout=30)

    # fix the cause, then replay: the charge takes effect (no saved method: a declined attempt is recorded)
    await rename_table(stack, "payment_methods_away", "payment_methods")
    replayed = await gateway.post(f"{DEAD_LETTERS}/payments/{charge_id}/replay", headers=STAFF)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replayed"] == [charge_id]
    payments_url = f"http://127.0.0.1:{stack.config.service_port('payments')}"

    async def charge_recorded() -> None:
        async with httpx.AsyncClient(base_url=payments_url) as payments:
            view = (await payments.get("/payments", params={"order_id": order_id})).json()
        assert [(p["balance_group"], p["decline_code"]) for p in view["items"]] == [
            ("g-1", "no_saved_method")
        ]

    await eventually(charge_recorded, timeout=20)
    parked = await parked_at_payments(gateway)
    assert charge_id not in {item["id"] for item in parked["items"]}

    # what cannot be fixed is purged, only with the count the caller saw
    unconfirmed = await gateway.delete(f"{DEAD_LETTERS}/payments", headers=STAFF)
    assert unconfirmed.status_code == 409
    assert unconfirmed.json()["code"] == "purge_not_confirmed"
    count = parked["count"]
    wrong = await gateway.delete(f"{DEAD_LETTERS}/payments", params={"confirm": count + 1}, headers=STAFF)
    assert wrong.status_code == 409
    assert f"{count} message(s) are parked" in wrong.json()["detail"]
    assert (await parked_at_payments(gateway))["count"] == count  # nothing deleted
    assert (
        await gateway.delete(f"{DEAD_LETTERS}/payments", params={"confirm": count}, headers=WAREHOUSE)
    ).status_code == 403
    purged = await gateway.delete(f"{DEAD_LETTERS}/payments", params={"confirm": count}, headers=STAFF)
    assert purged.status_code == 200, purged.text
    assert purged.json() == {"service": "payments", "purged": count}
    assert not_json not in {item["id"] for item in (await parked_at_payments(gateway))["items"]}
