"""Catalog's pure rules: where an order's units come from, and how a stock level moves."""

from __future__ import annotations

import pytest

from shop_catalog.domain.errors import StockWouldGoNegative
from shop_catalog.domain.stock import (
    PlannedLine,
    RequestedLine,
    Shortage,
    StockLevel,
    location_holding_all,
    plan_reservation,
)


def level(
    location: str, on_hand: int, *, sku: str = "TEE-M", reserved: int = 0, safety_stock: int = 0
) -> StockLevel:
    return StockLevel(
        sku=sku, location=location, on_hand=on_hand, reserved=reserved, safety_stock=safety_stock
    )


class TestPlanReservation:
    def test_a_line_comes_from_one_location_when_it_has_enough(self) -> None:
        plan, shortages = plan_reservation([RequestedLine("TEE-M", 3)], [level("seoul", 10)])
        assert plan == [PlannedLine(sku="TEE-M", location="seoul", quantity=3)]
        assert shortages == []

    def test_the_fullest_location_is_taken_first(self) -> None:
        levels = [level("busan", 4), level("seoul", 9), level("incheon", 6)]
        plan, _ = plan_reservation([RequestedLine("TEE-M", 3)], levels)
        assert plan == [PlannedLine(sku="TEE-M", location="seoul", quantity=3)]

    def test_the_fullest_is_judged_by_what_is_available_not_on_hand(self) -> None:
        levels = [level("seoul", 9, reserved=8), level("busan", 5)]
        plan, _ = plan_reservation([RequestedLine("TEE-M", 2)], levels)
        assert plan == [PlannedLine(sku="TEE-M", location="busan", quantity=2)]

    def test_a_line_is_split_over_locations_from_the_fullest_down(self) -> None:
        levels = [level("busan", 2), level("seoul", 5), level("incheon", 3)]
        plan, shortages = plan_reservation([RequestedLine("TEE-M", 9)], levels)
        assert plan == [
            PlannedLine(sku="TEE-M", location="seoul", quantity=5),
            PlannedLine(sku="TEE-M", location="incheon", quantity=3),
            PlannedLine(sku="TEE-M", location="busan", quantity=1),
        ]
        assert shortages == []

    def test_a_split_skips_empty_locations(self) -> None:
        levels = [level("seoul", 2), level("busan", 0), level("incheon", 2)]
        plan, _ = plan_reservation([RequestedLine("TEE-M", 4)], levels)
        assert {line.location for line in plan} == {"seoul", "incheon"}

    def test_a_shortage_means_no_plan_at_all(self) -> None:
        levels = [level("seoul", 5), level("seoul", 1, sku="CAP")]
        lines = [RequestedLine("TEE-M", 2), RequestedLine("CAP", 3)]
        plan, shortages = plan_reservation(lines, levels)
        assert plan == []
        assert shortages == [Shortage(sku="CAP", requested=3, available=1)]

    def test_a_sku_with_no_stock_anywhere_is_a_shortage_of_everything(self) -> None:
        plan, shortages = plan_reservation([RequestedLine("HAT", 1)], [level("seoul", 5)])
        assert plan == []
        assert shortages == [Shortage(sku="HAT", requested=1, available=0)]

    def test_the_same_sku_on_two_lines_adds_up(self) -> None:
        levels = [level("seoul", 3), level("busan", 2)]
        plan, shortages = plan_reservation([RequestedLine("TEE-M", 2), RequestedLine("TEE-M", 2)], levels)
        assert shortages == []
        assert plan == [
            PlannedLine(sku="TEE-M", location="seoul", quantity=3),
            PlannedLine(sku="TEE-M", location="busan", quantity=1),
        ]

    def test_the_same_sku_on_two_lines_can_be_short_together(self) -> None:
        plan, shortages = plan_reservation(
            [RequestedLine("TEE-M", 2), RequestedLine("TEE-M", 2)], [level("seoul", 3)]
        )
        assert plan == []
        assert shortages == [Shortage(sku="TEE-M", requested=4, available=3)]

    def test_safety_stock_is_not_promised(self) -> None:
        plan, shortages = plan_reservation([RequestedLine("TEE-M", 4)], [level("seoul", 5, safety_stock=2)])
        assert plan == []
        assert shortages == [Shortage(sku="TEE-M", requested=4, available=3)]

    def test_everything_above_safety_stock_may_be_promised(self) -> None:
        plan, shortages = plan_reservation([RequestedLine("TEE-M", 3)], [level("seoul", 5, safety_stock=2)])
        assert plan == [PlannedLine(sku="TEE-M", location="seoul", quantity=3)]
        assert shortages == []


