"""The storefront client against a mock transport: request bodies and headers, retries, the typed answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from shop_storefront import (
    SEOUL,
    OrderAccess,
    Retry,
    Staff,
    Storefront,
    UnexpectedAnswer,
    Variant,
    Warehouse,
    checkout,
    expect,
    new_sku,
)

BUSY = {"type": "about:blank", "status": 503, "code": "busy", "title": "The shop is taking many checkouts"}
UNKNOWN_SKU = {"status": 422, "code": "unknown_sku", "detail": "no product variant has SKU TEE-1"}
ACCEPTED = {"id": "order-1", "access_token": "token-1", "status": "pending"}


class Gateway:
    """A mock gateway answering each request with the next scripted answer, and keeping every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), base_url="http://gateway")

    def bodies(self) -> list[Any]:
        return [json.loads(request.content) if request.content else None for request in self.requests]


def answer(status: int, body: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every pause the client takes, recorded instead of waited."""
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", sleep)
    return pauses


async def test_a_checkout_is_sent_with_a_new_idempotency_key_and_answers_the_order_and_its_token() -> None:
    gateway = Gateway(answer(202, ACCEPTED))
    body = checkout("TEE-1", quantity=2)
    async with gateway.client() as http:
        placed = await Storefront(http).place(body)
    [request] = gateway.requests
    assert (request.method, request.url.path) == ("POST", "/v1/orders")
    assert request.headers["Idempotency-Key"] == placed.key
    assert len(placed.key) == 36
    assert "X-Api-Key" not in request.headers
    assert gateway.bodies() == [body]
    assert (placed.status_code, placed.accepted, placed.order_id, placed.access_token) == (
        202,
        True,
        "order-1",
        "token-1",
    )
    assert placed.access == OrderAccess("order-1", "token-1")
    assert (placed.tries, placed.turned_away) == (1, 0)


async def test_busy_is_sent_again_with_the_same_key_after_retry_after(slept: list[float]) -> None:
    gateway = Gateway(
        answer(503, BUSY, **{"Retry-After": "2"}),
        answer(503, BUSY, **{"Retry-After": "3"}),
        answer(202, ACCEPTED),
    )
    async with gateway.client() as http:
        placed = await Storefront(http, retry=Retry(within=60)).place(checkout("TEE-1"), key="key-1")
    assert [request.headers["Idempotency-Key"] for request in gateway.requests] == ["key-1"] * 3
    assert slept == [2.0, 3.0]
    assert (placed.accepted, placed.tries, placed.turned_away) == (True, 3, 2)


async def test_without_a_retry_policy_busy_is_the_answer() -> None:
    gateway = Gateway(answer(503, BUSY, **{"Retry-After": "1"}), answer(202, ACCEPTED))
    async with gateway.client() as http:
        placed = await Storefront(http).place(checkout("TEE-1"))
    assert (placed.status_code, placed.accepted, placed.tries, len(gateway.requests)) == (503, False, 1, 1)
    with pytest.raises(UnexpectedAnswer) as refused:
        _ = placed.order_id
    assert refused.value.response.status_code == 503


async def test_busy_is_given_up_after_the_policy_s_seconds() -> None:
    gateway = Gateway(answer(503, BUSY, **{"Retry-After": "0.01"}))
    async with gateway.client() as http:
        placed = await Storefront(http, retry=Retry(within=0.05)).place(checkout("TEE-1"))
    assert placed.status_code == 503
    assert placed.tries >= 2
    assert placed.turned_away == placed.tries - 1


async def test_a_sku_orders_has_not_heard_of_yet_is_tried_again_only_while_asked(slept: list[float]) -> None:
    gateway = Gateway(answer(422, UNKNOWN_SKU), answer(202, ACCEPTED))
    async with gateway.client() as http:
        refused = await Storefront(http).place(checkout("TEE-1"))
        gateway.answers = [answer(422, UNKNOWN_SKU), answer(202, ACCEPTED)]
        placed = await Storefront(http).place(checkout("TEE-1"), wait_for_new_skus=15)
    assert refused.status_code == 422
    assert (placed.accepted, placed.tries, placed.turned_away) == (True, 2, 0)
    assert len(slept) == 1


async def test_server_errors_and_lost_connections_are_retried_only_when_the_policy_says(
    slept: list[float],
) -> None:
    flaky: list[httpx.Response | Exception] = [
        answer(500),
        httpx.ConnectError("refused"),
        answer(429),
        answer(200, {"status": "confirmed"}),
    ]
    gateway = Gateway(*flaky)
    access = OrderAccess("order-1", "token-1")
    async with gateway.client() as http:
        view = await Storefront(http, retry=Retry(within=60, pause=0.5, server_errors=True)).order(access)
        gateway.answers = [answer(500), answer(200, {"status": "confirmed"})]
        plain = await Storefront(http).read_order(access)
    assert view == {"status": "confirmed"}
    assert slept == [0.5, 0.5, 0.5]
    assert plain.status_code == 500
    assert gateway.requests[0].headers["Authorization"] == "Bearer token-1"
    assert gateway.requests[0].url.path == "/v1/orders/order-1"


async def test_busy_alone_is_not_a_reason_to_retry_a_server_error(slept: list[float]) -> None:
    gateway = Gateway(answer(503, {"code": "unavailable"}), answer(200))
    async with gateway.client() as http:
        response = await Storefront(http, retry=Retry(within=60)).get("/v1/products")
    assert (response.status_code, slept) == (503, [])


async def test_following_an_order_answers_the_view_at_the_status_or_says_what_it_saw(
    slept: list[float],
) -> None:
    pending = {"status": "pending", "timeline": [{"event": "placed"}]}
    gateway = Gateway(answer(404), answer(200, pending), answer(200, {**pending, "status": "confirmed"}))
    access = OrderAccess("order-1", "token-1")
    async with gateway.client() as http:
        storefront = Storefront(http)
        view = await storefront.follow(access, "confirmed", poll=0.1)
        gateway.answers = [answer(200, pending)]
        with pytest.raises(TimeoutError, match=r"status pending, timeline \['placed'\]"):
            await storefront.follow(access, lambda shown: bool(shown.get("shipments")), timeout=-1)
    assert view["status"] == "confirmed"
    assert slept == [0.1, 0.1]


async def test_staff_create_a_product_with_prices_per_currency_and_receive_its_stock() -> None:
    gateway = Gateway(answer(201, {"id": "product-1"}), answer(201, {"id": "adjustment-1"}))
    async with gateway.client() as http:
        product_id = await Staff(http, "staff-key").product_in_stock(
            Variant("TEE-1", prices={"KRW": 39000, "USD": 30}), 5, title="Tee"
        )
    assert product_id == "product-1"
    assert [request.headers["X-Api-Key"] for request in gateway.requests] == ["staff-key"] * 2
    assert [request.url.path for request in gateway.requests] == [
        "/v1/admin/products",
        "/v1/admin/inventory/adjustments",
    ]
    assert gateway.bodies() == [
        {
            "title": "Tee",
            "variants": [
                {
                    "sku": "TEE-1",
                    "options": {"size": "M"},
                    "prices": [{"currency": "KRW", "amount": 39000}, {"currency": "USD", "amount": 30}],
                }
            ],
        },
        {"sku": "TEE-1", "location": "seoul-1", "delta": 5, "reason": "received"},
    ]


async def test_a_refused_product_raises_with_the_answer() -> None:
    gateway = Gateway(answer(409, {"detail": "SKU in use"}))
    async with gateway.client() as http:
        with pytest.raises(UnexpectedAnswer, match="POST /v1/admin/products answered 409") as refused:
            await Staff(http, "staff-key").product_in_stock(Variant("TEE-1"), 5)
    assert refused.value.response.json() == {"detail": "SKU in use"}
    assert len(gateway.requests) == 1


async def test_staff_cancel_and_the_customer_cancel_differ_only_in_who_asks() -> None:
    gateway = Gateway(answer(200, {"status": "cancelled"}))
    async with gateway.client() as http:
        await Staff(http, "staff-key").cancel("order-1", "other")
        await Storefront(http).cancel(OrderAccess("order-1", "token-1"), "changed_mind", note="late")
    staff, customer = gateway.requests
    assert staff.url.path == customer.url.path == "/v1/orders/order-1/cancel"
    assert (staff.headers["X-Api-Key"], "Authorization" in staff.headers) == ("staff-key", False)
    assert (customer.headers["Authorization"], "X-Api-Key" in customer.headers) == ("Bearer token-1", False)
    assert gateway.bodies() == [{"reason": "other"}, {"reason": "changed_mind", "note": "late"}]


async def test_a_warehouse_reports_every_step_to_delivered_in_order() -> None:
    gateway = Gateway(answer(200))
    async with gateway.client() as http:
        await Warehouse(http, "warehouse-key").ship_and_deliver("fulfillment-1", "CJ0001")
    assert {request.url.path for request in gateway.requests} == {
        "/v1/warehouse/fulfillments/fulfillment-1/events"
    }
    assert {request.headers["X-Api-Key"] for request in gateway.requests} == {"warehouse-key"}
    assert gateway.bodies() == [
        {"type": "picked"},
        {"type": "packed"},
        {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": "CJ0001"},
        {"type": "delivered"},
    ]


async def test_at_most_in_flight_requests_are_on_the_wire_at_once() -> None:
    on_the_wire = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal on_the_wire, most
        on_the_wire += 1
        most = max(most, on_the_wire)
        await asyncio.sleep(0.01)
        on_the_wire -= 1
        return answer(202, ACCEPTED)

    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        storefront = Storefront(http, in_flight=asyncio.Semaphore(2))
        placed = await asyncio.gather(*(storefront.place(checkout("TEE-1")) for _ in range(6)))
    assert all(one.accepted for one in placed)
    assert most == 2


def test_a_checkout_body_is_fresh_each_time_with_a_new_buyer() -> None:
    first, second = checkout("TEE-1"), checkout("TEE-1", token="tok_card_declined", locale="en")
    assert first["email"] != second["email"]
    assert first["shipping_address"] == SEOUL.as_json()
    assert first["shipping_address"] is not second["shipping_address"]
    assert (second["payment"], second["locale"], second["lines"]) == (
        {"token": "tok_card_declined"},
        "en",
        [{"sku": "TEE-1", "quantity": 1}],
    )


def test_new_skus_differ_and_keep_their_prefix() -> None:
    skus: list[str] = [new_sku("JACKET") for _ in range(50)]
    assert len(set(skus)) == 50
    assert all(sku.startswith("JACKET-") and len(sku) == 15 for sku in skus)


def test_expect_answers_the_response_or_raises_with_it() -> None:
    request = httpx.Request("GET", "http://gateway/v1/products/x")
    found = httpx.Response(200, json={}, request=request)
    missing = httpx.Response(404, json={"detail": "no such product"}, request=request)
    assert expect(found, 200, 304) is found
    with pytest.raises(UnexpectedAnswer, match="GET /v1/products/x answered 404"):
        expect(missing, 200)


ORDER = OrderAccess("order-1", "token-1")
CALLS: list[tuple[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], str, str, Any]] = [
    (
        "return",
        lambda http: Storefront(http).request_return(ORDER, [{"sku": "TEE-1", "quantity": 1}], "damaged"),
        "POST",
        "/v1/orders/order-1/returns",
        {"lines": [{"sku": "TEE-1", "quantity": 1}], "reason": "damaged"},
    ),
    ("returns", lambda http: Storefront(http).returns(ORDER), "GET", "/v1/orders/order-1/returns", None),
    (
        "sign up",
        lambda http: Storefront(http).sign_up(email="a@example.com", password="pw", name="A", locale="ko"),
        "POST",
        "/v1/customers",
        {"email": "a@example.com", "name": "A", "password": "pw", "locale": "ko"},
    ),
    (
        "sign in",
        lambda http: Storefront(http).sign_in("a@example.com", "pw"),
        "POST",
        "/v1/auth/token",
        {"email": "a@example.com", "password": "pw"},
    ),
    (
        "waitlist",
        lambda http: Storefront(http).join_waitlist(sku="TEE-1", email="a@example.com"),
        "POST",
        "/v1/waitlist",
        {"sku": "TEE-1", "email": "a@example.com", "locale": "en"},
    ),
    (
        "pre-order policy",
        lambda http: Staff(http, "k").set_preorder_policy("TEE-1", {"payment_mode": "pay_now", "cap": 5}),
        "PUT",
        "/v1/admin/variants/TEE-1/preorder-policy",
        {"payment_mode": "pay_now", "cap": 5},
    ),
    (
        "end pre-order",
        lambda http: Staff(http, "k").end_preorder("TEE-1"),
        "DELETE",
        "/v1/admin/variants/TEE-1/preorder-policy",
        None,
    ),
    (
        "inbound",
        lambda http: Staff(http, "k").expect_inbound("TEE-1", 20, expected_at="2027-01-15T00:00:00Z"),
        "POST",
        "/v1/admin/inbounds",
        {"sku": "TEE-1", "location": "seoul-1", "quantity": 20, "expected_at": "2027-01-15T00:00:00Z"},
    ),
    (
        "receipt",
        lambda http: Staff(http, "k").receive_inbound("in-1", 18),
        "POST",
        "/v1/admin/inbounds/in-1/receive",
        {"quantity": 18},
    ),
    (
        "approve",
        lambda http: Staff(http, "k").approve_return("ret-1"),
        "POST",
        "/v1/admin/returns/ret-1/approve",
        None,
    ),
    (
        "draft",
        lambda http: Staff(http, "k").create_draft({"note": "x"}),
        "POST",
        "/v1/admin/draft-orders",
        {"note": "x"},
    ),
    ("read draft", lambda http: Staff(http, "k").draft("d-1"), "GET", "/v1/admin/draft-orders/d-1", None),
    (
        "change draft",
        lambda http: Staff(http, "k").change_draft("d-1", {"note": "y"}),
        "PATCH",
        "/v1/admin/draft-orders/d-1",
        {"note": "y"},
    ),
    (
        "invoice",
        lambda http: Staff(http, "k").send_invoice("d-1"),
        "POST",
        "/v1/admin/draft-orders/d-1/invoice",
        None,
    ),
    (
        "paid",
        lambda http: Staff(http, "k").mark_draft_paid("d-1", "KB-1"),
        "POST",
        "/v1/admin/draft-orders/d-1/mark-paid",
        {"reference": "KB-1"},
    ),
    ("picks", lambda http: Warehouse(http, "k").pick_requests(), "GET", "/v1/warehouse/pick-requests", None),
    (
        "returned parcel",
        lambda http: Warehouse(http, "k").receive_return(
            "ret-1", [{"sku": "TEE-1", "quantity": 1, "condition": "damaged"}]
        ),
        "POST",
        "/v1/warehouse/returns/ret-1/received",
        {"lines": [{"sku": "TEE-1", "quantity": 1, "condition": "damaged"}]},
    ),
]


@pytest.mark.parametrize(
    ("call", "method", "path", "body"), [c[1:] for c in CALLS], ids=[c[0] for c in CALLS]
)
async def test_each_call_sends_its_method_path_and_body(
    call: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]], method: str, path: str, body: Any
) -> None:
    gateway = Gateway(answer(200))
    async with gateway.client() as http:
        assert (await call(http)).status_code == 200
    [request] = gateway.requests
    assert (request.method, request.url.path) == (method, path)
    assert gateway.bodies() == [body]
