"""Checkout holds the order's units in catalog over kept-alive connections before it stores the order: the hold
carries the checkout's trace, a refused hold is the buyer's 409 and stores nothing, a catalog that does not answer
in time leaves the decision to the saga, and checkouts beyond the connections to catalog wait their turn. The
order and its messages are stored by one statement that wakes the relay; a retried key, or the same key sent
twice at once, is answered with the one order it placed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_orders import bootstrap
from shop_orders.bootstrap import DEFINITION
from shop_orders.core.tables import catalog_variants, outbox
from shop_runtime.database import OUTBOX_CHANNEL, create_engine
from shop_runtime.settings import ServiceSettings
from tests.support import infra
from tests.support.services import running_service

pytestmark = pytest.mark.integration

ADDRESS = {"name": "Kim", "line1": "1 Teheran-ro", "city": "Seoul", "postal_code": "06236", "country": "KR"}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
HOLD_SECONDS = 0.5


@dataclass
class Catalog:
    """Catalog's ``POST /stock-holds`` on the loopback: holds every SKU but ``SHORT-*`` (409 ``stock_short``) and
    ``SLOW-*`` (never answered while the test runs), answering the units held at seoul-1 (``BARE-*``: with the
    order's id alone, an answer that does not read); records each hold and counts connections."""

    connections: int = 0
    holds: list[tuple[dict[str, str], dict[str, object]]] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
                self.holds.append((headers, body))
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                sku = body["lines"][0]["sku"]
                if sku.startswith("SLOW-"):
                    await self.done.wait()
                    return
                await asyncio.sleep(0.02)  # a hold takes a while, so checkouts at once overlap here
                self.in_flight -= 1
                if sku.startswith("SHORT-"):
                    status, kind = b"409 Conflict", b"application/problem+json"
                    answer = {
                        "status": 409,
                        "title": "Catalog cannot hold every line of this order",
                        "code": "stock_short",
                        "errors": [
                            {
                                "field": "lines[0].sku",
                                "message": f"{sku}: 0 of 1 can be held",
                                "reason": "out_of_stock",
                                "sku": sku,
                                "requested": "1",
                                "available": "0",
                            }
                        ],
                    }
                elif sku.startswith("BARE-"):
                    status, kind, answer = b"201 Created", b"application/json", {"order_id": body["order_id"]}
                else:
                    status, kind = b"201 Created", b"application/json"
                    answer = {
                        "order_id": body["order_id"],
                        "lines": [{**line, "location": "seoul-1"} for line in body["lines"]],
                        "preorder_lines": [],
                        "exchange_id": None,
                    }
                payload = json.dumps(answer).encode()
                writer.write(
                    b"HTTP/1.1 %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n%s"
                    % (status, kind, len(payload), payload)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def catalog_on_the_loopback() -> AsyncIterator[tuple[Catalog, str]]:
    catalog = Catalog()
    listener = await asyncio.start_server(catalog.handle, "127.0.0.1", 0)
    try:
        yield catalog, f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    finally:
        catalog.done.set()
        listener.close()


@dataclass
class Shop:
    orders: httpx.AsyncClient
    catalog: Catalog
    settings: ServiceSettings

    async def checkout(
        self, sku: str, headers: dict[str, str] | None = None, *, key: str | None = None
    ) -> httpx.Response:
        body = {
            "email": "buyer@example.com",
            "locale": "en",
            "currency": "KRW",
            "lines": [{"sku": sku, "quantity": 1}],
            "shipping_address": ADDRESS,
            "shipping_method": "standard",
            "payment": {"token": "tok_visa"},
        }
        return await self.orders.post(
            "/orders", json=body, headers={"Idempotency-Key": key or str(uuid.uuid4()), **(headers or {})}
        )

    async def stored(
        self, message_type: str = "catalog.stock.reserve.v1"
    ) -> tuple[int, list[dict[str, Any]]]:
        """Orders stored, and the messages of ``message_type`` (the reserves) checkout wrote for the saga."""
        engine = create_engine(self.settings)
        try:
            async with engine.connect() as connection:
                count = await connection.scalar(sa.text("SELECT count(*) FROM orders"))
                bodies = await connection.scalars(
                    sa.select(outbox.c.body).where(outbox.c.message_type == message_type)
                )
                reserves = [json.loads(body) for body in bodies]
        finally:
            await engine.dispose()
        return int(count or 0), reserves

    async def status(self, order_id: str) -> str:
        engine = create_engine(self.settings)
        try:
            async with engine.connect() as connection:
                status = await connection.scalar(
                    sa.text("SELECT status FROM orders WHERE id = :id"), {"id": order_id}
                )
        finally:
            await engine.dispose()
        return str(status)


@contextlib.contextmanager
def catalog_connections(count: int) -> Iterator[None]:
    original = bootstrap.CATALOG_CONNECTIONS
    bootstrap.CATALOG_CONNECTIONS = count
    try:
        yield
    finally:
        bootstrap.CATALOG_CONNECTIONS = original


@pytest.fixture
async def shop(broker: AbstractRobustConnection) -> AsyncIterator[Shop]:
    async with catalog_on_the_loopback() as (catalog, url):
        settings = infra.service_settings(
            DEFINITION, suffix="_holds", catalog_url=url, stock_hold_timeout_seconds=HOLD_SECONDS
        )
        with catalog_connections(2):
            async with running_service(DEFINITION, settings, broker) as service:
                engine = create_engine(settings)
                async with engine.begin() as connection:
                    for sku in ("HELD-TEE", "SHORT-TEE", "SLOW-TEE", "BARE-TEE"):
                        await connection.execute(
                            sa.insert(catalog_variants).values(
                                sku=sku,
                                product_id="p",
                                variant_id=f"v-{sku}",
                                title="Tee",
                                options={},
                                prices={"KRW": 39000},
                                version=1,
                            )
                        )
                await engine.dispose()
                yield Shop(service.client, catalog, settings)


async def test_a_held_checkout_is_placed_and_its_hold_carries_the_checkouts_trace(shop: Shop) -> None:
    traceparent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    placed = await shop.checkout("HELD-TEE", headers={"traceparent": traceparent})
    assert placed.status_code == 202, placed.text
    [(headers, body)] = shop.catalog.holds
    assert headers["traceparent"].split("-")[1] == TRACE_ID
    assert body["order_id"] == placed.json()["id"]
    assert body["lines"] == [{"sku": "HELD-TEE", "quantity": 1}]
    assert body["customer_email"] == "buyer@example.com"
    assert (await shop.stored())[0] == 1


async def test_a_held_checkout_is_stored_reserved_with_the_capture_and_the_holds_claim_written(
    shop: Shop,
) -> None:
    placed = await shop.checkout("HELD-TEE")
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]
    assert placed.json()["status"] == "reserved"
    assert await shop.status(order_id) == "reserved"
    _, reserves = await shop.stored()
    assert [(r["data"]["order_id"], r["data"]["claim_hold"]) for r in reserves] == [(order_id, True)]
    _, captures = await shop.stored("payments.payment.capture.v2")
    assert [(c["data"]["order_id"], c["data"]["amount"]["amount"]) for c in captures] == [(order_id, 42000)]


async def test_a_held_checkout_whose_answer_does_not_read_is_left_to_the_sagas_reserve(shop: Shop) -> None:
    placed = await shop.checkout("BARE-TEE")
    assert placed.status_code == 202, placed.text
    assert await shop.status(placed.json()["id"]) == "pending"
    _, reserves = await shop.stored()
    assert [r["data"]["claim_hold"] for r in reserves] == [False]
    assert (await shop.stored("payments.payment.capture.v2"))[1] == []


async def test_a_refused_hold_is_a_409_naming_the_line_and_stores_nothing(shop: Shop) -> None:
    refused = await shop.checkout("SHORT-TEE")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "sold_out"
    assert problem["errors"] == [
        {"field": "lines[0].sku", "message": "SHORT-TEE is sold out: no units are left"}
    ]
    assert await shop.stored() == (0, [])


async def test_a_catalog_that_does_not_answer_in_time_leaves_the_order_to_the_sagas_reserve(
    shop: Shop,
) -> None:
    placed = await shop.checkout("SLOW-TEE")
    assert placed.status_code == 202, placed.text
    count, reserves = await shop.stored()
    assert count == 1
    assert [reserve["data"]["order_id"] for reserve in reserves] == [placed.json()["id"]]
    # The connection the unanswered hold was on is not used again: the next checkout is held on another.
    assert (await shop.checkout("HELD-TEE")).status_code == 202
    assert shop.catalog.connections == 2


async def test_checkouts_beyond_the_connections_to_catalog_wait_their_turn_and_are_all_held(
    shop: Shop,
) -> None:
    answers = await asyncio.gather(*(shop.checkout("HELD-TEE") for _ in range(8)))
    assert [answer.status_code for answer in answers] == [202] * 8
    assert len(shop.catalog.holds) == 8
    assert shop.catalog.connections <= 2
    assert shop.catalog.most_in_flight <= 2
    assert (await shop.stored())[0] == 8


async def test_a_placed_checkout_wakes_the_relay_as_its_order_and_messages_commit(shop: Shop) -> None:
    url = shop.settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    listener = await asyncpg.connect(url)
    woken = asyncio.Event()
    await listener.add_listener(OUTBOX_CHANNEL, lambda *_: woken.set())
    try:
        placed = await shop.checkout("HELD-TEE")
        assert placed.status_code == 202, placed.text
        await asyncio.wait_for(woken.wait(), timeout=10)
    finally:
        await listener.close()
    count, reserves = await shop.stored()
    assert (count, [reserve["data"]["order_id"] for reserve in reserves]) == (1, [placed.json()["id"]])


async def test_a_retried_key_is_answered_with_the_order_it_placed(shop: Shop) -> None:
    first = await shop.checkout("HELD-TEE", key="retried-key")
    again = await shop.checkout("HELD-TEE", key="retried-key")
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json()["id"] == first.json()["id"]
    assert (first.headers["Idempotent-Replayed"], again.headers["Idempotent-Replayed"]) == ("false", "true")
    count, reserves = await shop.stored()
    assert (count, len(reserves)) == (1, 1)


async def test_one_key_sent_several_times_at_once_places_one_order_with_one_set_of_messages(
    shop: Shop,
) -> None:
    """The losers' statements fail on the order's keys and leave no row and no message behind; each is answered
    with the order that won."""
    answers = await asyncio.gather(*(shop.checkout("HELD-TEE", key="raced-key") for _ in range(6)))
    assert [answer.status_code for answer in answers] == [202] * 6, [answer.text for answer in answers]
    assert len({answer.json()["id"] for answer in answers}) == 1
    count, reserves = await shop.stored()
    assert (count, [reserve["data"]["order_id"] for reserve in reserves]) == (1, [answers[0].json()["id"]])
