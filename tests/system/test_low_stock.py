"""Low-stock alerts through the gateway of a running shop: staff set a SKU's threshold, buying down through it
emails the staff address once (with the SKU and how many are left) and lists the SKU as low, a receipt of inbound
stock re-arms it, and buying down again emails a second time."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import as_staff, emails_to, place_order, product_in_stock, text_of, wait_for_status

pytestmark = pytest.mark.system

WORKER = "notifications-worker"


@pytest.fixture
def staff_address(stack: Stack) -> Iterator[str]:
    """Notifications' worker runs with a staff alert address (in English) for the test, and without after it."""
    address = f"stock-{new_sku('OPS').lower()}@shop.example"
    stack.restart(
        WORKER,
        extra_env={"SHOP_NOTIFICATIONS_STAFF_ALERT_EMAILS": address, "SHOP_NOTIFICATIONS_STAFF_LOCALE": "en"},
    )
    stack.wait_worker(WORKER)
    try:
        yield address
    finally:
        stack.restart(WORKER)
        stack.wait_worker(WORKER)  # the next test's emails need it


def _alerts(mail_dir: Path, address: str) -> list[EmailMessage]:
    return [mail for mail in emails_to(mail_dir, address) if mail["X-Shop-Template"] == "staff_low_stock"]


async def _buy(gateway: httpx.AsyncClient, sku: str, quantity: int) -> None:
    placed = await place_order(gateway, checkout(sku, quantity=quantity))
    assert placed.status_code == 202, placed.text
    await wait_for_status(gateway, placed.json(), "confirmed")


async def test_buying_down_through_the_threshold_alerts_staff_once_and_a_receipt_re_arms(
    gateway: httpx.AsyncClient, mail_dir: Path, staff_address: str
) -> None:
    staff = as_staff(gateway)
    sku = new_sku("LOW")
    await product_in_stock(gateway, sku=sku, units=6)
    refused = await staff.set_low_stock_threshold(sku, -1)
    assert refused.status_code == 422, refused.text
    assert [error["field"] for error in refused.json()["errors"]] == ["threshold"]
    set_to = await staff.set_low_stock_threshold(sku, 2)
    assert set_to.status_code == 200, set_to.text
    assert set_to.json() == {"sku": sku, "threshold": 2, "own_threshold": 2, "available": 6, "alerted": False}

    await _buy(gateway, sku, 3)  # 3 left: above the threshold
    await _buy(gateway, sku, 1)  # 2 left: at it

    async def one_alert() -> None:
        assert len(_alerts(mail_dir, staff_address)) == 1

    await eventually(one_alert, timeout=20)
    [alert] = _alerts(mail_dir, staff_address)
    assert sku in str(alert["Subject"])
    assert "2 left" in str(alert["Subject"])
    assert "2 available" in text_of(alert)
    listed = await staff.low_stock()
    assert listed.status_code == 200, listed.text
    [item] = [entry for entry in listed.json()["items"] if entry["sku"] == sku]
    assert (item["available"], item["threshold"]) == (2, 2)
    assert item["alerted_at"] is not None

    await staff.expect_and_receive(sku, expected=5, received=5)  # 7 left: re-armed
    listed_after = (await staff.low_stock()).json()["items"]
    assert sku not in [entry["sku"] for entry in listed_after]
    await _buy(gateway, sku, 5)  # 2 left again: the second crossing

    async def two_alerts() -> None:
        assert len(_alerts(mail_dir, staff_address)) == 2

    await eventually(two_alerts, timeout=20)
    assert all(sku in str(mail["Subject"]) for mail in _alerts(mail_dir, staff_address))
