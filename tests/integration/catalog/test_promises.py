"""Catalog's part of pre-order promises against the real PostgreSQL and RabbitMQ: changed inbounds and given-back
places move expected dates (and only those are told), a window that starts later is announced by the schedule,
and storefront views are counted for the metrics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from shop_contracts import catalog as contracts
from tests.integration.catalog.test_preorders import Catalog, catalog, now, reserved
from tests.support.messages import MessageProbe, eventually, send

pytestmark = pytest.mark.integration

__all__ = ["catalog"]  # the fixture, shared with test_preorders

MARCH = datetime(2031, 3, 10, 9, tzinfo=UTC)


def _changes(probe: MessageProbe, sku: str) -> list[tuple[str, date | None, date | None, str]]:
    return [
        (m.order_id, m.previous_date, m.expected_ship_date, m.reason)
        for m in probe.of_type(contracts.PreorderEtaChanged)
        if m.sku == sku
    ]


async def test_a_changed_inbound_tells_only_the_orders_whose_date_moved(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("ETA-1")
    await catalog.policy("ETA-1", expected_ship_date="2031-06-30")
    inbound_id = await catalog.inbound("ETA-1", 2, MARCH)
    for index in (1, 2, 3):
        await catalog.reserve(f"e-{index}", ("ETA-1", 1))
        line = (await reserved(probe, f"e-{index}")).preorder_lines[0]
        assert line.expected_ship_date == (date(2031, 6, 30) if index == 3 else date(2031, 3, 10))

    more = await catalog.client.patch(f"/inbounds/{inbound_id}", json={"quantity": 3})
    assert more.status_code == 200, more.text
    assert more.json()["preorders_with_new_ship_date"] == 1
    later = await catalog.client.patch(
        f"/inbounds/{inbound_id}", json={"expected_at": (MARCH + timedelta(days=30)).isoformat()}
    )
    assert later.json()["preorders_with_new_ship_date"] == 3

    async def told() -> None:
        assert _changes(probe, "ETA-1") == [
            ("e-3", date(2031, 6, 30), date(2031, 3, 10), "inbound_changed"),
            ("e-1", date(2031, 3, 10), date(2031, 4, 9), "inbound_changed"),
            ("e-2", date(2031, 3, 10), date(2031, 4, 9), "inbound_changed"),
            ("e-3", date(2031, 3, 10), date(2031, 4, 9), "inbound_changed"),
        ]

    await eventually(told)
    # Each pre-order counts the changes it was told, so orders knows a late one from a newer one.
    told_to_e3 = [m.version for m in probe.of_type(contracts.PreorderEtaChanged) if m.order_id == "e-3"]
    assert len(told_to_e3) == 2
    assert told_to_e3[0] is not None
    assert told_to_e3[1] == told_to_e3[0] + 1
    nothing = await catalog.client.patch(f"/inbounds/{inbound_id}", json={})
    assert nothing.status_code == 422
    assert nothing.json()["errors"][0]["field"] == "body"
    unknown = await catalog.client.patch(
        "/inbounds/00000000-0000-0000-0000-000000000000", json={"quantity": 1}
    )
    assert unknown.status_code == 404
    received = await catalog.client.post(f"/inbounds/{inbound_id}/receive", json={"quantity": 3})
    assert received.status_code == 200, received.text
    again = await catalog.client.patch(f"/inbounds/{inbound_id}", json={"quantity": 4})
    assert again.status_code == 409


async def test_a_place_given_back_moves_the_dates_of_those_behind(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("ETA-2")
    await catalog.policy("ETA-2", expected_ship_date="2031-06-30")
    await catalog.inbound("ETA-2", 1, MARCH)
    for index in (1, 2):
        await catalog.reserve(f"g-{index}", ("ETA-2", 1))
        await reserved(probe, f"g-{index}")
    await send(catalog.broker, contracts.ReleaseStock(order_id="g-1", reason="cancelled"), subject="g-1")

    async def second_moves_up() -> None:
        assert _changes(probe, "ETA-2") == [("g-2", date(2031, 6, 30), date(2031, 3, 10), "queue_moved")]

    await eventually(second_moves_up)


async def test_a_window_that_starts_later_is_announced_by_the_schedule_once(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("LATER-1")
    joined = await catalog.client.post(
        "/waitlist", json={"sku": "LATER-1", "email": "later@example.com", "locale": "ko"}
    )
    assert joined.status_code == 201
    await catalog.policy("LATER-1", starts_at=(now() + timedelta(hours=6)).isoformat())
    saved_again = await catalog.policy("LATER-1", starts_at=(now() + timedelta(hours=12)).isoformat())
    assert saved_again["version"] == 2
    assert [m for m in probe.of_type(contracts.WaitlistNotification) if m.sku == "LATER-1"] == []
    catalog.move_clock(timedelta(hours=13))

    async def announced() -> None:
        told = [m for m in probe.of_type(contracts.WaitlistNotification) if m.sku == "LATER-1"]
        assert [(m.kind, m.customer.email) for m in told] == [("preorder_open", "later@example.com")]

    await eventually(announced, timeout=15)


async def test_views_are_counted_per_variant_in_the_campaign_window(catalog: Catalog) -> None:
    product_id = await catalog.product("VIEW-1")
    await catalog.policy("VIEW-1", cap=5)
    for _ in range(3):
        counted = await catalog.client.post(f"/products/{product_id}/views", json={"sku": "VIEW-1"})
        assert counted.status_code == 202, counted.text
    elsewhere = await catalog.client.post(f"/products/{product_id}/views", json={"sku": "OTHER-1"})
    assert elsewhere.status_code == 404
    assert elsewhere.json()["errors"][0]["field"] == "sku"
    [campaign] = (await catalog.client.get("/preorder-metrics", params={"sku": "VIEW-1"})).json()["campaigns"]
    assert (campaign["campaign"], campaign["views"], campaign["cap"], campaign["sold_out_at"]) == (
        "VIEW-1@always",
        3,
        5,
        None,
    )
