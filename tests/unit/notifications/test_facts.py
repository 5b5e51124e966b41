"""Which fact each message tells (from the event's content, never its message id) and which later facts of the
order make it moot."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from shop_notifications.domain import (
    Fact,
    balance_charge_failed_fact,
    balance_charged_fact,
    balance_reminder_fact,
    draft_invoice_fact,
    order_cancelled_fact,
    order_confirmed_fact,
    order_rejected_fact,
    payment_overdue_fact,
    preorder_date_changed_fact,
    return_label_fact,
    return_refunded_fact,
    shipment_delivered_fact,
    shipment_shipped_fact,
    waitlist_fact,
)

CHARGE_AT = datetime(2030, 3, 14, 16, 0, tzinfo=UTC)


def _moot(fact: Fact, recorded: set[str]) -> bool:
    return fact.superseded_by(recorded) is not None


def test_a_shipment_is_one_fact_per_fulfillment_and_its_delivery_makes_a_late_shipped_moot() -> None:
    assert shipment_shipped_fact("ord-1", "F1") == shipment_shipped_fact("ord-1", "F1")
    assert shipment_shipped_fact("ord-1", "F1").key != shipment_shipped_fact("ord-1", "F2").key
    assert shipment_shipped_fact("ord-1", "F1").key != shipment_shipped_fact("ord-2", "F1").key
    assert _moot(shipment_shipped_fact("ord-1", "F1"), {shipment_delivered_fact("ord-1", "F1").key})
    assert not _moot(shipment_shipped_fact("ord-1", "F1"), {shipment_delivered_fact("ord-1", "F2").key})
    assert shipment_delivered_fact("ord-1", "F1").moot_after == ()


def test_a_confirmation_is_moot_once_the_order_is_cancelled_rejected_or_a_shipment_is_told() -> None:
    confirmed = order_confirmed_fact("ord-1")
    for later in (
        order_cancelled_fact("ord-1", partial=False),
        order_rejected_fact("ord-1"),
        shipment_shipped_fact("ord-1", "F1"),
        shipment_delivered_fact("ord-1", "F2"),
    ):
        assert _moot(confirmed, {later.key}), later
    assert not _moot(confirmed, {order_cancelled_fact("ord-1", partial=True).key})
    assert not _moot(confirmed, {order_cancelled_fact("ord-2", partial=False).key})


def test_cancelling_the_whole_order_and_cancelling_what_had_not_shipped_are_two_facts() -> None:
    assert order_cancelled_fact("ord-1", partial=False).key != order_cancelled_fact("ord-1", partial=True).key


def test_a_balance_reminder_is_moot_once_that_groups_charge_is_told_or_the_order_cancelled() -> None:
    reminder = balance_reminder_fact("ord-1", group_id="grp-1", sku="CAM-1", charge_at=CHARGE_AT)
    failed = balance_charge_failed_fact("ord-1", "grp-1", retry_at=CHARGE_AT, reason="card_declined")
    assert _moot(reminder, {balance_charged_fact("ord-1", "grp-1").key})
    assert _moot(reminder, {failed.key})
    assert _moot(reminder, {order_cancelled_fact("ord-1", partial=False).key})
    assert not _moot(reminder, {balance_charged_fact("ord-1", "grp-2").key})
    line_reminder = balance_reminder_fact("ord-1", group_id=None, sku="CAM-1", charge_at=CHARGE_AT)
    assert _moot(line_reminder, {order_cancelled_fact("ord-1", partial=False).key})
    assert line_reminder.key != reminder.key


def test_the_same_moment_in_another_offset_is_the_same_reminder() -> None:
    seoul = CHARGE_AT.astimezone(timezone(timedelta(hours=9)))
    assert (
        balance_reminder_fact("ord-1", group_id="grp-1", sku="CAM-1", charge_at=seoul).key
        == balance_reminder_fact("ord-1", group_id="grp-1", sku="CAM-1", charge_at=CHARGE_AT).key
    )


def test_each_failed_balance_charge_is_a_fact_of_its_own_and_moot_once_the_balance_is_charged() -> None:
    first = balance_charge_failed_fact("ord-1", "grp-1", retry_at=CHARGE_AT, reason="card_declined")
    second = balance_charge_failed_fact(
        "ord-1", "grp-1", retry_at=CHARGE_AT + timedelta(days=1), reason="card_declined"
    )
    last = balance_charge_failed_fact("ord-1", "grp-1", retry_at=None, reason="card_declined")
    assert len({first.key, second.key, last.key}) == 3
    assert _moot(first, {balance_charged_fact("ord-1", "grp-1").key})
    assert _moot(last, {order_cancelled_fact("ord-1", partial=False).key})


def test_a_return_label_is_moot_once_the_returns_refund_is_told() -> None:
    label = return_label_fact("ord-1", "ret-1")
    assert _moot(label, {return_refunded_fact("ord-1", "ret-1", exchange_unavailable=False).key})
    assert _moot(label, {return_refunded_fact("ord-1", "ret-1", exchange_unavailable=True).key})
    assert not _moot(label, {return_refunded_fact("ord-1", "ret-2", exchange_unavailable=False).key})
    assert (
        return_refunded_fact("ord-1", "ret-1", exchange_unavailable=True).key
        != return_refunded_fact("ord-1", "ret-1", exchange_unavailable=False).key
    )


def test_each_date_change_of_a_pre_order_line_is_a_fact_moot_once_the_order_is_cancelled() -> None:
    moved = preorder_date_changed_fact(
        "ord-1", sku="CAM-1", previous_date=date(2030, 4, 1), expected_ship_date=date(2030, 4, 20)
    )
    moved_again = preorder_date_changed_fact(
        "ord-1", sku="CAM-1", previous_date=date(2030, 4, 20), expected_ship_date=date(2030, 5, 2)
    )
    assert moved.key != moved_again.key
    assert _moot(moved, {order_cancelled_fact("ord-1", partial=False).key})
    assert _moot(
        payment_overdue_fact("ord-1", date(2030, 4, 1)), {order_cancelled_fact("ord-1", partial=False).key}
    )


def test_invoices_and_waitlist_notices_carry_nothing_that_tells_two_sendings_apart_so_the_message_is_the_fact() -> (
    None
):
    assert draft_invoice_fact("d-1", "m-1").key != draft_invoice_fact("d-1", "m-2").key
    assert (
        waitlist_fact("e-1", "back_in_stock", "m-1").key != waitlist_fact("e-1", "back_in_stock", "m-2").key
    )


def test_the_first_recorded_later_fact_is_named_and_a_beginning_matches_only_what_it_begins() -> None:
    confirmed = order_confirmed_fact("ord-1")
    recorded = ["order:ord-1:confirmed", "order:ord-1:shipment:F1:shipped", "order:ord-1:cancelled"]
    assert confirmed.superseded_by(recorded) == "order:ord-1:shipment:F1:shipped"
    assert (
        confirmed.superseded_by(["order:ord-10:shipment:F1:shipped", "order:ord-1:cancelled:partial"]) is None
    )


def test_a_failed_charge_is_moot_once_a_later_failure_of_the_same_balance_is_told() -> None:
    def failed(retry_at: datetime | None, group_id: str = "grp-1") -> Fact:
        return balance_charge_failed_fact("ord-1", group_id, retry_at=retry_at, reason="card_declined")

    first, second = failed(CHARGE_AT), failed(CHARGE_AT + timedelta(days=1))
    assert _moot(first, {second.key})
    assert _moot(first, {failed(None).key})
    assert _moot(second, {failed(None).key})
    assert not _moot(second, {first.key})
    assert not _moot(first, {failed(CHARGE_AT + timedelta(days=1), group_id="grp-2").key})
    assert not _moot(failed(None), {first.key, second.key})
    assert _moot(
        failed(CHARGE_AT + timedelta(hours=1)), {failed(CHARGE_AT + timedelta(hours=1, microseconds=1)).key}
    )