class TestStockLevel:
    def test_available_leaves_out_reserved_units_and_safety_stock(self) -> None:
        assert level("seoul", 10, reserved=3, safety_stock=2).available == 5

    def test_available_is_never_negative(self) -> None:
        assert level("seoul", 3, reserved=2, safety_stock=5).available == 0

    def test_adjust_adds_and_removes_units_on_hand(self) -> None:
        stock = level("seoul", 10, reserved=4)
        stock.adjust(+5)
        assert stock.on_hand == 15
        stock.adjust(-11)
        assert stock.on_hand == 4

    def test_adjust_below_what_is_reserved_is_refused(self) -> None:
        stock = level("seoul", 10, reserved=4)
        with pytest.raises(StockWouldGoNegative) as refused:
            stock.adjust(-7)
        assert refused.value.field == "delta"
        assert stock.on_hand == 10

    def test_reserve_holds_units_without_taking_them_off_hand(self) -> None:
        stock = level("seoul", 10, reserved=1)
        stock.reserve(4)
        assert (stock.on_hand, stock.reserved, stock.available) == (10, 5, 5)

    def test_release_gives_reserved_units_back(self) -> None:
        stock = level("seoul", 10, reserved=5)
        stock.release(3)
        assert (stock.on_hand, stock.reserved, stock.available) == (10, 2, 8)

    def test_release_never_goes_below_nothing_reserved(self) -> None:
        stock = level("seoul", 10, reserved=2)
        stock.release(5)
        assert stock.reserved == 0

    def test_commit_takes_reserved_units_off_hand(self) -> None:
        stock = level("seoul", 10, reserved=4)
        stock.commit(3)
        assert (stock.on_hand, stock.reserved, stock.available) == (7, 1, 6)

    def test_reserve_then_commit_leaves_what_was_not_sold(self) -> None:
        stock = level("seoul", 10)
        stock.reserve(3)
        stock.commit(3)
        assert (stock.on_hand, stock.reserved, stock.available) == (7, 0, 7)


def test_same_day_takes_the_first_allowed_location_that_holds_every_line() -> None:
    levels = [
        StockLevel(sku="TEE", location="busan-1", on_hand=9, reserved=0),
        StockLevel(sku="CAP", location="busan-1", on_hand=9, reserved=0),
        StockLevel(sku="TEE", location="seoul-1", on_hand=3, reserved=1),
        StockLevel(sku="CAP", location="seoul-1", on_hand=1, reserved=0),
        StockLevel(sku="TEE", location="seoul-2", on_hand=5, reserved=0),
        StockLevel(sku="CAP", location="seoul-2", on_hand=5, reserved=0),
    ]
    lines = [RequestedLine(sku="TEE", quantity=2), RequestedLine(sku="CAP", quantity=1)]
    assert location_holding_all(lines, levels, ["seoul-1", "seoul-2"]) == "seoul-1"
    more = [RequestedLine(sku="TEE", quantity=3), RequestedLine(sku="CAP", quantity=1)]
    assert location_holding_all(more, levels, ["seoul-1", "seoul-2"]) == "seoul-2"
    assert location_holding_all(more, levels, ["seoul-1"]) is None
