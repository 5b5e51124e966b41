"""One trace follows an order across every service, through HTTP and through the outbox and the broker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import checkout, new_sku
from tests.support.messages import eventually
from tests.system.shop import place_order, product_in_stock, shop_ops, wait_for_status

pytestmark = pytest.mark.system


def spans(span_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in span_dir.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                found.append(json.loads(line))
    return found


async def test_one_trace_spans_every_service_for_one_order(gateway: httpx.AsyncClient, stack: Stack) -> None:
    sku = new_sku()
    await product_in_stock(gateway, sku=sku, units=2)
    placed = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, placed, "confirmed")

    async def whole_trace() -> None:
        all_spans = spans(stack.config.span_dir)
        order_spans = [s for s in all_spans if s["attributes"].get("shop.correlation_id") == placed["id"]]
        assert order_spans, "no consumer span carries the order id yet"
        # the email is sent later by the notifications worker's sender: its announcement continues the trace
        assert "notifications.message.sent.v1 process" in {s["name"] for s in order_spans}, (
            "no email sent yet"
        )
        trace_ids = {s["trace_id"] for s in order_spans}
        assert len(trace_ids) == 1, f"the order's messages ran in {len(trace_ids)} traces"
        [trace_id] = trace_ids
        services = {s["service"] for s in all_spans if s["trace_id"] == trace_id}
        assert {"gateway", "orders", "catalog", "payments", "fulfillment", "notifications"} <= services, (
            services
        )

    await eventually(whole_trace, timeout=20)


async def test_the_trace_shows_sql_and_where_each_message_was_made_and_sent(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    """Inside the order's trace: every service's statements as client spans, each message's producer span
    as the parent of the consumer's span, and the relay's send span linked to the producer span."""
    sku = new_sku()
    await product_in_stock(gateway, sku=sku, units=2)
    placed = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, placed, "confirmed")

    async def traced() -> None:
        all_spans = spans(stack.config.span_dir)
        [trace_id] = {
            s["trace_id"] for s in all_spans if s["attributes"].get("shop.correlation_id") == placed["id"]
        }
        in_trace = [s for s in all_spans if s["trace_id"] == trace_id]
        by_id = {s["span_id"]: s for s in in_trace}
        sql = [
            s for s in in_trace if s["kind"] == "CLIENT" and s["attributes"].get("db.system") == "postgresql"
        ]
        assert {"orders", "catalog", "payments", "fulfillment"} <= {s["service"] for s in sql}
        assert any("INSERT INTO orders" in s["attributes"].get("db.statement", "") for s in sql)

        [reserve] = [s for s in in_trace if s["name"] == "catalog.stock.reserve.v1 process"]
        made = by_id[reserve["parent_id"]]
        assert (made["service"], made["kind"], made["name"]) == (
            "orders",
            "PRODUCER",
            "catalog.stock.reserve.v1 publish",
        )
        sent = [s for s in all_spans if s["name"] == "outbox send" and made["span_id"] in s["links"]]
        assert [s["service"] for s in sent] == ["orders"]

    await eventually(traced, timeout=20)


def ops_order(stack: Stack, order_id: str) -> str:
    """``shop-ops order <id>`` as an operator runs it, with Jaeger at a made-up address."""
    done = shop_ops(stack, "order", order_id, env={"SHOP_OPS_JAEGER_URL": "http://jaeger.example:16686"})
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_ops_cli_names_the_orders_trace_and_links_it_in_jaeger(
    gateway: httpx.AsyncClient, stack: Stack
) -> None:
    sku = new_sku()
    await product_in_stock(gateway, sku=sku, units=1)
    placed = (await place_order(gateway, checkout(sku))).json()
    await wait_for_status(gateway, placed, "confirmed")

    output = ops_order(stack, placed["id"])
    [line] = [line for line in output.splitlines() if line.startswith("  trace: ")]
    trace_id = line.split()[1]
    assert line == f"  trace: {trace_id}  http://jaeger.example:16686/trace/{trace_id}"

    async def the_same_trace_holds_every_service() -> None:
        in_trace = [s for s in spans(stack.config.span_dir) if s["trace_id"] == trace_id]
        assert {"gateway", "orders", "catalog", "payments", "fulfillment", "notifications"} <= {
            s["service"] for s in in_trace
        }
        assert any(s["attributes"].get("shop.correlation_id") == placed["id"] for s in in_trace)

    await eventually(the_same_trace_holds_every_service, timeout=20)
