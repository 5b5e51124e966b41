"""The low-stock crossing rule: alert once going from above the threshold to at or below it, re-arm above it."""

from __future__ import annotations

from shop_catalog.domain.low_stock import LowStockStep, effective_threshold, low_stock_step


def walk(availables: list[int], threshold: int | None, *, alerted: bool = False) -> list[LowStockStep]:
    """The steps a watch takes as a SKU's available units go through ``availables``."""
    steps: list[LowStockStep] = []
    for available in availables:
        step = low_stock_step(available=available, threshold=threshold, alerted=alerted)
        alerted = {"alert": True, "rearm": False, "keep": alerted}[step]
        steps.append(step)
    return steps


def test_going_down_through_the_threshold_alerts_at_the_threshold_itself() -> None:
    assert walk([8, 6, 5, 4], threshold=5) == ["keep", "keep", "alert", "keep"]


def test_staying_at_or_below_never_alerts_again_however_often_it_is_seen() -> None:
    assert walk([3, 3, 2, 0, 0, 5], threshold=5) == ["alert", "keep", "keep", "keep", "keep", "keep"]


def test_back_above_re_arms_and_the_next_fall_alerts_again() -> None:
    assert walk([4, 6, 7, 5, 9, 1], threshold=5) == ["alert", "rearm", "keep", "alert", "rearm", "alert"]


def test_a_fired_watch_is_not_re_armed_by_a_rise_that_stays_at_or_below() -> None:
    assert walk([2, 5], threshold=5, alerted=True) == ["keep", "keep"]


def test_a_raised_threshold_alerts_an_armed_sku_that_is_now_at_or_below_it() -> None:
    assert low_stock_step(available=7, threshold=5, alerted=False) == "keep"
    assert low_stock_step(available=7, threshold=7, alerted=False) == "alert"


def test_a_lowered_threshold_re_arms_a_fired_sku_that_is_now_above_it() -> None:
    assert low_stock_step(available=4, threshold=5, alerted=True) == "keep"
    assert low_stock_step(available=4, threshold=3, alerted=True) == "rearm"


def test_no_threshold_never_alerts_and_re_arms_a_fired_watch() -> None:
    assert low_stock_step(available=0, threshold=None, alerted=False) == "keep"
    assert low_stock_step(available=0, threshold=None, alerted=True) == "rearm"


def test_a_skus_own_threshold_wins_over_the_shop_default() -> None:
    assert effective_threshold(3, 10) == 3
    assert effective_threshold(0, 10) == 0
    assert effective_threshold(None, 10) == 10
    assert effective_threshold(None, None) is None
