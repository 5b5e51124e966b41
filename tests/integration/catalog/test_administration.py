"""Running the catalog against the real PostgreSQL and RabbitMQ: product changes, new and retired variants, prices
now and at a set time, archiving and restoring, safety stock, and what the other services are told of each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shop_contracts import catalog as contracts
from tests.integration.catalog.test_availability import says
from tests.integration.catalog.test_preorders import LOCATION, Catalog, catalog, rejected, reserved
from tests.support.messages import MessageProbe, eventually

__all__ = ["catalog"]


async def newest_variant(probe: MessageProbe, sku: str, **fields: object) -> contracts.VariantUpdated:
    """Wait until the newest VariantUpdated of ``sku`` has these fields; return it."""

    def newest() -> contracts.VariantUpdated:
        said = [m for m in probe.of_type(contracts.VariantUpdated) if m.sku == sku]
        assert said, f"catalog said nothing about variant {sku}"
        return max(said, key=lambda m: m.version)

    async def has_them() -> None:
        message = newest()
        assert {name: getattr(message, name) for name in fields} == fields, message

    await eventually(has_them)
    return newest()


def prices_of(message: contracts.VariantUpdated) -> dict[str, int]:
    return {price.currency: price.amount for price in message.prices}


def problem_fields(response: Any) -> list[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return [error["field"] for error in response.json().get("errors") or []]


async def test_a_price_changed_now_is_told_as_the_variants_next_version(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("ADM-PRICE")
    first = await newest_variant(probe, "ADM-PRICE", version=1)
    changed = await catalog.client.post(
        "/variants/ADM-PRICE/price-changes", json={"prices": [{"currency": "KRW", "amount": 89000}]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "applied"
    told = await newest_variant(probe, "ADM-PRICE", version=2)
    assert prices_of(told) == {"KRW": 89000, "USD": prices_of(first)["USD"]}
    assert told.sellable
    view = (await catalog.client.get(f"/products/{told.product_id}")).json()
    assert {p["currency"]: p["amount"] for p in view["variants"][0]["prices"]}["KRW"] == 89000


async def test_a_scheduled_price_change_applies_when_its_time_comes_and_a_cancelled_one_never(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("ADM-LATER", krw=100000)
    await newest_variant(probe, "ADM-LATER", version=1)
    soon = datetime.now(UTC) + timedelta(hours=2)
    scheduled = await catalog.client.post(
        "/variants/ADM-LATER/price-changes",
        json={"prices": [{"currency": "KRW", "amount": 70000}], "effective_at": soon.isoformat()},
    )
    assert scheduled.status_code == 202, scheduled.text
    assert scheduled.json()["status"] == "scheduled"
    cancelled = await catalog.client.post(
        "/variants/ADM-LATER/price-changes",
        json={
            "prices": [{"currency": "KRW", "amount": 1}],
            "effective_at": (soon + timedelta(hours=1)).isoformat(),
        },
    )
    assert cancelled.status_code == 202, cancelled.text
    waiting = (await catalog.client.get("/variants/ADM-LATER/price-changes")).json()["items"]
    assert [item["id"] for item in waiting] == [scheduled.json()["id"], cancelled.json()["id"]]
    gone = await catalog.client.delete(f"/variants/ADM-LATER/price-changes/{cancelled.json()['id']}")
    assert gone.status_code == 204, gone.text
    again = await catalog.client.delete(f"/variants/ADM-LATER/price-changes/{cancelled.json()['id']}")
    assert again.status_code == 404
    assert problem_fields(again) == ["change_id"]

    catalog.move_clock(timedelta(hours=4))
    told = await newest_variant(probe, "ADM-LATER", version=2)
    assert prices_of(told)["KRW"] == 70000

    async def nothing_waits() -> None:
        assert (await catalog.client.get("/variants/ADM-LATER/price-changes")).json()["items"] == []

    await eventually(nothing_waits)
    assert max(m.version for m in probe.of_type(contracts.VariantUpdated) if m.sku == "ADM-LATER") == 2


async def test_bad_price_changes_are_refused_naming_the_field(catalog: Catalog) -> None:
    await catalog.product("ADM-BAD")
    past = await catalog.client.post(
        "/variants/ADM-BAD/price-changes",
        json={"prices": [{"currency": "KRW", "amount": 1}], "effective_at": "2020-01-01T00:00:00Z"},
    )
    assert past.status_code == 422
    assert problem_fields(past) == ["effective_at"]
    twice = await catalog.client.post(
        "/variants/ADM-BAD/price-changes",
        json={"prices": [{"currency": "KRW", "amount": 1}, {"currency": "KRW", "amount": 2}]},
    )
    assert twice.status_code == 422
    assert problem_fields(twice) == ["prices"]
    unknown = await catalog.client.post(
        "/variants/ADM-NOBODY/price-changes", json={"prices": [{"currency": "KRW", "amount": 1}]}
    )
    assert unknown.status_code == 404
    assert problem_fields(unknown) == ["sku"]


async def test_a_retired_variant_is_refused_hidden_from_the_storefront_and_told_as_not_sellable(
    catalog: Catalog, probe: MessageProbe
) -> None:
    product_id = await catalog.product("ADM-OLD", units=5)
    await says(probe, "ADM-OLD", in_stock_units=5)
    await catalog.reserve("adm-before", ("ADM-OLD", 2))
    await reserved(probe, "adm-before")

    retired = await catalog.client.post("/variants/ADM-OLD/retire")
    assert retired.status_code == 200, retired.text
    assert retired.json()["status"] == "retired"
    assert (await catalog.client.post("/variants/ADM-OLD/retire")).json() == retired.json()
    told = await newest_variant(probe, "ADM-OLD", sellable=False)
    await says(probe, "ADM-OLD", in_stock_units=0)

    await catalog.reserve("adm-after", ("ADM-OLD", 1))
    refusal = await rejected(probe, "adm-after")
    assert [(s.sku, s.reason) for s in refusal.shortages] == [("ADM-OLD", "variant_retired")]

    storefront = (await catalog.client.get(f"/products/{product_id}")).json()
    assert storefront["variants"] == []
    staff = (await catalog.client.get(f"/products/{product_id}", params={"staff": "true"})).json()
    [variant] = staff["variants"]
    assert (variant["status"], variant["sellable"], variant["version"]) == ("retired", False, told.version)
    stock = (await catalog.client.get("/inventory/ADM-OLD/levels")).json()
    assert stock["sellable"] is False
    assert stock["totals"] == {"on_hand": 5, "reserved": 2, "safety_stock": 0, "available": 0, "incoming": 0}
    refused = await catalog.client.post(
        "/variants/ADM-OLD/price-changes", json={"prices": [{"currency": "KRW", "amount": 1}]}
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "variant_retired"


async def test_retiring_a_variant_on_preorder_ends_its_window(catalog: Catalog, probe: MessageProbe) -> None:
    await catalog.product("ADM-PRE")
    await catalog.policy("ADM-PRE", cap=10)
    assert (await catalog.client.post("/variants/ADM-PRE/retire")).status_code == 200
    assert (await catalog.client.get("/preorder-policies/ADM-PRE")).status_code == 404

    async def ended_is_told() -> None:
        told = [m for m in probe.of_type(contracts.PreorderPolicyUpdated) if m.sku == "ADM-PRE"]
        assert any(m.policy is None for m in told), told

    await eventually(ended_is_told)
    await says(probe, "ADM-PRE", in_stock_units=0, preorder_units_left=None, policy_version=2)


async def test_an_archived_product_is_not_listed_or_sold_until_restored(
    catalog: Catalog, probe: MessageProbe
) -> None:
    product_id = await catalog.product("ADM-ARCH", units=3)
    await says(probe, "ADM-ARCH", in_stock_units=3)
    archived = await catalog.client.post(f"/products/{product_id}/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["status"] == "archived"
    await says(probe, "ADM-ARCH", in_stock_units=0)
    await newest_variant(probe, "ADM-ARCH", sellable=False)
    assert (await catalog.client.get(f"/products/{product_id}")).status_code == 404
    listed = (await catalog.client.get("/products", params={"limit": 100})).json()["items"]
    assert product_id not in [item["id"] for item in listed]
    await catalog.reserve("adm-archived", ("ADM-ARCH", 1))
    refusal = await rejected(probe, "adm-archived")
    assert refusal.reason == "product_archived"

    restored = await catalog.client.post(f"/products/{product_id}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["status"] == "active"
    await says(probe, "ADM-ARCH", in_stock_units=3)
    await newest_variant(probe, "ADM-ARCH", sellable=True)
    assert (await catalog.client.get(f"/products/{product_id}")).status_code == 200
    await catalog.reserve("adm-restored", ("ADM-ARCH", 1))
    await reserved(probe, "adm-restored")


async def test_safety_stock_lowers_what_is_available_and_a_reservation_beyond_it_is_refused(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("ADM-SAFE", units=5)
    await catalog.reserve("safe-1", ("ADM-SAFE", 1))
    await reserved(probe, "safe-1")
    kept = await catalog.client.put(
        f"/inventory/ADM-SAFE/locations/{LOCATION}/safety-stock", json={"safety_stock": 3}
    )
    assert kept.status_code == 200, kept.text
    assert {k: kept.json()[k] for k in ("on_hand", "reserved", "safety_stock", "available")} == {
        "on_hand": 5,
        "reserved": 1,
        "safety_stock": 3,
        "available": 1,
    }
    await says(probe, "ADM-SAFE", in_stock_units=1)
    await catalog.reserve("safe-2", ("ADM-SAFE", 2))
    assert (await rejected(probe, "safe-2")).reason == "out_of_stock"
    await catalog.reserve("safe-3", ("ADM-SAFE", 1))
    await reserved(probe, "safe-3")
    await says(probe, "ADM-SAFE", in_stock_units=0)

    negative = await catalog.client.put(
        f"/inventory/ADM-SAFE/locations/{LOCATION}/safety-stock", json={"safety_stock": -1}
    )
    assert negative.status_code == 422
    lowered = await catalog.client.put(
        f"/inventory/ADM-SAFE/locations/{LOCATION}/safety-stock", json={"safety_stock": 0}
    )
    assert lowered.json()["available"] == 3
    await says(probe, "ADM-SAFE", in_stock_units=3)
    await catalog.inbound("ADM-SAFE", 7, datetime.now(UTC) + timedelta(days=3))
    stock = (await catalog.client.get("/inventory/ADM-SAFE/levels")).json()
    [level] = stock["locations"]
    assert (level["on_hand"], level["reserved"], level["available"], level["incoming"]) == (5, 2, 3, 7)


async def test_a_product_changed_and_a_variant_added_are_told_and_bad_input_names_the_field(
    catalog: Catalog, probe: MessageProbe
) -> None:
    product_id = await catalog.product("ADM-EDIT")
    await newest_variant(probe, "ADM-EDIT", version=1)
    changed = await catalog.client.patch(f"/products/{product_id}", json={"title": "Washed linen shirt"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["title"] == "Washed linen shirt"
    await newest_variant(probe, "ADM-EDIT", version=2, title="Washed linen shirt")
    described = await catalog.client.patch(f"/products/{product_id}", json={"description": "Softer."})
    assert described.json()["description"] == "Softer."
    assert described.json()["title"] == "Washed linen shirt"
    empty = await catalog.client.patch(f"/products/{product_id}", json={})
    assert empty.status_code == 422
    assert problem_fields(empty) == ["body"]

    added = await catalog.client.post(
        f"/products/{product_id}/variants",
        json={
            "sku": "ADM-EDIT-L",
            "options": {"size": "L"},
            "prices": [{"currency": "KRW", "amount": 41000}],
        },
    )
    assert added.status_code == 201, added.text
    new = await newest_variant(probe, "ADM-EDIT-L", version=1, title="Washed linen shirt")
    assert prices_of(new) == {"KRW": 41000}
    duplicate = await catalog.client.post(
        f"/products/{product_id}/variants",
        json={"sku": "ADM-EDIT", "prices": [{"currency": "KRW", "amount": 1}]},
    )
    assert duplicate.status_code == 409
    assert problem_fields(duplicate) == ["sku"]
    view = (await catalog.client.get(f"/products/{product_id}")).json()
    assert [variant["sku"] for variant in view["variants"]] == ["ADM-EDIT", "ADM-EDIT-L"]


async def test_a_fixed_deposit_names_an_amount_for_every_currency_the_variant_is_sold_in(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("ADM-DEPOSIT")  # sold in KRW and USD
    await newest_variant(probe, "ADM-DEPOSIT", version=1)
    deposit = {"payment_mode": "deposit", "cap": 10}

    krw_only = await catalog.client.put(
        "/preorder-policies/ADM-DEPOSIT", json={**deposit, "deposit_amounts": {"KRW": 10000}}
    )
    assert krw_only.status_code == 422, krw_only.text
    assert problem_fields(krw_only) == ["deposit_amounts"]
    assert "USD" in krw_only.json()["errors"][0]["message"]

    both = await catalog.client.put(
        "/preorder-policies/ADM-DEPOSIT", json={**deposit, "deposit_amounts": {"KRW": 10000, "USD": 800}}
    )
    assert both.status_code == 200, both.text
    in_yen = await catalog.client.post(
        "/variants/ADM-DEPOSIT/price-changes", json={"prices": [{"currency": "JPY", "amount": 9000}]}
    )
    assert in_yen.status_code == 422, in_yen.text
    assert problem_fields(in_yen) == ["prices"]
    assert (await newest_variant(probe, "ADM-DEPOSIT")).version == 1  # no price changed
