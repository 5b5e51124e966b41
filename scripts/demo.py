"""Against a running ``make up``: seed a small catalog and drive one order to delivered, printing each step."""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any

import httpx

from scripts.stack import StackConfig

CONFIG = StackConfig(
    staff_api_key=os.environ.get("SHOP_STAFF_API_KEY", StackConfig.staff_api_key),
    warehouse_api_key=os.environ.get("SHOP_WAREHOUSE_API_KEY", StackConfig.warehouse_api_key),
    gateway_port=int(os.environ.get("SHOP_GATEWAY_PORT", StackConfig.gateway_port)),
)
STAFF = {"X-Api-Key": CONFIG.staff_api_key}
WAREHOUSE = {"X-Api-Key": CONFIG.warehouse_api_key}


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def check(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        sys.exit(
            f"unexpected {response.status_code} from {response.request.method} {response.request.url}: {response.text}"
        )
    return response.json()


def wait_for(client: httpx.Client, order: dict[str, Any], status: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {order['access_token']}"}
    while True:
        view: dict[str, Any] = check(client.get(f"/v1/orders/{order['id']}", headers=headers), 200)
        if view["status"] == status:
            return view
        if time.monotonic() > deadline:
            sys.exit(f"order stayed {view['status']}; timeline: {[e['event'] for e in view['timeline']]}")
        time.sleep(0.2)


def main() -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    with httpx.Client(base_url=CONFIG.gateway_url, timeout=10) as client:
        check(client.get("/ready"), 200)
        step("seeding the catalog: a linen shirt in M and L, 10 units each at seoul-1")
        product = check(
            client.post(
                "/v1/admin/products",
                headers=STAFF,
                json={
                    "title": "Linen shirt",
                    "variants": [
                        {
                            "sku": f"SHIRT-M-{suffix}",
                            "options": {"size": "M"},
                            "prices": [{"currency": "KRW", "amount": 39000}],
                        },
                        {
                            "sku": f"SHIRT-L-{suffix}",
                            "options": {"size": "L"},
                            "prices": [{"currency": "KRW", "amount": 39000}],
                        },
                    ],
                },
            ),
            201,
        )
        for variant in product["variants"]:
            check(
                client.post(
                    "/v1/admin/inventory/adjustments",
                    headers=STAFF,
                    json={"sku": variant["sku"], "location": "seoul-1", "delta": 10, "reason": "received"},
                ),
                201,
            )
        print(f"    product {product['id']}")

        step("a customer checks out 2 x size M, paying with tok_visa")
        body = {
            "email": "minsu@example.com",
            "locale": "ko",
            "currency": "KRW",
            "lines": [{"sku": f"SHIRT-M-{suffix}", "quantity": 2}],
            "shipping_address": {
                "name": "김민수",
                "line1": "테헤란로 1",
                "city": "Seoul",
                "postal_code": "06236",
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
            time.sleep(0.2)  # orders has not yet heard of the new SKUs from catalog
        order = check(response, 202)
        print(f"    order {order['id']} is {order['status']}")

        view = wait_for(client, order, "confirmed")
        payment = view["payments"]["items"][0]
        print(
            f"==> confirmed: stock reserved, {payment['amount']:,} {payment['currency']} captured ({payment['card_brand']} {payment['card_last4']})"
        )

        picks: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        while not picks and time.monotonic() < deadline:
            items = check(
                client.get("/v1/warehouse/pick-requests", params={"location": "seoul-1"}, headers=WAREHOUSE),
                200,
            )["items"]
            picks = [item for item in items if item["order_id"] == order["id"]]
            time.sleep(0.2)
        if not picks:
            sys.exit("no pick request reached the warehouse")
        fulfillment_id = picks[0]["id"]
        step(f"the warehouse at seoul-1 got pick request {fulfillment_id}")
        for event in (
            {"type": "picked"},
            {"type": "packed"},
            {"type": "shipped", "carrier": "CJ Logistics", "tracking_number": f"CJ{suffix}0001"},
            {"type": "delivered"},
        ):
            check(
                client.post(
                    f"/v1/warehouse/fulfillments/{fulfillment_id}/events", headers=WAREHOUSE, json=event
                ),
                200,
            )
            step(
                f"warehouse reports {event['type']}"
                + (f" with {event['carrier']} {event['tracking_number']}" if "carrier" in event else "")
            )
        view = wait_for(client, order, "delivered")
        shipment = view["shipments"][0]
        step(
            f"order {view['status']}: shipped by {shipment['carrier']}, tracking {shipment['tracking_number']}"
        )
        print("    timeline:")
        for entry in view["timeline"]:
            print(f"      {entry['at']}  {entry['event']}")

        deadline = time.monotonic() + 15
        mails: list[str] = []
        while time.monotonic() < deadline:
            mails = sorted(path.name for path in CONFIG.mail_dir.glob("*.eml"))
            notified = [
                e
                for e in wait_for(client, order, "delivered")["timeline"]
                if e["event"] == "customer_notified"
            ]
            if len(notified) >= 3:
                break
            time.sleep(0.3)
        step(f"{len(notified)} emails sent to {body['email']}; {len(mails)} .eml files in {CONFIG.mail_dir}")


if __name__ == "__main__":
    main()
