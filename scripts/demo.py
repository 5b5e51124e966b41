"""Against a running ``make up``: seed a small catalog and drive one order to delivered, printing each step."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from email import message_from_bytes, policy
from typing import Any

import httpx

from scripts.stack import StackConfig
from shop_storefront import (
    Staff,
    Storefront,
    UnexpectedAnswer,
    Variant,
    Warehouse,
    checkout,
    expect,
    steps_to_delivered,
)

CONFIG = StackConfig(
    staff_api_key=os.environ.get("SHOP_STAFF_API_KEY", StackConfig.staff_api_key),
    warehouse_api_key=os.environ.get("SHOP_WAREHOUSE_API_KEY", StackConfig.warehouse_api_key),
    gateway_port=int(os.environ.get("SHOP_GATEWAY_PORT", StackConfig.gateway_port)),
)


@dataclass(frozen=True)
class Shop:
    """The running shop as its storefront, its staff and its warehouse reach it."""

    storefront: Storefront
    staff: Staff
    warehouse: Warehouse

    @classmethod
    def through(cls, http: httpx.AsyncClient) -> Shop:
        return cls(
            Storefront(http),
            Staff(http, CONFIG.staff_api_key),
            Warehouse(http, CONFIG.warehouse_api_key),
        )


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def run(demo: Coroutine[Any, Any, None]) -> None:
    """Run a demo; an unexpected answer or a state never reached ends it with that one line."""
    try:
        asyncio.run(demo)
    except (UnexpectedAnswer, TimeoutError) as stopped:
        sys.exit(str(stopped))


async def drive_one_order() -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    async with httpx.AsyncClient(base_url=CONFIG.gateway_url, timeout=10) as http:
        shop = Shop.through(http)
        expect(await shop.storefront.get("/ready"), 200)
        step("seeding the catalog: a linen shirt in M and L, 10 units each at seoul-1")
        variants = [Variant(f"SHIRT-M-{suffix}"), Variant(f"SHIRT-L-{suffix}", options={"size": "L"})]
        created = await shop.staff.create_product(title="Linen shirt", variants=variants)
        product = expect(created, 201).json()
        for variant in product["variants"]:
            expect(await shop.staff.adjust_inventory(variant["sku"], 10), 201)
        print(f"    product {product['id']}")

        step("a customer checks out 2 x size M, paying with tok_visa")
        body = checkout(f"SHIRT-M-{suffix}", quantity=2, email="minsu@example.com")
        # Orders hears of the new SKUs from catalog a moment after they are created.
        placed = await shop.storefront.place(body, wait_for_new_skus=15)
        order = expect(placed.response, 202).json()
        print(f"    order {order['id']} is {order['status']}")

        view = await shop.storefront.follow(placed.access, "confirmed", timeout=30)
        payment = view["payments"]["items"][0]
        print(
            f"==> confirmed: stock reserved, {payment['amount']:,} {payment['currency']} captured ({payment['card_brand']} {payment['card_last4']})"
        )

        picks: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        while not picks and time.monotonic() < deadline:
            items = expect(await shop.warehouse.pick_requests(), 200).json()["items"]
            picks = [item for item in items if item["order_id"] == order["id"]]
            await asyncio.sleep(0.2)
        if not picks:
            sys.exit("no pick request reached the warehouse")
        fulfillment_id = picks[0]["id"]
        step(f"the warehouse at seoul-1 got pick request {fulfillment_id}")
        for event in steps_to_delivered(f"CJ{suffix}0001"):
            expect(await shop.warehouse.report(fulfillment_id, event), 200)
            step(
                f"warehouse reports {event['type']}"
                + (f" with {event['carrier']} {event['tracking_number']}" if "carrier" in event else "")
            )
        view = await shop.storefront.follow(placed.access, "delivered", timeout=30)
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
            timeline = (await shop.storefront.order(placed.access))["timeline"]
            notified = [entry for entry in timeline if entry["event"] == "customer_notified"]
            if len(notified) >= 3:
                break
            await asyncio.sleep(0.3)
        step(f"{len(notified)} emails sent to {body['email']}; {len(mails)} .eml files in {CONFIG.mail_dir}")
        print_page_links(body["email"])


PAGE_LINK = re.compile(r"https?://\S+/pages/\S+")


def print_page_links(address: str) -> None:
    """The customer pages the emails to ``address`` link to (each link opens one page, in a browser)."""
    step(f"customer pages linked from the emails to {address}:")
    seen: set[str] = set()
    for path in sorted(CONFIG.mail_dir.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        if address not in str(message["To"]) or body is None:
            continue
        for link in PAGE_LINK.findall(str(body.get_content())):
            if link not in seen:
                seen.add(link)
                print(f"    {message['Subject']}\n      {link}")


def main() -> None:
    run(drive_one_order())


if __name__ == "__main__":
    main()
