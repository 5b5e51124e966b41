"""Catalog tells orders what a SKU can still sell: when it sells out and whenever units come back, numbered so
the newest word wins (orders answers sold-out checkouts from it)."""

from __future__ import annotations

import asyncio

from shop_contracts import catalog as contracts
from shop_contracts.values import LocatedLine
from tests.integration.catalog.test_preorders import Catalog, catalog, outcome, reserved
from tests.support.messages import MessageProbe, eventually, send

__all__ = ["catalog"]


async def newest(probe: MessageProbe, sku: str) -> contracts.StockAvailabilityChanged:
    said = [m for m in probe.of_type(contracts.StockAvailabilityChanged) if m.sku == sku]
    assert said, f"catalog said nothing about {sku}'s availability"
    versions = [m.version for m in said]
    assert len(set(versions)) == len(versions), f"two messages share a version: {versions}"
    return max(said, key=lambda m: m.version)


async def says(probe: MessageProbe, sku: str, **figures: object) -> contracts.StockAvailabilityChanged:
    """Wait until catalog's newest word on ``sku`` has these figures."""

    async def newest_has_them() -> None:
        message = await newest(probe, sku)
        assert {name: getattr(message, name) for name in figures} == figures, message

    await eventually(newest_has_them)
    return await newest(probe, sku)


async def test_selling_the_last_units_says_sold_out_and_a_release_and_a_restock_say_they_came_back(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("AV-TEE", units=3)
    counted_in = await says(probe, "AV-TEE", in_stock_units=3, preorder_units_left=None, policy_version=None)
    buyers = [f"av-{index}" for index in range(6)]
    await asyncio.gather(*(catalog.reserve(order_id, ("AV-TEE", 1)) for order_id in buyers))
    answers = [await outcome(probe, order_id) for order_id in buyers]
    winners = [a.order_id for a in answers if isinstance(a, contracts.StockReserved)]
    assert len(winners) == 3
    sold_out = await says(probe, "AV-TEE", in_stock_units=0)
    assert sold_out.version > counted_in.version

    await send(
        catalog.broker,
        contracts.ReleaseStock(order_id=winners[0], reason="payment_failed"),
        subject=winners[0],
    )
    released = await says(probe, "AV-TEE", in_stock_units=1)
    assert released.version > sold_out.version

    await catalog.adjust("AV-TEE", 4)
    await says(probe, "AV-TEE", in_stock_units=5)


async def test_reserving_units_while_some_are_left_says_nothing(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("AV-QUIET", units=5)
    await says(probe, "AV-QUIET", in_stock_units=5)
    await catalog.reserve("quiet-1", ("AV-QUIET", 2))
    await reserved(probe, "quiet-1")
    await catalog.reserve("quiet-2", ("AV-QUIET", 3))
    await reserved(probe, "quiet-2")
    await says(probe, "AV-QUIET", in_stock_units=0)
    said = [m for m in probe.of_type(contracts.StockAvailabilityChanged) if m.sku == "AV-QUIET"]
    assert [m.in_stock_units for m in sorted(said, key=lambda m: m.version)] == [5, 0]


async def test_a_full_preorder_cap_is_said_and_a_place_given_back_or_a_larger_cap_reopens_it(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("AV-DROP")
    saved = await catalog.policy("AV-DROP", cap=2)
    await says(probe, "AV-DROP", preorder_units_left=2, policy_version=saved["version"], in_stock_units=0)
    for order_id in ("drop-1", "drop-2"):
        await catalog.reserve(order_id, ("AV-DROP", 1))
        await reserved(probe, order_id)
    await says(probe, "AV-DROP", preorder_units_left=0, policy_version=saved["version"])

    await send(
        catalog.broker, contracts.ReleaseStock(order_id="drop-1", reason="cancelled"), subject="drop-1"
    )
    await says(probe, "AV-DROP", preorder_units_left=1)

    await catalog.reserve("drop-3", ("AV-DROP", 1))
    await reserved(probe, "drop-3")
    await says(probe, "AV-DROP", preorder_units_left=0)
    raised = await catalog.policy("AV-DROP", cap=5)
    await says(probe, "AV-DROP", preorder_units_left=3, policy_version=raised["version"])


async def test_committing_shipped_units_changes_nothing_to_say(catalog: Catalog, probe: MessageProbe) -> None:
    await catalog.product("AV-SHIP", units=1)
    await catalog.reserve("ship-1", ("AV-SHIP", 1))
    await reserved(probe, "ship-1")
    sold_out = await says(probe, "AV-SHIP", in_stock_units=0)
    await send(
        catalog.broker,
        contracts.CommitStock(
            order_id="ship-1", lines=[LocatedLine(sku="AV-SHIP", location="seoul-1", quantity=1)]
        ),
        subject="ship-1",
    )
    await probe.wait_for(contracts.StockCommitted, lambda m: m.order_id == "ship-1")
    assert await newest(probe, "AV-SHIP") == sold_out
