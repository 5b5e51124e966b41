"""Capture at shipment under faults: payments' processes authorise at checkout and capture each shipment's share
(SHOP_PAYMENTS_CAPTURE_MODE=at_shipment) while its worker is killed with SIGKILL around the captures and the
sandbox PSP answers 503 once to some cards' authorisations and captures.

Afterwards every shipped order is captured exactly once for its share (a short pick's share released, not
taken), a cancelled order's hold is only released (nothing captured after the void, nothing refunded), refunds
never exceed captures, nothing is parked and the audit is clean. A few orders only: the faults are the point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from scripts.stack import Stack
from shop_storefront import Warehouse, checkout, new_sku, steps_to_delivered
from tests.chaos.conftest import WAREHOUSE_KEY
from tests.chaos.shop import (
    THROUGH_RESTARTS,
    Placed,
    assert_audit_clean,
    audit,
    drained,
    parked_counts,
    payments_twice,
    place_many,
    plain_url,
    product_in_stock,
    record,
    retrying_storefront,
    settle,
    view_of,
)
from tests.chaos.test_faults import fetchval, scenario, until

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(240)]

AT_SHIPMENT = {"SHOP_PAYMENTS_CAPTURE_MODE": "at_shipment"}
PAYMENTS = ["payments-worker", "payments-http"]
PRICE = 20000


@pytest.fixture
def capturing_at_shipment(stack: Stack) -> Iterator[Stack]:
    """Payments' processes capture at shipment for this scenario, and at checkout again after it."""
    for name in PAYMENTS:
        stack.restart(name, extra_env=AT_SHIPMENT)
    stack.wait_http("payments-http", 120)
    try:
        yield stack
    finally:
        for name in PAYMENTS:
            stack.restart(name)
        stack.wait_http("payments-http", 120)


async def captures(stack: Stack) -> int:
    """Captures of holds recorded, succeeded or not (a capture of 0 included)."""
    return await fetchval(stack, "payments", "SELECT count(*) FROM payments WHERE kind = 'capture'")


