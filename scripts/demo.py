"""Against a running ``make up``: seed a small catalog, drive one order to delivered and cancel another, printing
each step and then the links of the hosted customer pages the emails about each order lead to."""

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
from email.message import EmailMessage
from pathlib import Path
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
    var=Path(os.environ.get("SHOP_VAR_DIR", str(StackConfig.var))),  # a stack started with another var folder
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

        await emails_of(order["id"], at_least=3)
        step(f"emails to {body['email']} are in {CONFIG.mail_dir} (one .eml each)")
        print_page_links(order["id"])

        step("another customer checks out 1 x size L, then cancels it: shipping cost too much")
        body = checkout(f"SHIRT-L-{suffix}", quantity=1, email="jiwoo@example.com", locale="en")
        placed = await shop.storefront.place(body, wait_for_new_skus=15)
        cancelled = expect(placed.response, 202).json()
        await shop.storefront.follow(placed.access, "confirmed", timeout=30)
        expect(await shop.storefront.cancel(placed.access, "shipping_cost"), 200)
        step(f"order {cancelled['id']} cancelled and refunded; its email links to a feedback page")
        await emails_of(cancelled["id"], at_least=2, template="order_cancelled")
        print_page_links(cancelled["id"])


PAGE_LINK = re.compile(r"https?://\S+/pages/\S+")


def _emails(order_id: str) -> list[EmailMessage]:
    """The emails about ``order_id`` in the stack's mail folder, oldest first."""
    found = []
    for path in sorted(CONFIG.mail_dir.glob("*.eml"), key=lambda path: path.stat().st_mtime):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if isinstance(message, EmailMessage) and message["X-Shop-Order-Id"] == order_id:
            found.append(message)
    return found


async def emails_of(order_id: str, *, at_least: int, template: str | None = None) -> None:
    """Wait until the SMTP sink has written ``at_least`` emails about the order (and one of ``template``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        emails = _emails(order_id)
        if len(emails) >= at_least and (
            template is None or any(e["X-Shop-Template"] == template for e in emails)
        ):
            return
        await asyncio.sleep(0.3)
    sys.exit(f"the emails about order {order_id} did not reach {CONFIG.mail_dir} (is this the stack's var?)")


def print_page_links(order_id: str) -> None:
    """The hosted customer pages the emails about ``order_id`` link to: each email's subject, then its links
    (each opens one page in a browser; the order's page once per email, each link with its own token)."""
    step(f"customer pages linked from the emails about order {order_id}:")
    for message in _emails(order_id):
        body = message.get_body(preferencelist=("plain",))
        links = PAGE_LINK.findall(str(body.get_content())) if body is not None else []
        if links:
            print(f"    {message['Subject']}")
            for link in dict.fromkeys(links):
                print(f"      {link}")


def main() -> None:
    run(drive_one_order())


if __name__ == "__main__":
    main()
