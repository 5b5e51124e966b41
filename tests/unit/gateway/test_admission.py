"""Checkout admission: a limited number of checkouts at once, the rest served in arrival order or told to come
back (503 busy) once they waited their longest; other routes are never held."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from shop_gateway.admission import CheckoutAdmission


class Downstream:
    """An app whose requests finish only when the test says so; it records the order it was entered in."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.release = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered.append(dict(scope["headers"])[b"x-buyer"].decode())
        await self.release.wait()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


async def call(app: Any, buyer: str, *, path: str = "/v1/orders", method: str = "POST") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [(b"x-buyer", buyer.encode())]}
    await app(scope, receive, send)
    return sent


async def test_those_who_came_first_are_served_first_and_the_rest_wait_their_turn() -> None:
    downstream = Downstream()
    app = CheckoutAdmission(downstream, limit=2, wait_seconds=5, retry_after_seconds=1)
    buyers = []
    for name in ("a", "b", "c", "d"):
        buyers.append(asyncio.create_task(call(app, name)))
        await asyncio.sleep(0.01)
    assert downstream.entered == ["a", "b"]  # two at once; c and d wait
    downstream.release.set()
    answers = await asyncio.gather(*buyers)
    assert downstream.entered == ["a", "b", "c", "d"]
    assert [answer[0]["status"] for answer in answers] == [202, 202, 202, 202]


async def test_a_checkout_that_waited_its_longest_is_told_to_come_back_without_reaching_the_shop() -> None:
    downstream = Downstream()
    app = CheckoutAdmission(downstream, limit=1, wait_seconds=0.05, retry_after_seconds=3)
    first = asyncio.create_task(call(app, "first"))
    await asyncio.sleep(0.01)

    turned_away = await call(app, "late")

    start, body = turned_away
    assert start["status"] == 503
    headers = dict(start["headers"])
    assert headers[b"retry-after"] == b"3"
    assert headers[b"content-type"] == b"application/problem+json"
    problem = json.loads(body["body"])
    assert problem["code"] == "busy"
    assert "same Idempotency-Key" in problem["detail"]
    assert downstream.entered == ["first"]
    downstream.release.set()
    assert (await first)[0]["status"] == 202
    assert (await call(app, "later"))[0]["status"] == 202  # the turn was given back


async def test_other_routes_are_never_held() -> None:
    downstream = Downstream()
    app = CheckoutAdmission(downstream, limit=1, wait_seconds=0.05, retry_after_seconds=1)
    held = asyncio.create_task(call(app, "checkout"))
    await asyncio.sleep(0.01)
    reading = asyncio.create_task(call(app, "reader", path="/v1/orders/123", method="GET"))
    await asyncio.sleep(0.01)
    assert downstream.entered == ["checkout", "reader"]
    downstream.release.set()
    await asyncio.gather(held, reading)
