"""What the CLI prints, from results built by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shop_ops.audit import AuditCheck, AuditReport, CheckResult
from shop_ops.deadlines import StuckOrder
from shop_ops.formatting import audit_lines, order_lines, parked_list_lines, parked_message_lines, stuck_lines
from shop_ops.invariants import Finding, Severity
from shop_ops.rows import OrderState
from shop_ops.timeline import OrderView, TimelineEntry, merge_timeline, trace_id_of
from shop_runtime.dead_letters import ParkedMessage, parked_message

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def _nothing(context: object) -> list[Finding]:
    return []


def _check(name: str) -> AuditCheck:
    return AuditCheck(name, f"what {name} checks", _nothing)


def test_audit_lines_name_each_violation_with_its_ids_and_end_with_a_summary() -> None:
    report = AuditReport(
        [
            CheckResult(_check("stock.within_on_hand")),
            CheckResult(
                _check("money.ledger"),
                [Finding("refunded 2 exceeds captured 1 (net -1)", {"order": "o-9"})],
            ),
            CheckResult(
                _check("saga.paid_orders_progress"),
                [Finding("paid and confirmed 2h 0m ago", {"order": "o-3"}, Severity.WAITING)],
            ),
            CheckResult(_check("messaging.outbox_published.catalog"), error="DatabaseUnavailable: down"),
        ]
    )
    lines = audit_lines(report)
    assert lines[0] == "VIOLATION money.ledger: refunded 2 exceeds captured 1 (net -1) [order=o-9]"
    assert lines[1] == "WAITING   saga.paid_orders_progress: paid and confirmed 2h 0m ago [order=o-3]"
    assert (
        lines[2] == "ERROR     messaging.outbox_published.catalog: could not run: DatabaseUnavailable: down"
    )
    assert "4 checks run:" in lines
    assert any(line.strip().startswith("stock.within_on_hand") and " ok " in line for line in lines)
    assert any("money.ledger" in line and "1 violation(s)" in line for line in lines[4:])
    assert lines[-1] == "1 violation(s), 1 waiting, 1 check(s) could not run"
    assert report.exit_code == 1


def test_exit_codes_tell_clean_from_broken_from_unknown() -> None:
    assert AuditReport([CheckResult(_check("a"))]).exit_code == 0
    waiting = Finding("waits", {}, Severity.WAITING)
    assert AuditReport([CheckResult(_check("a"), [waiting])]).exit_code == 0
    assert AuditReport([CheckResult(_check("a"), error="boom")]).exit_code == 2


def _parked(**headers: object) -> ParkedMessage:
    return parked_message(
        "payments",
        message_id="m-1",
        message_type="payments.payment.capture.v1",
        headers={
            "x-shop-attempts": 4,
            "x-shop-error": "ValueError: bad amount\nsecond line",
            "x-shop-parked-at": "2025-03-01T11:00:00+00:00",
            "x-shop-traceback": "Traceback (most recent call last):\n  boom",
            "x-shop-original-exchange": "shop.commands",
            "x-shop-original-routing-key": "payments.payment.capture.v1",
            **headers,
        },
        body=b'{"id": "m-1", "data": {"amount": 5}}',
        content_type="application/json",
    )


def test_parked_lists_show_id_type_attempts_first_error_line_and_parked_at() -> None:
    message = parked_message(
        "payments",
        message_id="m-1",
        message_type="t.v1",
        headers={"x-shop-attempts": 4, "x-shop-error": "ValueError: bad\nmore", "x-shop-parked-at": "then"},
        body=b"{}",
    )
    assert parked_list_lines("payments", 1, [message], None) == [
        "payments: 1 parked",
        "  m-1  t.v1  attempts=4  parked_at=then",
        "      ValueError: bad",
    ]
    assert parked_list_lines("orders", None, [], "orders.messages.parked does not exist") == [
        "orders: no parking queue (orders.messages.parked does not exist)"
    ]


def test_a_parked_message_shows_error_traceback_route_headers_and_body() -> None:
    message = _parked(traceparent="00-abc-def-01")
    text = "\n".join(parked_message_lines(message))
    assert "attempts:       4" in text
    assert "original route: exchange='shop.commands' routing_key='payments.payment.capture.v1'" in text
    assert "error:          ValueError: bad amount\nsecond line" in text
    assert "  traceparent: 00-abc-def-01" in text
    assert "traceback:\n  Traceback (most recent call last):\n    boom" in text
    assert '"amount": 5' in text


def test_order_timeline_merges_services_by_time_then_saga_order() -> None:
    at = NOW - timedelta(minutes=1)
    entries = merge_timeline(
        [
            TimelineEntry(at + timedelta(seconds=2), "fulfillment", "shipped"),
            TimelineEntry(at, "payments", "payment succeeded"),
            TimelineEntry(at, "orders", "confirmed"),
            TimelineEntry(at - timedelta(seconds=1), "catalog", "reservation reserved", "sku=A"),
        ]
    )
    assert [entry.service for entry in entries] == ["catalog", "orders", "payments", "fulfillment"]
    order = OrderState("o-1", "shipped", 1000, "KRW", created_at=at, since=at)
    lines = order_lines(OrderView("o-1", order, "5 deliver", entries, {"notifications": "down"}), now=NOW)
    assert lines[0] == "order o-1"
    assert lines[1] == "  status: shipped since 2025-03-01T11:59:00+00:00 (1m 0s ago); total 1000 KRW"
    assert lines[2] == "  saga step: 5 deliver"
    assert lines[3] == "  ! notifications not read: down"
    assert lines[5] == "  2025-03-01T11:58:59.000+00:00  catalog       reservation reserved  sku=A"


def test_an_order_no_service_knows() -> None:
    lines = order_lines(OrderView("ghost", None, "unknown to orders", []), now=NOW)
    assert lines == [
        "order ghost",
        "  not found in orders",
        "  saga step: unknown to orders",
        "timeline:",
        "  (nothing in any service)",
    ]


def test_an_orders_traces_are_named_and_linked_to_jaeger() -> None:
    view = OrderView("o-1", None, "1 reserve", [], trace_ids=["4bf92f3577b34da6a3ce929d0e0e4736"])
    lines = order_lines(view, now=NOW, trace_url="http://jaeger:16686/")
    assert (
        lines[3]
        == "  trace: 4bf92f3577b34da6a3ce929d0e0e4736  http://jaeger:16686/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert order_lines(view, now=NOW)[3] == "  trace: 4bf92f3577b34da6a3ce929d0e0e4736"


def test_a_trace_id_is_read_from_a_w3c_traceparent_only() -> None:
    assert (
        trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        == "4bf92f3577b34da6a3ce929d0e0e4736"
    )
    for malformed in (
        None,
        "",
        "00-xyz-00f067aa0ba902b7-01",
        "00-" + "0" * 32 + "-00f067aa0ba902b7-01",
        "garbage",
    ):
        assert trace_id_of(malformed) is None


def test_stuck_lines_give_reason_and_since() -> None:
    since = NOW - timedelta(minutes=12)
    order = OrderState("o-7", "reserved", 1000, "KRW", created_at=since, since=since)
    lines = stuck_lines(
        [StuckOrder(order, "waiting for payment", timedelta(minutes=7))],
        now=NOW,
        deadline=timedelta(minutes=5),
    )
    assert lines == [
        "1 order(s) past the 5m 0s deadline of their step:",
        "  o-7  reserved  since 2025-03-01T11:48:00+00:00 (12m 0s ago)  waiting for payment",
    ]
    assert stuck_lines([], now=NOW, deadline=timedelta(minutes=5)) == [
        "no order has waited in a saga step longer than 5m 0s"
    ]


def test_uuid_ids_print_plainly() -> None:
    identifier = uuid.uuid4()
    assert audit_lines(AuditReport([CheckResult(_check("x"), [Finding("m", {"payment": str(identifier)})])]))[
        0
    ].endswith(f"[payment={identifier}]")
