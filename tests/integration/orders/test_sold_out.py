"""Orders answers a checkout for a SKU catalog said is sold out at once (409 ``sold_out``), from its copy of
catalog's availability, and takes orders again as soon as catalog says units came back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractRobustConnection
from sqlalchemy.engine import make_url

from shop_contracts import catalog as contracts
from shop_contracts.values import Money, PreorderPolicy
from shop_orders.bootstrap import DEFINITION
from tests.support import infra
from tests.support.messages import eventually, send
from tests.support.services import running_service

pytestmark = pytest.mark.integration

ADDRESS = {"name": "Kim", "line1": "1 Teheran-ro", "city": "Seoul", "postal_code": "06236", "country": "KR"}


class Orders:
    def __init__(
        self, client: httpx.AsyncClient, broker: AbstractRobustConnection, database_url: str
    ) -> None:
        self.client = client
        self.broker = broker
        self.database_url = database_url

    async def variant(self, sku: str) -> None:
        await send(
            self.broker,
            contracts.VariantUpdated(
                product_id="p",
                variant_id=f"v-{sku}",
                sku=sku,
                title="Tee",
                options={},
                prices=[Money(amount=39000, currency="KRW")],
                version=1,
            ),
            subject=sku,
        )

    async def catalog_says(self, sku: str, *, version: int, **figures: Any) -> None:
        await send(
            self.broker, contracts.StockAvailabilityChanged(sku=sku, version=version, **figures), subject=sku
        )

    async def checkout(self, sku: str, quantity: int = 1) -> httpx.Response:
        body = {
            "email": "buyer@example.com",
            "locale": "en",
            "currency": "KRW",
            "lines": [{"sku": sku, "quantity": quantity}],
            "shipping_address": ADDRESS,
            "shipping_method": "standard",
            "payment": {"token": "tok_visa"},
        }
        return await self.client.post("/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})

    async def answers(self, sku: str, status: int, quantity: int = 1) -> httpx.Response:
        """Wait until a checkout of ``sku`` is answered with ``status`` (the worker applies catalog's word)."""
        answer: httpx.Response | None = None

        async def answered() -> None:
            nonlocal answer
            answer = await self.checkout(sku, quantity)
            assert answer.status_code == status, answer.text

        await eventually(answered)
        assert answer is not None
        return answer


async def end_connections_to(database_url: str) -> int:
    """Have PostgreSQL end every other connection to this database; how many it ended."""
    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
    )
    try:
        ended = await connection.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()) AS ended"
        )
    finally:
        await connection.close()
    return int(ended)


@pytest.fixture
async def orders(broker: AbstractRobustConnection) -> AsyncIterator[Orders]:
    settings = infra.service_settings(DEFINITION, suffix="_sold_out")
    async with running_service(DEFINITION, settings, broker) as service:
        yield Orders(service.client, broker, settings.database_url)


async def test_a_sold_out_sku_is_refused_at_once_and_sold_again_when_back_in_stock(orders: Orders) -> None:
    await orders.variant("SO-TEE")
    await orders.catalog_says("SO-TEE", version=1, in_stock_units=2)
    await orders.answers("SO-TEE", 202)
    # Some units left: catalog decides even a line of more than it said (it names the shortage).
    assert (await orders.checkout("SO-TEE", quantity=5)).status_code == 202

    await orders.catalog_says("SO-TEE", version=2, in_stock_units=0)
    refused = await orders.answers("SO-TEE", 409)
    problem = refused.json()
    assert problem["code"] == "sold_out"
    assert problem["errors"] == [
        {"field": "lines[0].sku", "message": "SO-TEE is sold out: no units are left"}
    ]

    # A late, older word changes nothing; the newer one brings the SKU back.
    await orders.catalog_says("SO-TEE", version=1, in_stock_units=2)
    await orders.catalog_says("SO-TEE", version=3, in_stock_units=1)
    await orders.answers("SO-TEE", 202)
    await orders.catalog_says("SO-TEE", version=2, in_stock_units=0)
    assert (await orders.checkout("SO-TEE")).status_code == 202


async def test_a_full_preorder_cap_is_refused_at_once_only_under_the_same_policy(orders: Orders) -> None:
    await orders.variant("SO-DROP")
    policy = PreorderPolicy(payment_mode="pay_now", cap=2)
    await send(
        orders.broker,
        contracts.PreorderPolicyUpdated(sku="SO-DROP", policy=policy, version=1),
        subject="SO-DROP",
    )
    await orders.catalog_says("SO-DROP", version=1, in_stock_units=0, preorder_units_left=0, policy_version=1)
    refused = await orders.answers("SO-DROP", 409)
    assert refused.json()["errors"][0]["message"] == "SO-DROP is sold out: its pre-order is full"

    # Staff raise the cap: until catalog counts under the new policy, catalog decides.
    raised = PreorderPolicy(payment_mode="pay_now", cap=5)
    await send(
        orders.broker,
        contracts.PreorderPolicyUpdated(sku="SO-DROP", policy=raised, version=2),
        subject="SO-DROP",
    )
    await orders.answers("SO-DROP", 202)
    await orders.catalog_says("SO-DROP", version=2, in_stock_units=0, preorder_units_left=3, policy_version=2)
    assert (await orders.checkout("SO-DROP")).status_code == 202


async def test_a_sku_catalog_said_nothing_about_is_left_to_catalog(orders: Orders) -> None:
    await orders.variant("SO-NEW")
    await orders.answers("SO-NEW", 202)


async def test_checkout_reads_again_on_a_fresh_connection_after_postgres_ended_the_old_ones(
    orders: Orders,
) -> None:
    """Checkout's reads skip the pool's pre-ping; a connection PostgreSQL closed (a restart, a failover) costs
    one read again on a fresh one, never the buyer's answer."""
    await orders.variant("SO-GONE")
    await orders.catalog_says("SO-GONE", version=1, in_stock_units=0)
    await orders.answers("SO-GONE", 409)
    # Every connection the pools hold on orders' database is ended under them, as a restart would.
    ended = await end_connections_to(orders.database_url)
    assert ended > 0
    refused = await orders.checkout("SO-GONE")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "sold_out"
