"""A merchant runs the catalog through the gateway and sees what buyers see: a price changed now or at a set time
(orders placed before keep their price), a retired variant and an archived product refused at checkout, a restored
one sold again, safety stock kept back from sale, and stock read per location."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import Staff, Storefront, Variant, checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import access, as_staff, place_order, wait_for_status

pytestmark = pytest.mark.system

SECOND_LOCATION = "busan-1"


async def orders_prices(stack: Stack, sku: str) -> dict[str, int]:
    """The prices orders' copy of the variant holds now (what its checkouts charge)."""
    orders_url = f"http://127.0.0.1:{stack.config.service_port('orders')}"
    async with httpx.AsyncClient(base_url=orders_url) as orders:
        view = await orders.get(f"/variants/{sku}")
    assert view.status_code == 200, view.text
    return dict(view.json()["prices"])


async def orders_charge(stack: Stack, sku: str, krw: int) -> None:
    """Wait until orders prices checkouts of ``sku`` at ``krw`` (catalog's event is on its way)."""

    async def charged() -> None:
        assert (await orders_prices(stack, sku))["KRW"] == krw

    await eventually(charged, timeout=20)


async def storefront_price(gateway: httpx.AsyncClient, product_id: str) -> int:
    product = await Storefront(gateway).product(product_id)
    [price] = [p for p in product["variants"][0]["prices"] if p["currency"] == "KRW"]
    return int(price["amount"])


async def placed_unit_price(gateway: httpx.AsyncClient, placed: dict[str, Any]) -> int:
    order = await Storefront(gateway).order(access(placed))
    [line] = order["lines"]
    return int(line["unit_price"])


async def checkout_answers(
    gateway: httpx.AsyncClient, sku: str, status: int, *, quantity: int = 1, code: str | None = None
) -> httpx.Response:
    """Check out ``sku`` until the gateway answers ``status`` (with the problem ``code``, if given): orders hears
    catalog's word a moment later, and each of catalog's events about a change arrives in its own time."""
    answers: list[httpx.Response] = []

    async def as_expected() -> None:
        answers.append(await place_order(gateway, checkout(sku, quantity=quantity)))
        assert answers[-1].status_code == status, answers[-1].text
        if code is not None:
            assert answers[-1].json()["code"] == code, answers[-1].text

    await eventually(as_expected, timeout=20)
    return answers[-1]


