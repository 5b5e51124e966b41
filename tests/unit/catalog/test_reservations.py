"""Catalog's pure rules for an order's reservation: shipments and releases take only what it still holds."""

from __future__ import annotations

from shop_catalog.domain.stock import (
    PlannedLine,
    Reservation,
    StockLevel,
    commit_reserved,
    release_key,
    release_reserved,
    units_per_place,
)

PLACE = ("TEE-M", "seoul")


def reserved(units: int) -> tuple[dict[tuple[str, str], Reservation], dict[tuple[str, str], StockLevel]]:
    """An order holding ``units`` at Seoul, out of 10 on hand."""
    return (
        {PLACE: Reservation(order_id="o-1", sku="TEE-M", location="seoul", held=units)},
        {PLACE: StockLevel(sku="TEE-M", location="seoul", on_hand=10, reserved=units)},
    )


def test_shipments_sharing_a_reservation_each_take_their_part() -> None:
    rows, levels = reserved(5)
    assert commit_reserved(rows, levels, {PLACE: 2}) == {PLACE: 2}
    assert rows[PLACE].status == "reserved"
    assert commit_reserved(rows, levels, {PLACE: 2}) == {PLACE: 2}
    assert (rows[PLACE].held, rows[PLACE].committed) == (1, 4)
    assert (levels[PLACE].on_hand, levels[PLACE].reserved) == (6, 1)


def test_a_commit_takes_no_more_than_is_still_held() -> None:
    rows, levels = reserved(3)
    assert commit_reserved(rows, levels, {PLACE: 5, ("OTHER", "seoul"): 1}) == {PLACE: 3}
    assert commit_reserved(rows, levels, {PLACE: 1}) == {}
    assert (rows[PLACE].held, rows[PLACE].committed, rows[PLACE].status) == (0, 3, "committed")
    assert (levels[PLACE].on_hand, levels[PLACE].reserved) == (7, 0)


def test_a_release_never_gives_back_shipped_units() -> None:
    rows, levels = reserved(3)
    commit_reserved(rows, levels, {PLACE: 2})
    assert release_reserved(rows, levels, {PLACE: 3}) == {PLACE: 1}
    assert (rows[PLACE].held, rows[PLACE].committed, rows[PLACE].status) == (0, 2, "committed")
    assert (levels[PLACE].on_hand, levels[PLACE].reserved) == (8, 0)


def test_a_reservation_released_whole_says_released() -> None:
    rows, levels = reserved(2)
    release_reserved(rows, levels, {PLACE: 2})
    assert rows[PLACE].status == "released"
    assert levels[PLACE].available == 10


def test_a_partial_release_is_known_by_its_reason_and_units_in_any_order() -> None:
    lines = [PlannedLine("A", "seoul", 1), PlannedLine("B", "busan", 2), PlannedLine("A", "seoul", 1)]
    assert units_per_place(lines) == {("A", "seoul"): 2, ("B", "busan"): 2}
    same = [PlannedLine("B", "busan", 2), PlannedLine("A", "seoul", 2)]
    assert release_key("changed_mind", lines) == release_key("changed_mind", same)
    assert release_key("changed_mind", lines) != release_key("other", lines)
    assert release_key("changed_mind", lines) != release_key("changed_mind", same[:1])
