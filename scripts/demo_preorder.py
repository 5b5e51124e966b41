"""Against a running ``make up``: a deposit pre-order from checkout through inbound receipt, the reminder a
day before its balance is charged, the charge, shipping and delivery, printing each step and the emails the
customer received. It skips the shop's clock a day ahead (var/clock-offset, as the system tests do)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any, TypeVar

import httpx

from scripts.demo import CONFIG, Shop, run, step
from scripts.stack import DEV_CLOCK_FILE
from shop_runtime.clock import set_file_clock_offset
from shop_storefront import Address, Variant, checkout, expect, steps_to_delivered

Found = TypeVar("Found")


def emails_to(address: str) -> list[str]:
    subjects = []
    for path in sorted(CONFIG.mail_dir.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        if address in str(message["To"]):
            subjects.append(str(message["Subject"]))
    return subjects


async def wait_until(look: Callable[[], Awaitable[Found | None]], what: str, timeout: float = 30) -> Found:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await look()
        if found:
            return found
        await asyncio.sleep(0.2)
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


async def drive_one_preorder() -> None:
    suffix = uuid.uuid4().hex[:6].upper()
    sku = f"JACKET-{suffix}"
    email = f"jiwoo-{suffix.lower()}@example.com"
    async with httpx.AsyncClient(base_url=CONFIG.gateway_url, timeout=10) as http:
        shop = Shop.through(http)
        expect(await shop.storefront.get("/ready"), 200)
        step(
            "staff create a launch jacket with no stock yet and put it on pre-order: 30 % deposit, ships 2027-01-20"
        )
        jacket = Variant(sku, prices={"KRW": 129000})
        product = expect(
            await shop.staff.create_product(title="Launch jacket", variants=[jacket]), 201
        ).json()
        deposit = {
            "payment_mode": "deposit",
            "deposit_percent": 30,
            "cap": 50,
            "expected_ship_date": "2027-01-20",
        }
        expect(await shop.staff.set_preorder_policy(sku, deposit), 200)
        shown = (await shop.storefront.product(product["id"]))["variants"][0]["preorder"]
        price = shown["prices"][0] if isinstance(shown.get("prices"), list) else shown.get("prices", {})
        print(
            f"    storefront: on pre-order, {shown['units_left']} of {shown['cap']} left, ships {shown['expected_ship_date']}"
        )
        print(f"    per unit: {price}")

        step(f"{email} pre-orders one, paying the deposit with tok_visa")
        home = Address(name="박지우", line1="세종대로 110", city="Seoul", postal_code="04524", country="KR")
        # Orders hears of the new variant from catalog a moment after it is created.
        placed = await shop.storefront.place(checkout(sku, email=email, address=home), wait_for_new_skus=15)
        expect(placed.response, 202)
        view = await shop.storefront.follow(placed.access, "confirmed", timeout=30)
        [line] = view["lines"]
        print(
            f"==> confirmed: queue position {line['queue_position']}, charged now {view['charged_at_checkout']:,} KRW "
            f"(deposit {line['paid_now']:,} + shipping), balance {line['balance']:,} KRW when it is ready to ship, "
            "after a reminder a day before"
        )

        step("staff expect 20 jackets at seoul-1 and receive them")
        await shop.staff.expect_and_receive(sku, expected=20, received=20)

        async def scheduled() -> dict[str, Any] | None:
            current = await shop.storefront.order(placed.access)
            groups = [g for g in current["shipment_groups"] if g["status"] == "balance_scheduled"]
            return groups[0] if groups else None

        group = await wait_until(
            scheduled, "the allocation and the balance charge scheduled after the reminder"
        )
        print(
            f"==> allocated; the jackets came before the customer was reminded, so the reminder goes now and the "
            f"balance of {group['balance']:,} KRW is charged a day later, at {group['balance_due_at']}"
        )

        async def reminded() -> bool:
            return any("결제됩니다" in subject for subject in emails_to(email))

        await wait_until(reminded, "the reminder email")

        offset = skip_ahead(25)
        step(f"the shop's clock skips ahead 25 hours ({DEV_CLOCK_FILE} now holds {offset})")

        async def released() -> dict[str, Any] | None:
            current = await shop.storefront.order(placed.access)
            groups = [
                g for g in current["shipment_groups"] if g["kind"] == "preorder" and g["fulfillment_id"]
            ]
            return groups[0] if groups else None

        group = await wait_until(released, "the balance charge and the release to fulfillment")
        view = await shop.storefront.order(placed.access)
        print(
            f"==> allocated and balance of {group['balance']:,} KRW charged off-session; captured in all {view['payments']['captured']:,} KRW"
        )

        for event in steps_to_delivered(f"CJ{suffix}0002"):
            expect(await shop.warehouse.report(group["fulfillment_id"], event), 200)
            step(f"warehouse reports {event['type']}")
        view = await shop.storefront.follow(placed.access, "delivered", timeout=30)
        print("    timeline:")
        for entry in view["timeline"]:
            print(f"      {entry['at']}  {entry['event']}")

        async def all_five() -> list[str] | None:
            found = emails_to(email)
            return found if len(found) >= 5 else None

        subjects = await wait_until(all_five, "the emails", timeout=20)
        step(f"{len(subjects)} emails sent to {email}:")
        for subject in subjects:
            print(f"      {subject}")


def main() -> None:
    run(drive_one_preorder())


if __name__ == "__main__":
    main()