def refused_naming_the_line(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert [error["field"] for error in problem["errors"]] == ["lines[0].sku"]
    return problem


async def new_product(staff: Staff, *, units: int, krw: int = 39000) -> tuple[str, str]:
    sku = new_sku("ADM")
    product_id = await staff.product_in_stock(Variant(sku, prices={"KRW": krw}), units)
    return sku, product_id


async def test_a_price_changed_now_is_charged_to_new_orders_and_an_order_placed_before_keeps_its_price(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    staff = as_staff(gateway)
    sku, product_id = await new_product(staff, units=5, krw=39000)
    before = (await place_order(gateway, checkout(sku))).json()
    assert await placed_unit_price(gateway, before) == 39000

    changed = await staff.change_prices(sku, {"KRW": 45000})
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "applied"
    assert await storefront_price(gateway, product_id) == 45000
    await orders_charge(stack, sku, 45000)

    after = (await place_order(gateway, checkout(sku))).json()
    assert await placed_unit_price(gateway, after) == 45000
    confirmed = await wait_for_status(gateway, before, "confirmed")
    assert confirmed["lines"][0]["unit_price"] == 39000
    assert confirmed["totals"]["subtotal"] == 39000


async def test_a_scheduled_price_change_waits_for_its_time_then_applies(
    gateway: httpx.AsyncClient, stack: Stack, clock: Callable[[timedelta], None]
) -> None:
    staff = as_staff(gateway)
    sku, product_id = await new_product(staff, units=5, krw=39000)
    effective_at = datetime.now(UTC) + timedelta(days=2)
    scheduled = await staff.change_prices(sku, {"KRW": 29000}, effective_at=effective_at.isoformat())
    assert scheduled.status_code == 202, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    waiting = (await staff.price_changes(sku)).json()["items"]
    assert [(item["id"], item["prices"]) for item in waiting] == [
        (scheduled.json()["id"], [{"currency": "KRW", "amount": 29000}])
    ]
    before = (await place_order(gateway, checkout(sku))).json()
    assert await placed_unit_price(gateway, before) == 39000
    assert await storefront_price(gateway, product_id) == 39000

    clock(timedelta(days=2, hours=1))

    async def applied() -> None:
        assert await storefront_price(gateway, product_id) == 29000

    await eventually(applied, timeout=20)
    assert (await staff.price_changes(sku)).json()["items"] == []
    await orders_charge(stack, sku, 29000)
    after = (await place_order(gateway, checkout(sku))).json()
    assert await placed_unit_price(gateway, after) == 29000
    assert await placed_unit_price(gateway, before) == 39000


async def test_a_retired_variant_is_refused_at_checkout_and_gone_from_the_storefront(
    gateway: httpx.AsyncClient,
) -> None:
    staff = as_staff(gateway)
    sku, product_id = await new_product(staff, units=5)
    kept = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, kept, "confirmed")

    retired = await staff.retire_variant(sku)
    assert retired.status_code == 200, retired.text
    assert retired.json()["status"] == "retired"

    problem = refused_naming_the_line(await checkout_answers(gateway, sku, 409, code="not_sellable"))
    assert "no longer sold" in problem["errors"][0]["message"]
    assert (await Storefront(gateway).product(product_id))["variants"] == []
    staff_view = (await staff.product(product_id)).json()
    assert [(v["sku"], v["status"], v["sellable"]) for v in staff_view["variants"]] == [
        (sku, "retired", False)
    ]
    stock = (await staff.stock(sku)).json()
    assert (stock["sellable"], stock["totals"]["available"], stock["totals"]["reserved"]) == (False, 0, 1)
    assert (await Storefront(gateway).order(access(kept)))["status"] == "confirmed"
    price_of_retired = await staff.change_prices(sku, {"KRW": 1})
    assert price_of_retired.status_code == 409
    assert price_of_retired.json()["code"] == "variant_retired"


async def test_an_archived_product_is_hidden_and_refused_until_it_is_restored(
    gateway: httpx.AsyncClient,
) -> None:
    staff = as_staff(gateway)
    sku, product_id = await new_product(staff, units=3)
    await checkout_answers(gateway, sku, 202)  # orders knows the SKU

    archived = await staff.archive_product(product_id)
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"
    assert (await gateway.get(f"/v1/products/{product_id}")).status_code == 404
    assert product_id not in await listed_product_ids(gateway)
    assert product_id in [item["id"] for item in await every_staff_product(staff)]
    refused_naming_the_line(await checkout_answers(gateway, sku, 409, code="not_sellable"))

    restored = await staff.restore_product(product_id)
    assert restored.status_code == 200, restored.text
    assert restored.json()["status"] == "active"
    assert (await gateway.get(f"/v1/products/{product_id}")).status_code == 200
    assert product_id in await listed_product_ids(gateway)
    again = await checkout_answers(gateway, sku, 202)
    await wait_for_status(gateway, again.json(), "confirmed")


async def listed_product_ids(gateway: httpx.AsyncClient) -> list[str]:
    """Every product the storefront lists, page by page."""
    found: list[str] = []
    while True:
        page = await gateway.get("/v1/products", params={"limit": 100, "offset": len(found)})
        assert page.status_code == 200, page.text
        items = page.json()["items"]
        found += [str(item["id"]) for item in items]
        if len(items) < 100:
            return found


async def every_staff_product(staff: Staff) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = (await staff.products(limit=100, offset=len(found))).json()["items"]
        found += page
        if len(page) < 100:
            return found


async def test_safety_stock_is_kept_back_from_sale_and_a_checkout_beyond_what_is_left_is_refused(
    gateway: httpx.AsyncClient,
) -> None:
    staff = as_staff(gateway)
    sku, product_id = await new_product(staff, units=5)
    kept = await staff.set_safety_stock(sku, 3)
    assert kept.status_code == 200, kept.text
    assert {k: kept.json()[k] for k in ("location", "on_hand", "reserved", "safety_stock", "available")} == {
        "location": "seoul-1",
        "on_hand": 5,
        "reserved": 0,
        "safety_stock": 3,
        "available": 2,
    }
    assert await Storefront(gateway).available(product_id) == 2

    beyond = refused_naming_the_line(await place_order(gateway, checkout(sku, quantity=3)))
    assert (beyond["code"], beyond["errors"][0]["message"]) == (
        "sold_out",
        f"{sku}: only 2 left, 3 asked for",
    )

    assert (await staff.set_safety_stock(sku, 5)).json()["available"] == 0
    problem = refused_naming_the_line(await checkout_answers(gateway, sku, 409))
    assert problem["code"] == "sold_out"

    assert (await staff.set_safety_stock(sku, 4)).json()["available"] == 1
    within = await checkout_answers(gateway, sku, 202)
    await wait_for_status(gateway, within.json(), "confirmed")
    stock = (await staff.stock(sku)).json()
    [level] = stock["locations"]
    assert (level["on_hand"], level["reserved"], level["safety_stock"], level["available"]) == (5, 1, 4, 0)


async def test_stock_is_read_per_location_with_what_is_on_its_way(gateway: httpx.AsyncClient) -> None:
    staff = as_staff(gateway)
    sku, _ = await new_product(staff, units=4)
    assert (await staff.adjust_inventory(sku, 6, location=SECOND_LOCATION)).status_code == 201
    assert (await staff.set_safety_stock(sku, 1, location=SECOND_LOCATION)).status_code == 200
    inbound = await staff.expect_inbound(sku, 10, expected_at="2027-06-01T00:00:00Z")
    assert inbound.status_code == 201, inbound.text
    stock = await staff.stock(sku)
    assert stock.status_code == 200, stock.text
    levels = {
        level["location"]: (
            level["on_hand"],
            level["reserved"],
            level["safety_stock"],
            level["available"],
            level["incoming"],
        )
        for level in stock.json()["locations"]
    }
    assert levels == {SECOND_LOCATION: (6, 0, 1, 5, 0), "seoul-1": (4, 0, 0, 4, 10)}
    assert stock.json()["totals"] == {
        "on_hand": 10,
        "reserved": 0,
        "safety_stock": 1,
        "available": 9,
        "incoming": 10,
    }


async def test_product_changes_new_variants_and_bad_input_as_staff_see_them(
    gateway: httpx.AsyncClient,
) -> None:
    staff = as_staff(gateway)
    sku, product_id = await new_product(staff, units=1)
    changed = await staff.change_product(
        product_id, {"title": "Washed linen shirt", "description": "Softer."}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["description"]) == ("Washed linen shirt", "Softer.")
    assert (await Storefront(gateway).product(product_id))["title"] == "Washed linen shirt"
    larger = new_sku("ADM")
    added = await staff.add_variant(product_id, Variant(larger, prices={"KRW": 41000}, options={"size": "L"}))
    assert added.status_code == 201, added.text
    skus = [variant["sku"] for variant in (await Storefront(gateway).product(product_id))["variants"]]
    assert skus == [sku, larger]

    def fields(response: httpx.Response) -> list[str]:
        assert response.headers["content-type"].startswith("application/problem+json"), response.text
        return [error["field"] for error in response.json()["errors"]]

    unknown_field = await staff.change_product(product_id, {"price": 1})
    assert unknown_field.status_code == 422
    assert fields(unknown_field) == ["price"]
    nothing = await staff.change_product(product_id, {})
    assert (nothing.status_code, fields(nothing)) == (422, ["body"])
    negative = await staff.set_safety_stock(sku, -1)
    assert (negative.status_code, fields(negative)) == (422, ["safety_stock"])
    past = await staff.change_prices(sku, {"KRW": 1}, effective_at="2020-01-01T00:00:00Z")
    assert (past.status_code, fields(past)) == (422, ["effective_at"])
    taken = await staff.add_variant(product_id, Variant(sku))
    assert (taken.status_code, fields(taken)) == (409, ["sku"])
    assert (await staff.retire_variant(new_sku("NOBODY"))).status_code == 404
    anonymous = await gateway.post(f"/v1/admin/variants/{sku}/retire")
    assert anonymous.status_code == 401
