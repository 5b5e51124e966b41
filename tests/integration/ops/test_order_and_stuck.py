"""``order <id>`` and ``stuck`` against real service databases."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from shop_ops.cli import run
from shop_orders.bootstrap import DEFINITION as ORDERS
from tests.integration.ops import rows
from tests.integration.ops.conftest import ServiceDatabases

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def _cli(databases: ServiceDatabases, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run(list(argv), settings=databases.settings(), stdout=out)
    return code, out.getvalue()


async def test_an_orders_timeline_merges_every_service_by_time(databases: ServiceDatabases) -> None:
    start = rows.ago(minutes=10)

    def at(seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    _, paid = rows.payment("o-1", at=at(2))
    fulfillment_id, shipment = rows.fulfillment_order("o-1", "shipped", at=at(4))
    await databases.execute(
        "orders",
        rows.order("o-1", "shipped", since=at(7)),
        rows.timeline("o-1", "placed", at(0)),
        rows.timeline("o-1", "stock_reserved", at(1)),
        rows.timeline("o-1", "confirmed", at(3)),
        rows.timeline("o-1", "shipped", at(7), tracking_number="CJ0001"),
    )
    await databases.execute("catalog", *rows.product_with_stock("SHIRT-M", on_hand=5, reserved=0))
    await databases.execute("catalog", rows.reservation("o-1", "SHIRT-M", 1, "committed", at=at(6.5)))
    await databases.execute("payments", *paid)
    await databases.execute("fulfillment", shipment, rows.fulfillment_event(fulfillment_id, "shipped", at(6)))
    await databases.execute(
        "notifications",
        rows.notification("o-1", "order_confirmed", at=at(3.2)),
        # Its delivery was told first: the shipped email is never sent.
        rows.notification("o-1", "order_shipped", at=at(7.5), superseded_by="order:o-1:shipment:f:delivered"),
        # The customer turned these off: never sent, and the timeline says so rather than "queued".
        rows.notification(
            "o-1", "review_request", at=at(7.7), suppressed_reason="unsubscribed from marketing"
        ),
    )

    await databases.execute(
        "orders",
        sa.insert(ORDERS.metadata.tables["outbox"]).values(
            message_id=uuid.uuid4(),
            message_type="orders.order.placed.v1",
            exchange="shop.events",
            routing_key="orders.order.placed.v1",
            body=b"{}",
            headers={"traceparent": TRACEPARENT, "correlation_id": "o-1"},
        ),
    )

    code, output = await _cli(databases, "order", "o-1")

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "order o-1"
    assert lines[1].startswith("  status: shipped since ")
    assert lines[2] == "  saga step: 5 deliver: shipped, waiting for delivery"
    assert lines[3] == f"  trace: {TRACE_ID}  http://127.0.0.1:16686/trace/{TRACE_ID}"
    events = [line.split(maxsplit=2)[1:] for line in lines[lines.index("timeline:") + 1 :]]
    assert [(service, event.split("  ")[0].strip()) for service, event in events] == [
        ("orders", "placed"),
        ("orders", "stock_reserved"),
        ("payments", "payment succeeded"),
        ("orders", "confirmed"),
        ("notifications", "order_confirmed email queued"),
        ("notifications", "order_confirmed email sent"),
        ("fulfillment", "fulfillment order created"),
        ("fulfillment", "shipped"),
        ("catalog", "reservation committed"),
        ("orders", "shipped"),
        ("notifications", "order_shipped email not sent"),
        ("notifications", "review_request email not sent"),
    ]
    assert "superseded by order:o-1:shipment:f:delivered" in output
    assert "suppressed: unsubscribed from marketing" in output
    assert f"id={fulfillment_id}" in output
    assert "amount=39000 KRW" in output


async def test_an_unknown_order_exits_1(databases: ServiceDatabases) -> None:
    code, output = await _cli(databases, "order", "nobody")
    assert code == 1
    assert "not found in orders" in output


async def test_stuck_lists_orders_past_their_steps_deadline_with_the_reason(
    databases: ServiceDatabases,
) -> None:
    _, handed_over = rows.fulfillment_order("o-handed-over", "pick_requested")
    await databases.execute(
        "orders",
        rows.order("o-fresh", "pending", since=rows.ago(minutes=1)),
        rows.order("o-pending", "pending", since=rows.ago(minutes=9)),
        rows.order("o-reserved", "reserved", since=rows.ago(minutes=20)),
        rows.order("o-confirmed", "confirmed", since=rows.ago(minutes=7)),
        rows.order("o-handed-over", "confirmed", since=rows.ago(minutes=30)),
        rows.order("o-shipped", "shipped", since=rows.ago(hours=5)),
        rows.order("o-rejected", "rejected", since=rows.ago(hours=5)),
    )
    await databases.execute("fulfillment", handed_over)

    code, output = await _cli(databases, "stuck")

    assert code == 0
    lines = output.splitlines()
    assert lines[0] == "3 order(s) past the 5m 0s deadline of their step:"
    assert [(line.split()[0], line.rsplit("  ", 1)[1]) for line in lines[1:]] == [
        ("o-reserved", "waiting for payment"),
        ("o-pending", "waiting for stock reservation"),
        ("o-confirmed", "waiting for fulfillment"),
    ]
    code, output = await _cli(databases, "stuck", "--older-than", "15m")
    assert output.splitlines()[0] == "1 order(s) past the 15m 0s deadline of their step:"
