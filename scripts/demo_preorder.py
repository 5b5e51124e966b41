"""Against a running ``make up``: a deposit pre-order from checkout through inbound receipt, the reminder a
day before its balance is charged, the charge, shipping and delivery, printing each step and the emails the
customer received. It skips the shop's clock a day ahead (var/clock-offset, as the system tests do)."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any

import httpx

from scripts.demo import CONFIG, STAFF, WAREHOUSE, check, step, wait_for
from scripts.stack import DEV_CLOCK_FILE
from shop_runtime.clock import set_file_clock_offset


def emails_to(address: str) -> list[str]:
    subjects = []
    for path in sorted(CONFIG.mail_dir.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(message["To"]):
            subjects.append(str(message["Subject"]))
    return subjects


def wait_until(predicate: Any, what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise SystemExit(f"gave up waiting for {what}")


def skip_ahead(hours: float) -> timedelta:
    """Move the running shop's clock forward (never back: what was scheduled stays in order)."""
    try:
        current = timedelta(seconds=float(DEV_CLOCK_FILE.read_text().strip() or 0))
    except FileNotFoundError:
        current = timedelta()
    moved = current + timedelta(hours=hours)
    set_file_clock_offset(str(DEV_CLOCK_FILE), moved)
    return moved


def main() -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    sku = f"JACKET-{suffix}"
    email = f"jiwoo-{suffix.lower()}@example.com"
    with httpx.Client(base_url=CONFIG.gateway_url, timeout=10) as client:
        check(client.get("/ready"), 200)
        step(
            "staff create a launch jacket with no stock yet and put it on pre-order: 30 % deposit, ships 2027-01-20"
        )
        product = check(
            client.post(
                "/v1/admin/products",
                headers=STAFF,
                json={
                    "title": "Launch jacket",
                    "variants": [
                        {
                            "sku": sku,
                            "options": {"size": "M"},
                            "prices": [{"currency": "KRW", "amount": 129000}],
                        }
                    ],
                },
            ),
            201,
        )
        check(
            client.put(
                f"/v1/admin/variants/{sku}/preorder-policy",
                headers=STAFF,
                json={
                    "payment_mode": "deposit",
                    "deposit_percent": 30,
                    "cap": 50,
                    "expected_ship_date": "2027-01-20",
                },
            ),
            200,
        )
        shown = check(client.get(f"/v1/products/{product['id']}"), 200)["variants"][0]["preorder"]
        price = shown["prices"][0] if isinstance(shown.get("prices"), list) else shown.get("prices", {})
        print(
            f"    storefront: on pre-order, {shown['units_left']} of {shown['cap']} left, ships {shown['expected_ship_date']}"
        )
        print(f"    per unit: {price}")

        step(f"{email} pre-orders one, paying the deposit with tok_visa")
        body = {
            "email": email,
            "locale": "ko",
            "currency": "KRW",
            "lines": [{"sku": sku, "quantity": 1}],
            "shipping_address": {
                "name": "박지우",
                "line1": "세종대로 110",
                "city": "Seoul",
                "postal_code": "04524",
                "country": "KR",
            },
            "shipping_method": "standard",
            "payment": {"token": "tok_visa"},
        }
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 15
        while True:
            response = client.post("/v1/orders", json=body, headers={"Idempotency-Key": key})
            if response.status_code != 422 or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # orders has not yet heard of the new variant from catalog
        order = check(response, 202)
        view = wait_for(client, order, "confirmed")
        [line] = view["lines"]
        print(
            f"==> confirmed: queue position {line['queue_position']}, charged now {view['charged_at_checkout']:,} KRW "
            f"(deposit {line['paid_now']:,} + shipping), balance {line['balance']:,} KRW when it is ready to ship, "
            "after a reminder a day before"
        )

        step("staff expect 20 jackets at seoul-1 and receive them")
        inbound = check(
            client.post(
                "/v1/admin/inbounds",
                headers=STAFF,
                json={
                    "sku": sku,
                    "location": "seoul-1",
                    "quantity": 20,
                    "expected_at": "2027-01-15T00:00:00Z",
                },
            ),
            201,
        )
        check(
            client.post(f"/v1/admin/inbounds/{inbound['id']}/receive", headers=STAFF, json={"quantity": 20}),
            200,
        )

        headers = {"Authorization": f"Bearer {order['access_token']}"}

        def scheduled() -> dict[str, Any] | None:
            current: dict[str, Any] = check(client.get(f"/v1/orders/{order['id']}", headers=headers), 200)
            groups = [g for g in current["shipment_groups"] if g["status"] == "balance_scheduled"]
            return groups[0] if groups else None

        group = wait_until(scheduled, "the allocation and the balance charge scheduled after the reminder")
        print(
            f"==> allocated; the jackets came before the customer was reminded, so the reminder goes now and the "
            f"balance of {group['balance']:,} KRW is charged a day later, at {group['balance_due_at']}"
        )
        wait_until(lambda: any("결제됩니다" in subject for subject in emails_to(email)), "the reminder email")

        offset = skip_ahead(25)
        step(f"the shop's clock skips ahead 25 hours ({DEV_CLOCK_FILE} now holds {offset})")

        def released() -> dict[str, Any] | None:
            current: dict[str, Any] = check(client.get(f"/v1/orders/{order['id']}", headers=headers), 200)
            groups = [
                g for g in current["shipment_groups"] if g["kind"] == "preorder" and g["fulfillment_id"]
            ]
            return groups[0] if groups else None

        group = wait_until(released, "the balance charge and the release to fulfillment")
        view = check(client.get(f"/v1/orders/{order['id']}", headers=headers), 200)
        print(
            f"==> allocated and balance of {group['balance']:,} KRW charged off-session; captured in all {view['payments']['captured']:,} KRW"
        )

        for event in (
            {"type": "picked"},
            {"type": "packed"},
            {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": f"CJ{suffix}0002"},
            {"type": "delivered"},
        ):
            check(
                client.post(
                    f"/v1/warehouse/fulfillments/{group['fulfillment_id']}/events",
                    headers=WAREHOUSE,
                    json=event,
                ),
                200,
            )
            step(f"warehouse reports {event['type']}")
        view = wait_for(client, order, "delivered")
        print("    timeline:")
        for entry in view["timeline"]:
            print(f"      {entry['at']}  {entry['event']}")
        subjects = wait_until(
            lambda: (found := emails_to(email)) and len(found) >= 5 and found, "the emails", timeout=20
        )
        step(f"{len(subjects)} emails sent to {email}:")
        for subject in subjects:
            print(f"      {subject}")


if __name__ == "__main__":
    main()
