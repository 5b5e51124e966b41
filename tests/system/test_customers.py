"""Customer accounts through the gateway: sign-up, login with short-lived tokens and their limits, the customer's
own data, checkout as a customer, who may open whose order, and staff giving a guest's order to a customer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import Storefront, bearer, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import (
    ADDRESS,
    STAFF,
    WAREHOUSE,
    emails_to,
    place_order,
    product_in_stock,
    ship_and_deliver,
    wait_for_status,
)

pytestmark = pytest.mark.system

PASSWORD = "correct horse battery"


def problem_fields(response: httpx.Response) -> set[str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return {error["field"] for error in response.json().get("errors", [])}


async def sign_up(gateway: httpx.AsyncClient, *, locale: str = "en", **extra: Any) -> dict[str, Any]:
    response = await Storefront(gateway).sign_up(
        email=f"Member-{uuid.uuid4().hex[:8]}@Example.com",
        name="Kim Minsu",
        password=PASSWORD,
        locale=locale,
        **extra,
    )
    assert response.status_code == 201, response.text
    assert not any("password" in key for key in response.json())  # neither the password nor its hash
    return {**response.json(), "password": PASSWORD}


async def log_in(gateway: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await Storefront(gateway).sign_in(email, password)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
    return str(response.json()["access_token"])


async def member(gateway: httpx.AsyncClient, *, locale: str = "en") -> tuple[dict[str, Any], str]:
    account = await sign_up(gateway, locale=locale)
    return account, await log_in(gateway, account["email"])


async def test_sign_up_log_in_and_keep_profile_and_addresses(gateway: httpx.AsyncClient) -> None:
    account = await sign_up(gateway, marketing_consent=True)
    assert account["marketing_consent"] is True
    assert account["marketing_consent_at"] is not None
    # the email is unique whatever its case; weak passwords and fields nobody may set are refused by name
    again = await gateway.post(
        "/v1/customers",
        json={"email": account["email"].upper(), "name": "X", "password": PASSWORD, "locale": "ko"},
    )
    assert again.status_code == 409
    assert problem_fields(again) == {"email"}
    weak = await gateway.post(
        "/v1/customers",
        json={
            "email": f"w{uuid.uuid4().hex[:6]}@example.com",
            "name": "X",
            "password": "short",
            "locale": "ko",
        },
    )
    assert weak.status_code == 422
    assert problem_fields(weak) == {"password"}
    forged = await gateway.post(
        "/v1/customers",
        json={
            "email": f"f{uuid.uuid4().hex[:6]}@example.com",
            "name": "X",
            "password": PASSWORD,
            "locale": "ko",
            "id": str(uuid.uuid4()),
            "marketing_consent_at": "2020-01-01T00:00:00Z",
            "created_by": "staff",
        },
    )
    assert forged.status_code == 422
    assert {"id", "marketing_consent_at", "created_by"} <= problem_fields(forged)

    # log in with the email in another case
    token = await log_in(gateway, account["email"].lower())
    me = await gateway.get("/v1/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["id"] == account["id"]
    changed = await gateway.patch(
        "/v1/me", headers=bearer(token), json={"locale": "ko", "marketing_consent": False}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["locale"] == "ko"
    assert changed.json()["marketing_consent_at"] is None
    refused = await gateway.patch("/v1/me", headers=bearer(token), json={"email": "x@example.com", "id": "y"})
    assert refused.status_code == 422
    assert problem_fields(refused) == {"email", "id"}

    # addresses: the first is the default, a new default replaces it, deleting the default promotes the oldest
    home = await gateway.post("/v1/me/addresses", headers=bearer(token), json=ADDRESS)
    assert home.status_code == 201, home.text
    assert home.json()["default_shipping"] is True
    office = await gateway.post(
        "/v1/me/addresses",
        headers=bearer(token),
        json={**ADDRESS, "line1": "강남대로 2", "default_shipping": True},
    )
    assert office.json()["default_shipping"] is True
    listed = (await gateway.get("/v1/me/addresses", headers=bearer(token))).json()["items"]
    assert [a["default_shipping"] for a in listed] == [False, True]
    moved = await gateway.patch(
        f"/v1/me/addresses/{home.json()['id']}", headers=bearer(token), json={"city": "Busan"}
    )
    assert moved.json()["city"] == "Busan"
    assert moved.json()["line1"] == ADDRESS["line1"]
    nulled = await gateway.patch(
        f"/v1/me/addresses/{home.json()['id']}", headers=bearer(token), json={"city": None}
    )
    assert nulled.status_code == 422
    assert problem_fields(nulled) == {"city"}
    deleted = await gateway.delete(f"/v1/me/addresses/{office.json()['id']}", headers=bearer(token))
    assert deleted.status_code == 204
    listed = (await gateway.get("/v1/me/addresses", headers=bearer(token))).json()["items"]
    assert [(a["id"], a["default_shipping"]) for a in listed] == [(home.json()["id"], True)]

    # no token, a forged one, or a guest's order access token: 401
    assert (await gateway.get("/v1/me")).status_code == 401
    assert (await gateway.get("/v1/me", headers=bearer(token[:-4] + "AAAA"))).status_code == 401
    assert (await gateway.get("/v1/me", headers=bearer("not-a-customer-token"))).status_code == 401


async def test_a_wrong_password_and_an_unknown_email_get_the_same_401(gateway: httpx.AsyncClient) -> None:
    account = await sign_up(gateway)
    wrong = await gateway.post(
        "/v1/auth/token", json={"email": account["email"], "password": "not the password"}
    )
    unknown = await gateway.post(
        "/v1/auth/token", json={"email": f"nobody-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert {k: v for k, v in wrong.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"
    }
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"]


async def test_logins_for_one_email_are_limited_with_retry_after(gateway: httpx.AsyncClient) -> None:
    account = await sign_up(gateway)
    statuses = []
    for _ in range(11):  # the default burst per email is 10
        response = await gateway.post(
            "/v1/auth/token", json={"email": account["email"].upper(), "password": "guessing-again"}
        )
        statuses.append(response.status_code)
    assert statuses == [401] * 10 + [429]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["code"] == "rate_limited"
    # the right password is limited too while the bucket is empty; other emails are not
    blocked = await gateway.post("/v1/auth/token", json={"email": account["email"], "password": PASSWORD})
    assert blocked.status_code == 429
    other = await sign_up(gateway)
    await log_in(gateway, other["email"])


async def test_a_token_expires_after_its_lifetime(
    gateway: httpx.AsyncClient, clock: Callable[[timedelta], None]
) -> None:
    account, token = await member(gateway)
    assert (await gateway.get("/v1/me", headers=bearer(token))).status_code == 200
    clock(timedelta(minutes=14))
    assert (await gateway.get("/v1/me", headers=bearer(token))).status_code == 200
    clock(timedelta(minutes=15, seconds=1))
    expired = await gateway.get("/v1/me", headers=bearer(token))
    assert expired.status_code == 401
    assert expired.json()["code"] == "expired_token"
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    assert (await gateway.get("/v1/me/orders", headers=bearer(token))).status_code == 401
    fresh = await log_in(gateway, account["email"])
    assert (await gateway.get("/v1/me", headers=bearer(fresh))).status_code == 200


async def test_a_customer_checks_out_with_the_saved_address_and_hears_in_the_account_locale(
    gateway: httpx.AsyncClient, mail_dir: Path
) -> None:
    sku = new_sku("CUS")
    await product_in_stock(gateway, sku=sku, units=5)
    await place_order(gateway, checkout(sku))  # orders has heard of the SKU
    account, token = await member(gateway, locale="en")
    saved = await gateway.post("/v1/me/addresses", headers=bearer(token), json=ADDRESS)
    body = {k: v for k, v in checkout(sku).items() if k not in ("email", "locale", "shipping_address")}

    for field, value in (("customer_id", str(uuid.uuid4())), ("status", "paid"), ("total", 1)):
        forged = await gateway.post(
            "/v1/orders",
            json={**body, field: value},
            headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert forged.status_code == 422
        assert problem_fields(forged) == {field}
    guest = await gateway.post("/v1/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert guest.status_code == 422
    assert problem_fields(guest) == {"email", "locale", "shipping_address"}

    placed = await gateway.post(
        "/v1/orders",
        json={**body, "shipping_address_id": saved.json()["id"]},
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert placed.status_code == 202, placed.text
    order_id = placed.json()["id"]
    view = await gateway.get(f"/v1/orders/{order_id}", headers=bearer(token))
    assert view.status_code == 200
    assert view.json()["customer_id"] == account["id"]
    assert view.json()["locale"] == "en"
    assert view.json()["email"] == account["email"]
    assert view.json()["shipping_address"]["line1"] == ADDRESS["line1"]
    mine = (await gateway.get("/v1/me/orders", headers=bearer(token))).json()["items"]
    assert [order["id"] for order in mine] == [order_id]

    async def confirmed_in_english() -> None:
        subjects = [str(message["Subject"]) for message in emails_to(mail_dir, account["email"])]
        assert any("is confirmed" in subject for subject in subjects), subjects

    await eventually(confirmed_in_english, timeout=20)


async def test_customer_a_can_neither_read_nor_cancel_b_s_order(gateway: httpx.AsyncClient) -> None:
    sku = new_sku("OWN")
    await product_in_stock(gateway, sku=sku, units=5)
    await place_order(gateway, checkout(sku))
    _, token_a = await member(gateway)
    _, token_b = await member(gateway)
    orders = {}
    for name, token in (("a", token_a), ("b", token_b)):
        placed = await gateway.post(
            "/v1/orders", json=checkout(sku), headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())}
        )
        assert placed.status_code == 202, placed.text
        orders[name] = placed.json()
    guest = (await place_order(gateway, checkout(sku))).json()

    as_a = await gateway.get(f"/v1/orders/{orders['b']['id']}", headers=bearer(token_a))
    missing = await gateway.get(f"/v1/orders/{uuid.uuid4()}", headers=bearer(token_a))
    assert as_a.status_code == missing.status_code == 404
    assert as_a.json()["code"] == missing.json()["code"]
    assert (await gateway.get(f"/v1/orders/{guest['id']}", headers=bearer(token_a))).status_code == 404
    # a guest's access token opens its own order only
    assert (
        await gateway.get(f"/v1/orders/{orders['a']['id']}", headers=bearer(guest["access_token"]))
    ).status_code == 404
    assert (
        await gateway.get(f"/v1/orders/{guest['id']}", headers=bearer(guest["access_token"]))
    ).status_code == 200

    await wait_for_status(gateway, orders["b"], "confirmed")
    cancel = {"reason": "changed_mind"}
    refused = await gateway.post(
        f"/v1/orders/{orders['b']['id']}/cancel", json=cancel, headers=bearer(token_a)
    )
    assert refused.status_code == 404
    assert (await gateway.get(f"/v1/orders/{orders['b']['id']}", headers=bearer(token_b))).json()[
        "status"
    ] == "confirmed"
    mine = (await gateway.get("/v1/me/orders", headers=bearer(token_a))).json()["items"]
    assert [order["id"] for order in mine] == [orders["a"]["id"]]
    # B's own token reaches B's order: nothing is packed yet, so it is cancelled and refunded
    own = await gateway.post(f"/v1/orders/{orders['b']['id']}/cancel", json=cancel, headers=bearer(token_b))
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "cancelled"


async def test_staff_give_a_guest_order_to_a_customer_who_then_sees_it(
    gateway: httpx.AsyncClient, mail_dir: Path, stack: Stack
) -> None:
    sku = new_sku("LNK")
    await product_in_stock(gateway, sku=sku, units=5)
    guest_body = checkout(sku, locale="ko")
    guest = (await place_order(gateway, guest_body)).json()
    await wait_for_status(gateway, guest, "confirmed")
    email = f"walk-in-{uuid.uuid4().hex[:8]}@example.com"
    path = f"/v1/admin/orders/{guest['id']}/customer"
    new_customer = {"customer": {"email": email, "name": "Lee", "locale": "en"}}

    assert (await gateway.put(path, json=new_customer, headers=WAREHOUSE)).status_code == 403
    assert (await gateway.put(path, json=new_customer)).status_code == 401
    both = await gateway.put(path, json={**new_customer, "customer_id": str(uuid.uuid4())}, headers=STAFF)
    assert both.status_code == 422
    assert problem_fields(both) == {"customer_id", "customer"}
    with_password = await gateway.put(
        path, json={"customer": {**new_customer["customer"], "password": PASSWORD}}, headers=STAFF
    )
    assert with_password.status_code == 422
    assert problem_fields(with_password) == {"customer.password"}

    linked = await gateway.put(path, json=new_customer, headers=STAFF)
    assert linked.status_code == 200, linked.text
    customer_id = linked.json()["customer"]["id"]
    assert linked.json()["customer"]["can_log_in"] is False
    no_password = await gateway.post("/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert no_password.status_code == 401  # staff made the account without a password: it cannot log in
    assert (await gateway.put(path, json={"customer_id": customer_id}, headers=STAFF)).status_code == 200
    other = await gateway.post(
        "/v1/admin/customers",
        json={"email": f"o{uuid.uuid4().hex[:6]}@example.com", "name": "O", "locale": "ko"},
        headers=STAFF,
    )
    assert other.status_code == 201, other.text
    taken = await gateway.put(path, json={"customer_id": other.json()["id"]}, headers=STAFF)
    assert taken.status_code == 409

    found = await gateway.get("/v1/admin/customers", params={"email": email.upper()}, headers=STAFF)
    assert [c["id"] for c in found.json()["items"]] == [customer_id]
    detail = await gateway.get(f"/v1/admin/customers/{customer_id}", headers=STAFF)
    assert [order["id"] for order in detail.json()["orders"]] == [guest["id"]]
    assert (await gateway.get(f"/v1/admin/customers/{customer_id}", headers=WAREHOUSE)).status_code == 403
    view = await gateway.get(f"/v1/orders/{guest['id']}", headers=STAFF)
    assert view.json()["customer_id"] == customer_id
    assert view.json()["locale"] == "en"
    assert "customer_linked" in [entry["event"] for entry in view.json()["timeline"]]

    # the guest's access token still opens it, and its messages now follow the account's locale
    assert (
        await gateway.get(f"/v1/orders/{guest['id']}", headers=bearer(guest["access_token"]))
    ).status_code == 200

    fulfillments: list[str] = []

    async def pick_requested() -> None:
        shipments = (await gateway.get(f"/v1/orders/{guest['id']}", headers=STAFF)).json()["shipments"]
        fulfillments[:] = [shipment["id"] for shipment in shipments]
        assert fulfillments, "no fulfillment yet"

    await eventually(pick_requested, timeout=20)
    await ship_and_deliver(gateway, fulfillments[0], "CJ5550001111")

    async def shipped_in_english() -> None:
        subjects = [str(message["Subject"]) for message in emails_to(mail_dir, guest_body["email"])]
        assert any("has shipped" in subject for subject in subjects), subjects

    await eventually(shipped_in_english, timeout=20)


async def test_no_password_or_customer_token_reaches_the_gateway_log(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    account, token = await member(gateway)
    await gateway.get("/v1/me", headers=bearer(token))
    await gateway.post("/v1/auth/token", json={"email": account["email"], "password": "a-wrong-password-1"})
    text = (stack.config.log_dir / "gateway.log").read_text(errors="replace")
    for secret in (PASSWORD, "a-wrong-password-1", token, token.split(".")[-1]):
        assert secret not in text
