"""Orders' customer accounts against the real PostgreSQL: unique emails and one default address under races,
one answer for every failed login, checkout and order access for a signed-in customer, and segments."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_orders.bootstrap import DEFINITION
from shop_orders.core.tables import catalog_variants, outbox
from shop_runtime.database import create_engine
from tests.support import infra
from tests.support.services import running_service

pytestmark = pytest.mark.integration

ADDRESS = {"name": "Kim", "line1": "1 Teheran-ro", "city": "Seoul", "postal_code": "06236", "country": "KR"}
PASSWORD = "correct horse battery"


@pytest.fixture
async def orders(broker: AbstractRobustConnection) -> AsyncIterator[httpx.AsyncClient]:
    settings = infra.service_settings(DEFINITION, suffix="_customers")
    async with running_service(DEFINITION, settings, broker) as service:
        engine = create_engine(settings)
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(catalog_variants).values(
                    sku="CUS-TEE",
                    product_id="p",
                    variant_id="v",
                    title="Tee",
                    options={},
                    prices={"KRW": 39000},
                    version=1,
                )
            )
        await engine.dispose()
        yield service.client


async def sign_up(orders: httpx.AsyncClient, email: str, **extra: Any) -> httpx.Response:
    body = {"email": email, "name": "Kim", "locale": "en", "password": PASSWORD, **extra}
    return await orders.post("/customers", json=body)


async def test_racing_sign_ups_of_one_email_in_any_case_make_one_account(orders: httpx.AsyncClient) -> None:
    spellings = ["race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", " race@example.com"]
    answers = await asyncio.gather(*(sign_up(orders, email.strip()) for email in spellings))
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409]
    for answer in answers:
        if answer.status_code == 409:
            assert [error["field"] for error in answer.json()["errors"]] == ["email"]
    found = (await orders.get("/customers", params={"email": "rACE@example.com"})).json()["items"]
    assert len(found) == 1


async def test_racing_default_addresses_leave_exactly_one_default(orders: httpx.AsyncClient) -> None:
    customer = (await sign_up(orders, "addresses@example.com")).json()["id"]
    path = f"/customers/{customer}/addresses"
    answers = await asyncio.gather(
        *(
            orders.post(path, json={**ADDRESS, "line1": f"{n} Road", "default_shipping": True})
            for n in range(6)
        )
    )
    assert {answer.status_code for answer in answers} == {201}
    listed = (await orders.get(path)).json()["items"]
    assert len(listed) == 6
    assert sum(address["default_shipping"] for address in listed) == 1


async def test_every_failed_login_gets_the_same_answer(orders: httpx.AsyncClient) -> None:
    await sign_up(orders, "login@example.com")
    made_by_staff = await orders.post(
        "/customers", json={"email": "staff-made@example.com", "name": "L", "locale": "ko"}
    )
    assert made_by_staff.status_code == 201
    assert made_by_staff.json()["can_log_in"] is False
    good = await orders.post(
        "/customers/authenticate", json={"email": "LOGIN@example.com", "password": PASSWORD}
    )
    assert good.status_code == 200
    failures = [
        await orders.post("/customers/authenticate", json={"email": email, "password": password})
        for email, password in (
            ("login@example.com", "wrong password"),
            ("nobody@example.com", PASSWORD),
            ("staff-made@example.com", PASSWORD),
            ("staff-made@example.com", ""),
        )
    ]
    assert {answer.status_code for answer in failures} == {401}
    assert len({answer.text.replace(answer.json().get("instance", ""), "") for answer in failures}) == 1


async def test_a_customer_checkout_uses_the_account_and_only_its_customer_opens_it(
    orders: httpx.AsyncClient,
) -> None:
    kim = (await sign_up(orders, "kim@example.com", locale="en")).json()["id"]
    lee = (await sign_up(orders, "lee@example.com", locale="ko")).json()["id"]
    body = {
        "currency": "KRW",
        "lines": [{"sku": "CUS-TEE", "quantity": 1}],
        "shipping_method": "standard",
        "payment": {"token": "tok_visa"},
    }

    def headers(customer: str | None = None) -> dict[str, str]:
        return {"Idempotency-Key": str(uuid.uuid4()), **({"X-Customer-Id": customer} if customer else {})}

    no_address = await orders.post("/orders", json=body, headers=headers(kim))
    assert no_address.status_code == 422
    assert [error["field"] for error in no_address.json()["errors"]] == ["shipping_address"]
    await orders.post(f"/customers/{kim}/addresses", json=ADDRESS)
    placed = await orders.post("/orders", json=body, headers=headers(kim))
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]

    view = await orders.get(f"/orders/{order_id}", headers={"X-Customer-Id": kim})
    assert view.status_code == 200
    assert (view.json()["customer_id"], view.json()["email"], view.json()["locale"]) == (
        kim,
        "kim@example.com",
        "en",
    )
    assert view.json()["shipping_address"]["line1"] == ADDRESS["line1"]
    assert (await orders.get(f"/orders/{order_id}", headers={"X-Customer-Id": lee})).status_code == 404
    cancel = await orders.post(
        f"/orders/{order_id}/cancel", json={"reason": "other"}, headers={"X-Customer-Id": lee}
    )
    assert cancel.status_code == 404
    assert (await orders.get(f"/orders/{order_id}")).status_code == 404
    mine = (await orders.get(f"/customers/{kim}/orders")).json()["items"]
    assert [order["id"] for order in mine] == [order_id]
    assert (await orders.get(f"/customers/{lee}/orders")).json()["items"] == []

    gone = await orders.post("/orders", json=body, headers=headers(str(uuid.uuid4())))
    assert gone.status_code == 401
    someone_elses = await orders.post(
        "/orders",
        json={
            **body,
            "shipping_address_id": (await orders.get(f"/customers/{kim}/addresses")).json()["items"][0]["id"],
        },
        headers=headers(lee),
    )
    assert someone_elses.status_code == 422
    assert [error["field"] for error in someone_elses.json()["errors"]] == ["shipping_address_id"]


async def test_staff_put_an_account_in_segments_and_its_checkout_asks_catalog_with_them(
    orders: httpx.AsyncClient,
) -> None:
    kim = (await sign_up(orders, "segments@example.com")).json()["id"]
    path = f"/customers/{kim}/segments"
    added = await orders.put(f"{path}/vip")
    assert added.status_code == 200, added.text
    assert added.json()["segments"] == ["vip"]
    again = await orders.put(f"{path}/vip")  # a retry changes nothing
    assert again.json()["segments"] == ["vip"]
    await orders.put(f"{path}/beta-2027")
    assert (await orders.get(path)).json() == {"customer_id": kim, "items": ["beta-2027", "vip"]}
    assert (await orders.get(f"/customers/{kim}")).json()["segments"] == ["beta-2027", "vip"]

    for bad in ("VIP", "vip club", "x" * 65):
        refused = await orders.put(f"{path}/{bad}")
        assert refused.status_code == 422, refused.text
        assert [error["field"] for error in refused.json()["errors"]] == ["segment"]
    unknown = await orders.put(f"/customers/{uuid.uuid4()}/segments/vip")
    assert unknown.status_code == 404
    for n in range(18):
        assert (await orders.put(f"{path}/s{n}")).status_code == 200
    too_many = await orders.put(f"{path}/one-more")
    assert (too_many.status_code, too_many.json()["code"]) == (409, "too_many_segments")
    assert [error["field"] for error in too_many.json()["errors"]] == ["segment"]
    for n in range(18):
        assert (await orders.delete(f"{path}/s{n}")).status_code == 204
    assert (await orders.delete(f"{path}/beta-2027")).status_code == 204
    assert (await orders.delete(f"{path}/beta-2027")).status_code == 204  # not in it any more: still 204
    assert (await orders.get(path)).json()["items"] == ["vip"]

    # Catalog is not running here: the checkout goes on without a hold and the saga's reserve carries the
    # segments, so catalog decides with them when it answers.
    await orders.post(f"/customers/{kim}/addresses", json=ADDRESS)
    body = {
        "currency": "KRW",
        "lines": [{"sku": "CUS-TEE", "quantity": 1}],
        "shipping_method": "standard",
        "payment": {"token": "tok_visa"},
    }
    placed = await orders.post(
        "/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4()), "X-Customer-Id": kim}
    )
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]
    engine = create_engine(infra.service_settings(DEFINITION, suffix="_customers"))
    try:
        async with engine.connect() as connection:
            bodies = await connection.scalars(
                sa.select(outbox.c.body).where(outbox.c.message_type == "catalog.stock.reserve.v1")
            )
            [reserve] = [json.loads(body) for body in bodies if order_id.encode() in body]
    finally:
        await engine.dispose()
    assert reserve["data"]["customer_segments"] == ["vip"]
