"""Orders' promise rules: the promised date, when consent is needed, when the promise is checked, the decision
token, and the pre-order metrics per campaign."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shop_contracts.values import PreorderPolicy
from shop_orders.core.domain import (
    access_token,
    decision_token,
    decision_token_matches,
    needs_consent,
    promise_check_due,
    promised_ship_date,
)
from shop_orders.preorders.domain import SoldPreorderLine, campaign_metrics, rate

ORDERED = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
SECRET = "a-secret-of-sixteen-chars"


def test_the_promise_is_the_latest_date_then_the_expected_date_then_thirty_days() -> None:
    window = PreorderPolicy(
        payment_mode="deposit",
        deposit_percent=30,
        expected_ship_date=date(2027, 1, 10),
        expected_ship_latest=date(2027, 1, 31),
    )
    assert promised_ship_date(window, ORDERED) == date(2027, 1, 31)
    assert promised_ship_date(window.model_copy(update={"expected_ship_latest": None}), ORDERED) == date(
        2027, 1, 10
    )
    assert promised_ship_date(PreorderPolicy(payment_mode="pay_now"), ORDERED) == date(2026, 12, 25)


def test_only_a_known_date_past_the_promise_needs_consent() -> None:
    promised = date(2027, 1, 31)
    assert needs_consent(date(2027, 2, 1), promised)
    assert not needs_consent(date(2027, 1, 31), promised)
    assert not needs_consent(date(2027, 1, 5), promised)
    assert not needs_consent(None, promised)


def test_the_promise_is_checked_when_the_promised_day_is_over() -> None:
    assert promise_check_due(date(2027, 1, 31)) == datetime(2027, 2, 1, tzinfo=UTC)


def test_the_decision_token_is_scoped_to_its_order_and_is_not_the_access_token() -> None:
    token = decision_token(SECRET, "order-1")
    assert decision_token_matches(SECRET, "order-1", token)
    assert not decision_token_matches(SECRET, "order-2", token)
    assert not decision_token_matches("another-secret-of-16", "order-1", token)
    assert token != access_token(SECRET, "order-1")


def _line(
    order_id: str, *, quantity: int, size: str, cancelled: bool = False, currency: str = "KRW"
) -> SoldPreorderLine:
    return SoldPreorderLine(
        order_id=order_id,
        campaign="HOODIE@always",
        sku="HOODIE",
        quantity=quantity,
        line_total=40000 * quantity if currency == "KRW" else 3000 * quantity,
        currency=currency,
        cancelled=cancelled,
        options={"size": size, "colour": "black"},
    )


def test_campaign_metrics_count_kept_units_revenue_per_currency_cancellations_refunds_and_demand() -> None:
    lines = [
        _line("a", quantity=2, size="M"),
        _line("b", quantity=1, size="L"),
        _line("c", quantity=1, size="L", cancelled=True),
        _line("d", quantity=1, size="M", currency="USD"),
    ]
    [campaign] = campaign_metrics(lines, refunded={"c": 43000, "a": 0})
    assert campaign["orders"] == 4
    assert (campaign["units"], campaign["units_cancelled"]) == (4, 1)
    assert campaign["revenue"] == {"KRW": 120000, "USD": 3000}
    assert (campaign["cancelled_orders"], campaign["cancellation_rate"]) == (1, 0.25)
    assert (campaign["refunded_orders"], campaign["refund_rate"], campaign["refunded"]) == (
        1,
        0.25,
        {"KRW": 43000},
    )
    assert campaign["demand_by_option"] == {"size": {"M": 3, "L": 1}, "colour": {"black": 4}}


def test_a_rate_of_nothing_is_none() -> None:
    assert rate(1, 0) is None
    assert rate(1, 3) == 0.3333
