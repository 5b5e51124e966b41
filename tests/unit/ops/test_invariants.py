"""Each audit check's decision on rows written by hand."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from shop_ops import invariants
from shop_ops.invariants import Severity
from shop_ops.rows import (
    DraftHold,
    FulfillmentOrderState,
    OrderLedger,
    OrderState,
    PaymentLedger,
    PreorderCapUse,
    ShipmentGroupState,
    StepPayments,
    StockLevel,
    SucceededPayments,
    UnpublishedOutboxRow,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _order(
    order_id: str, status: str, *, total: int = 1000, ago: timedelta = timedelta(hours=2)
) -> OrderState:
    return OrderState(order_id, status, total, "KRW", created_at=NOW - ago, since=NOW - ago)


def _shipment(order_id: str, status: str) -> FulfillmentOrderState:
    return FulfillmentOrderState(uuid.uuid4(), order_id, "seoul-1", status, NOW)


def test_stock_within_on_hand_flags_oversold_and_negative_levels() -> None:
    findings = invariants.stock_levels_within_on_hand(
        [
            StockLevel("OK", "seoul", on_hand=5, reserved=5, safety_stock=0),
            StockLevel("OVER", "seoul", on_hand=5, reserved=7, safety_stock=0),
            StockLevel("NEG", "busan", on_hand=-1, reserved=0, safety_stock=0),
        ]
    )
    assert [(f.ids["sku"], f.message) for f in findings] == [
        ("OVER", "oversold: reserved 7 exceeds on hand 5"),
        ("NEG", "on_hand is negative (-1)"),
        ("NEG", "oversold: reserved 0 exceeds on hand -1"),
    ]
    assert findings[0].ids == {"sku": "OVER", "location": "seoul"}


def test_reservations_must_add_up_to_the_stock_levels_reserved() -> None:
    levels = [
        StockLevel("A", "seoul", 10, 3, 0),
        StockLevel("B", "seoul", 10, 2, 0),
        StockLevel("C", "seoul", 10, 0, 0),
    ]
    findings = invariants.reservations_match_stock(
        levels, {("A", "seoul"): 3, ("B", "seoul"): 1, ("D", "busan"): 4}
    )
    assert [(f.ids, f.message) for f in findings] == [
        ({"sku": "B", "location": "seoul"}, "stock level says 2 reserved, reservations hold 1"),
        ({"sku": "D", "location": "busan"}, "4 unit(s) reserved at a location with no stock level"),
    ]


def test_ledger_never_refunds_more_than_it_captured() -> None:
    payment = uuid.uuid4()
    findings = invariants.ledger_balances(
        [
            OrderLedger("fine", ("KRW",), captured=1000, refunded=400),
            OrderLedger("over", ("KRW",), captured=1000, refunded=1500),
            OrderLedger("mixed", ("KRW", "USD"), captured=10, refunded=0),
        ],
        [PaymentLedger(payment, "over", captured=1000, refunded=1500)],
    )
    assert [(f.ids["order"], f.message) for f in findings] == [
        ("over", "refunded 1500 exceeds captured 1000 (net -500)"),
        ("mixed", "ledger mixes currencies KRW, USD"),
        ("over", "payment refunded 1500 exceeds its capture 1000"),
    ]
    assert findings[2].ids["payment"] == str(payment)


def test_a_step_charged_twice_is_a_violation_with_both_payment_ids() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    findings = invariants.one_success_per_step(
        [StepPayments("o-1", "full", (first, second)), StepPayments("o-2", "full", (first,))]
    )
    assert len(findings) == 1
    assert findings[0].ids == {"order": "o-1", "step": "full", "payments": f"{first},{second}"}


def test_paid_orders_are_captured_in_full_and_in_their_currency() -> None:
    orders = [
        _order("paid", "confirmed"),
        _order("short", "shipped"),
        _order("unpaid", "delivered"),
        _order("dollars", "confirmed"),
        _order("pending", "pending"),
    ]
    succeeded = {
        "paid": SucceededPayments("paid", 1000, ("KRW",)),
        "short": SucceededPayments("short", 600, ("KRW",)),
        "dollars": SucceededPayments("dollars", 1000, ("USD",)),
    }
    findings = invariants.paid_orders_fully_captured(orders, succeeded)
    assert [(f.ids["order"], f.message) for f in findings] == [
        ("short", "shipped with 600 paid but a total of 1000"),
        ("unpaid", "delivered but no successful payment (due 1000)"),
        ("dollars", "paid in USD but the order is in KRW"),
    ]


def test_an_order_with_preorder_lines_owes_what_checkout_charged_and_at_most_its_total() -> None:
    def preorder(order_id: str, charged_now: int) -> OrderState:
        return OrderState(order_id, "confirmed", 1000, "KRW", NOW, NOW, charged_now=charged_now)

    orders = [preorder("deposit", 300), preorder("short", 300), preorder("over", 300), preorder("later", 0)]
    succeeded = {
        "deposit": SucceededPayments("deposit", 300, ("KRW",)),
        "short": SucceededPayments("short", 200, ("KRW",)),
        "over": SucceededPayments("over", 1300, ("KRW",)),
    }
    findings = invariants.paid_orders_fully_captured(orders, succeeded)
    assert [(f.ids["order"], f.message) for f in findings] == [
        ("short", "confirmed with 200 paid, less than the 300 due at checkout"),
        ("over", "confirmed with 1300 paid, above its total 1000"),
    ]


def test_an_order_on_terms_may_ship_unpaid_while_awaiting_payment_but_everything_else_stays_strict() -> None:
    def on_terms(order_id: str, status: str, payment_status: str) -> OrderState:
        return OrderState(
            order_id,
            status,
            1000,
            "KRW",
            NOW,
            NOW,
            payment_status=payment_status,
            payment_terms="net",
            payment_due_date=date(2025, 3, 31),
        )

    orders = [
        on_terms("shipped-awaiting", "shipped", "awaiting_payment"),
        on_terms("delivered-overdue", "delivered", "overdue"),
        on_terms("awaiting-overpaid", "shipped", "awaiting_payment"),
        on_terms("paid-ok", "shipped", "paid"),
        on_terms("paid-short", "shipped", "paid"),
        on_terms("paid-none", "delivered", "paid"),
        _order("checkout-unpaid", "shipped"),
    ]
    succeeded = {
        "awaiting-overpaid": SucceededPayments("awaiting-overpaid", 1500, ("KRW",)),
        "paid-ok": SucceededPayments("paid-ok", 1000, ("KRW",)),
        "paid-short": SucceededPayments("paid-short", 400, ("KRW",)),
    }
    findings = invariants.paid_orders_fully_captured(orders, succeeded)
    assert [(f.ids["order"], f.message) for f in findings] == [
        ("awaiting-overpaid", "shipped with 1500 paid, above its total 1000"),
        ("paid-short", "shipped with 400 paid but a total of 1000"),
        ("paid-none", "delivered but no successful payment (due 1000)"),
        ("checkout-unpaid", "shipped but no successful payment (due 1000)"),
    ]
    assert all(f.severity is Severity.VIOLATION for f in findings)


def test_an_order_on_terms_past_its_due_date_unpaid_is_shown_waiting_with_the_date() -> None:
    def on_terms(order_id: str, payment_status: str, due: date) -> OrderState:
        return OrderState(
            order_id,
            "shipped",
            1000,
            "KRW",
            NOW,
            NOW,
            payment_status=payment_status,
            payment_terms="net",
            payment_due_date=due,
        )

    orders = [
        on_terms("overdue", "overdue", date(2025, 2, 20)),
        on_terms("past-due", "awaiting_payment", date(2025, 2, 28)),
        on_terms("due-today", "awaiting_payment", date(2025, 3, 1)),
        on_terms("paid", "paid", date(2025, 2, 1)),
        _order("checkout", "shipped"),
    ]
    findings = invariants.orders_awaiting_payment(orders, now=NOW)
    assert [(f.ids["order"], f.ids["since"], f.severity) for f in findings] == [
        ("overdue", "2025-02-20", Severity.WAITING),
        ("past-due", "2025-02-28", Severity.WAITING),
    ]
    assert findings[0].message == "shipped on net terms, payment overdue since 2025-02-20"


def test_rejected_orders_keep_no_money() -> None:
    orders = [_order("refunded", "rejected"), _order("kept", "rejected"), _order("paid", "confirmed")]
    ledgers = {
        "refunded": OrderLedger("refunded", ("KRW",), 1000, 1000),
        "kept": OrderLedger("kept", ("KRW",), 1000, 0),
        "paid": OrderLedger("paid", ("KRW",), 1000, 0),
    }
    findings = invariants.rejected_orders_not_charged(orders, ledgers)
    assert [f.ids["order"] for f in findings] == ["kept"]
    assert "1000 still captured" in findings[0].message


def test_services_agree_on_shipped_confirmed_and_rejected_orders() -> None:
    orders = [
        _order("shipped-ok", "shipped"),
        _order("shipped-missing", "shipped"),
        _order("shipped-behind", "shipped"),
        _order("delivered-behind", "delivered"),
        _order("confirmed-late", "confirmed"),
        _order("confirmed-recent", "confirmed", ago=timedelta(seconds=30)),
        _order("confirmed-ok", "confirmed"),
        _order("rejected-shipping", "rejected"),
    ]
    shipments = [
        _shipment("shipped-ok", "delivered"),
        _shipment("shipped-behind", "packed"),
        _shipment("delivered-behind", "shipped"),
        _shipment("confirmed-ok", "pick_requested"),
        _shipment("rejected-shipping", "pick_requested"),
        _shipment("stranger", "pick_requested"),
    ]
    findings = invariants.services_agree_on_state(
        orders, shipments, now=NOW, fulfillment_grace=timedelta(minutes=5)
    )
    assert [f.ids["order"] for f in findings] == [
        "shipped-missing",
        "shipped-behind",
        "delivered-behind",
        "confirmed-late",
        "rejected-shipping",
        "stranger",
    ]
    assert findings[0].message == "shipped in orders, fulfillment orders: none"
    assert "fulfillment" in findings[-1].ids


def test_outbox_rows_older_than_the_threshold_are_unpublished_violations() -> None:
    old, fresh = uuid.uuid4(), uuid.uuid4()
    rows = [
        UnpublishedOutboxRow("payments", 7, old, "payments.payment.succeeded.v1", NOW - timedelta(minutes=3)),
        UnpublishedOutboxRow(
            "payments", 8, fresh, "payments.payment.succeeded.v1", NOW - timedelta(seconds=5)
        ),
    ]
    [finding] = invariants.outbox_published(rows, now=NOW, max_age=timedelta(seconds=60))
    assert finding.ids == {"service": "payments", "outbox_row": "7", "message": str(old)}
    assert finding.message == "payments.payment.succeeded.v1 unpublished for 3m 0s"


def test_paid_orders_confirmed_for_long_are_waiting_not_violations() -> None:
    orders = [
        _order("long", "confirmed", ago=timedelta(hours=3)),
        _order("short", "confirmed", ago=timedelta(minutes=1)),
    ]
    [finding] = invariants.paid_orders_progressing(
        orders, [_shipment("long", "packed")], now=NOW, waiting_after=timedelta(hours=1)
    )
    assert finding.severity is Severity.WAITING
    assert finding.ids["order"] == "long"
    assert finding.message == "paid and confirmed 3h 0m ago, not shipped yet (fulfillment: packed)"


def test_preorders_accepted_over_the_cap_are_a_violation_and_at_the_cap_are_not() -> None:
    findings = invariants.preorders_within_cap(
        [PreorderCapUse("AT-CAP", cap=3, accepted=3), PreorderCapUse("OVER", cap=3, accepted=4)]
    )
    assert [(f.message, f.ids, f.severity) for f in findings] == [
        ("pre-orders accepted 4 exceed the cap 3", {"sku": "OVER"}, Severity.VIOLATION)
    ]


def test_a_preorder_waiting_for_stock_or_its_balance_is_waiting_not_a_disagreement() -> None:
    charged_ahead = replace(
        _order("balance-paid-ahead", "confirmed", total=53000), charged_now=13000, waiting_preorder=True
    )
    assert (
        invariants.services_agree_on_state(
            [charged_ahead], [], now=NOW, fulfillment_grace=timedelta(minutes=5)
        )
        == []
    )
    assert (
        invariants.paid_orders_fully_captured(
            [charged_ahead], {"balance-paid-ahead": SucceededPayments("balance-paid-ahead", 53000, ("KRW",))}
        )
        == []
    )
    [finding] = invariants.paid_orders_progressing(
        [charged_ahead], [], now=NOW, waiting_after=timedelta(hours=1)
    )
    assert finding.severity is Severity.WAITING
    assert finding.message.endswith("; pre-order units wait for stock or their balance")


def test_a_draft_holds_only_the_reservation_it_still_wants() -> None:
    long_ago = NOW - timedelta(hours=1)
    held = {"r-open": 2, "r-old": 1, "r-lapsed": 3, "r-order": 2, "r-fresh": 1}
    drafts = [
        DraftHold("d1", "open", "r-open", "held", ("r-old",), long_ago),
        DraftHold("d2", "open", "r-lapsed", "lapsed", (), long_ago),
        DraftHold("d3", "completed", "r-order", "carried_over", (), long_ago),
        DraftHold("d4", "deleted", "r-fresh", "released", (), NOW - timedelta(seconds=5)),
    ]
    findings = invariants.drafts_hold_only_what_they_want(drafts, held, now=NOW, grace=timedelta(minutes=5))
    assert sorted((f.ids["draft"], f.ids["reservation"]) for f in findings) == [
        ("d1", "r-old"),
        ("d2", "r-lapsed"),
    ]


def _group(
    order_status: str, status: str, *, shipped: bool, delivered: bool, kind: str = "in_stock"
) -> ShipmentGroupState:
    return ShipmentGroupState(
        group_id="g1",
        order_id="o1",
        order_status=order_status,
        kind=kind,
        status=status,
        fulfillment_id="f1",
        shipped_at=NOW if shipped else None,
        delivered_at=NOW if delivered else None,
        stock_committed_at=NOW if shipped else None,
    )


def test_a_group_shows_only_what_its_facts_back_and_is_never_behind_its_order() -> None:
    assert (
        invariants.groups_follow_their_facts([_group("delivered", "delivered", shipped=True, delivered=True)])
        == []
    )
    # A delivered report handled before its shipment: delivered with nothing recorded as shipped.
    unbacked = invariants.groups_follow_their_facts(
        [_group("delivered", "delivered", shipped=False, delivered=True)]
    )
    assert [finding.message for finding in unbacked] == ["group is delivered with no shipment recorded"]
    behind = invariants.groups_follow_their_facts(
        [_group("delivered", "packed", shipped=False, delivered=False)]
    )
    assert [finding.message for finding in behind] == ["order is delivered, its group is packed"]
    # A cancelled group and an exchange's replacement do not hold a delivered order back.
    assert (
        invariants.groups_follow_their_facts(
            [_group("delivered", "cancelled", shipped=False, delivered=False)]
        )
        == []
    )
    assert (
        invariants.groups_follow_their_facts(
            [_group("delivered", "pick_requested", shipped=False, delivered=False, kind="exchange")]
        )
        == []
    )
    uncommitted = replace(
        _group("shipped", "shipped", shipped=True, delivered=False), stock_committed_at=None
    )
    assert [f.message for f in invariants.groups_follow_their_facts([uncommitted])] == [
        "shipment recorded but its stock never committed"
    ]


def test_a_cancelled_group_has_no_live_fulfillment_order() -> None:
    cancelled = _group("cancelled", "cancelled", shipped=False, delivered=False)
    picking = replace(_shipment("o1", "picked"), group_key="g1")
    stopped = replace(_shipment("o1", "cancelled"), group_key="g1")
    other_group = replace(_shipment("o1", "picked"), group_key="g2")
    assert invariants.cancelled_groups_stopped([cancelled], [stopped, other_group]) == []
    found = invariants.cancelled_groups_stopped([cancelled], [picking])
    assert [finding.message for finding in found] == ["group is cancelled, its fulfillment order is picked"]


def test_each_shipments_units_are_committed_once_and_a_commit_on_its_way_is_not_a_finding_yet() -> None:
    place = ("TEE", "seoul-1")
    assert invariants.stock_committed_once({"o1": {place: 2}}, {"o1": {place: 2}}, in_flight=set()) == []
    twice = invariants.stock_committed_once({"o1": {place: 2}}, {"o1": {place: 4}}, in_flight={"o1"})
    assert [f.message for f in twice] == ["catalog committed 4 unit(s), orders' shipments took 2"]
    assert invariants.stock_committed_once({"o1": {place: 2}}, {}, in_flight={"o1"}) == []
    never = invariants.stock_committed_once({"o1": {place: 2}}, {}, in_flight=set())
    assert [f.message for f in never] == ["catalog committed 0 unit(s), orders' shipments took 2"]
    unasked = invariants.stock_committed_once({}, {"o2": {place: 1}}, in_flight=set())
    assert [f.ids["order"] for f in unasked] == ["o2"]
