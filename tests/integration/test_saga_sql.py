"""The saga's SQL counter (``python -m bench.saga_sql``) runs an order from checkout to delivered through every
service's real handlers, and counts what it set out to count."""

from __future__ import annotations

import pytest

from bench.saga_sql import measure, report

pytestmark = pytest.mark.integration

SAGA = {
    "orders.order.placed.v2",
    "catalog.stock.reserve.v1",  # claims the hold made at checkout, answered only if it cannot
    "payments.payment.capture.v2",
    "payments.payment.succeeded.v2",
    "orders.order.confirmed.v2",
    "fulfillment.fulfillment_order.create.v1",
    "fulfillment.fulfillment_order.created.v1",
    "fulfillment.pick.requested.v1",
    "fulfillment.fulfillment_order.picked.v1",
    "fulfillment.fulfillment_order.packed.v1",
    "fulfillment.shipment.shipped.v1",
    "catalog.stock.commit.v1",
    "orders.order.shipped.v1",
    "catalog.stock.committed.v1",
    "fulfillment.shipment.delivered.v1",
    "orders.order.delivered.v1",
}


async def test_one_order_goes_from_checkout_to_delivered_and_every_service_is_counted() -> None:
    tally = await measure(1)

    assert dict(tally.messages) == dict.fromkeys(SAGA, 1)
    services = {service for service, _ in tally.statements}
    assert services == {"catalog", "orders", "payments", "fulfillment", "notifications"}
    assert tally.statements[("orders", "place order (orders' use case)")] > 0
    assert tally.statements[("catalog", "catalog.stock.reserve.v1")] > 0
    assert tally.statements[("catalog", "hold at checkout (catalog's use case)")] > 0
    lines = report(tally, 1)
    assert lines[0].startswith("SQL statements per placed order, placed to delivered (1 orders): ")