async def ledger_of(stack: Stack, order_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each order's payments as payments recorded them: kind, step, status and amount, oldest first."""
    connection = await asyncpg.connect(plain_url(stack.config.database_url("payments")))
    try:
        rows = await connection.fetch(
            "SELECT order_id, kind, step, status, amount FROM payments WHERE order_id = ANY($1::text[])"
            " ORDER BY created_at, id",
            order_ids,
        )
    finally:
        await connection.close()
    ledger: dict[str, list[dict[str, Any]]] = {order_id: [] for order_id in order_ids}
    for row in rows:
        ledger[row["order_id"]].append(dict(row))
    return ledger


def fulfillment_of(view: dict[str, Any]) -> str | None:
    ids = [g["fulfillment_id"] for g in view.get("shipment_groups", []) if g.get("fulfillment_id")]
    return ids[0] if ids else None


async def test_13_capture_at_shipment_through_payments_worker_kills(
    capturing_at_shipment: Stack, gateway: httpx.AsyncClient
) -> None:
    stack = capturing_at_shipment
    with scenario("13 capture at shipment") as report:
        sku = new_sku("HOLDCHAOS")
        await product_in_stock(gateway, sku=sku, units=100, price=PRICE)
        parked_before = await asyncio.to_thread(parked_counts)
        # Shipped whole (two of them on a card whose PSP answers 503 once to each authorisation and capture),
        # shipped short (one of two units found at the pick), and cancelled before shipment.
        whole = [checkout(sku) for _ in range(2)] + [
            checkout(sku, token="tok_error_then_ok") for _ in range(2)
        ]
        short = [checkout(sku, quantity=2)]
        cancelled = [checkout(sku, token="tok_error_then_ok")]
        orders = await place_many([gateway], [*whole, *short, *cancelled], concurrency=6)
        shipped_whole, shipped_short, (to_cancel,) = orders[:4], orders[4:5], orders[5:]
        confirmed = await settle(gateway, orders, final=frozenset({"confirmed"}))
        assert not confirmed.lost, [(p.id, p.status) for p in confirmed.lost]
        for placed in orders:
            total = placed.view["totals"]["total"]
            assert placed.payments.get("authorised") == total, placed.payments
            assert placed.payments.get("captured") == 0, placed.payments

        storefront = retrying_storefront(gateway)
        answer = await storefront.cancel(to_cancel.access, "changed_mind")
        assert answer.status_code in (200, 202), answer.text

        # The shipments are reported while payments' worker is down: its captures wait in its queue.
        stack.stop_process("payments-worker")
        report.fault("payments-worker stopped while the warehouse ships")
        warehouse = Warehouse(gateway, WAREHOUSE_KEY, retry=THROUGH_RESTARTS)

        async def ship(placed: Placed, *, short_by: int = 0) -> None:
            async def released() -> bool:
                placed.view = await view_of(gateway, placed)
                return fulfillment_of(placed.view) is not None

            await until(released, timeout=60, what=f"order {placed.id} with the warehouse")
            fulfillment_id = fulfillment_of(placed.view)
            assert fulfillment_id is not None
            steps = steps_to_delivered(f"CJ{fulfillment_id[:12]}")
            if short_by:
                quantity = placed.body["lines"][0]["quantity"] - short_by
                steps[0] = {"type": "picked", "lines": [{"sku": sku, "quantity": quantity}]}
            for step in steps:
                answered = await warehouse.report(fulfillment_id, step)
                assert answered.status_code == 200, answered.text

        await asyncio.gather(*(ship(p) for p in shipped_whole), *(ship(p, short_by=1) for p in shipped_short))
        before = await captures(stack)

        # Started again, it is killed as soon as it records its first capture (the 503s hold some captures in
        # retry), then started again: captures in flight are redelivered and must be taken once.
        stack.start(["payments-worker"], extra_env=AT_SHIPMENT)

        async def capturing() -> bool:
            return await captures(stack) > before

        await until(capturing, timeout=60, what="payments capturing")
        stack.kill("payments-worker")
        at_kill = await captures(stack) - before
        report.fault(f"SIGKILL payments-worker after {at_kill} of 5 captures")
        stack.start(["payments-worker"], extra_env=AT_SHIPMENT)

        await drained(stack)
        settled = await settle(
            gateway, orders, final=frozenset({"delivered", "partially_fulfilled", "cancelled"})
        )
        record(report, orders, settled)

        async def all_captured() -> bool:
            views = await asyncio.gather(*(view_of(gateway, p) for p in orders))
            for placed, view in zip(orders, views, strict=True):
                placed.view = view
            return all(p.payments.get("held") == 0 for p in orders)

        await until(all_captured, timeout=60, what="every hold captured or released")
        ledger = await ledger_of(stack, [p.id for p in orders])
        parked = {
            service: count - parked_before.get(service, 0)
            for service, count in (await asyncio.to_thread(parked_counts)).items()
            if count > parked_before.get(service, 0)
        }
        report.notes.append(f"captures recorded at the kill: {at_kill}; parked {parked or 'none'}")
        logs = stack.log_tails(["payments-worker"], lines=20000)
        answered_503 = {
            what: sum(
                1
                for line in logs.splitlines()
                if f"answered 503 to {what}" in line and any(p.id in line for p in orders)
            )
            for what in ("charge", "capture", "void")
        }
        report.fault(f"the sandbox answered 503 once per attempt key (tok_error_then_ok): {answered_503}")
        twice = await payments_twice(stack)
        result = audit(stack, report)

        assert not settled.lost, [(p.id, p.status) for p in settled.lost]
        assert not settled.charged_twice, [(p.id, p.payments) for p in settled.charged_twice]
        assert twice == 0
        assert answered_503["capture"] >= 1, answered_503
        for placed in shipped_whole:
            total = placed.view["totals"]["total"]
            taken = [r for r in ledger[placed.id] if r["kind"] == "capture" and r["status"] == "succeeded"]
            assert [r["amount"] for r in taken] == [total], ledger[placed.id]
            assert placed.payments["captured"] == total, placed.payments
            assert placed.payments["refunded"] == 0, placed.payments
        for placed in shipped_short:
            total = placed.view["totals"]["total"]
            taken = [r for r in ledger[placed.id] if r["kind"] == "capture" and r["status"] == "succeeded"]
            assert [r["amount"] for r in taken] == [total - PRICE], ledger[placed.id]
            assert placed.payments["voided"] == PRICE, placed.payments
            assert placed.payments["refunded"] == 0, placed.payments
        cancelled_view = to_cancel.view
        assert cancelled_view["status"] == "cancelled"
        assert not [r for r in ledger[to_cancel.id] if r["kind"] == "capture" and r["amount"] > 0]
        assert to_cancel.payments["voided"] == cancelled_view["totals"]["total"], to_cancel.payments
        assert to_cancel.payments["captured"] == 0, to_cancel.payments
        assert to_cancel.payments["refunded"] == 0, to_cancel.payments
        for placed in orders:
            assert placed.payments["refunded"] <= placed.payments["captured"], placed.payments
        steps = [
            (order_id, r["step"])
            for order_id, rows in ledger.items()
            for r in rows
            if r["status"] == "succeeded"
        ]
        assert len(steps) == len(set(steps)), ledger
        assert not parked, parked
        assert_audit_clean(result)
