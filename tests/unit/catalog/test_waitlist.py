"""Catalog's pure waitlist rules: when a SKU is back in stock or sold out, when a pre-order opens."""

from __future__ import annotations

import pytest

from shop_catalog.domain.waitlist import availability_changes, normalized_email, preorder_opens


@pytest.mark.parametrize(
    ("before", "after", "back_in_stock", "sold_out"),
    [
        ({"A": 0}, {"A": 3}, ["A"], []),
        ({}, {"A": 1}, ["A"], []),
        ({"A": 2}, {"A": 5}, [], []),
        ({"A": 0}, {"A": 0}, [], []),
        ({"A": 1}, {"A": 0}, [], ["A"]),
        ({"A": 4}, {}, [], ["A"]),
        ({"A": 0, "B": 2, "C": 0}, {"A": 1, "B": 0, "C": 0}, ["A"], ["B"]),
    ],
)
def test_only_a_crossing_of_zero_counts(
    before: dict[str, int], after: dict[str, int], back_in_stock: list[str], sold_out: list[str]
) -> None:
    changes = availability_changes(before, after)
    assert (changes.back_in_stock, changes.sold_out) == (back_in_stock, sold_out)


def test_units_all_taken_by_pre_orders_leave_the_sku_sold_out() -> None:
    # Received units go to the pre-order queue first; only what is left is available.
    assert availability_changes({"A": 0}, {"A": 0}).back_in_stock == []


@pytest.mark.parametrize(
    ("previous", "window", "opens"),
    [
        (None, "open", True),
        ("not_open", "open", True),
        ("closed", "open", True),
        ("open", "open", False),
        (None, "not_open", False),
        ("open", "closed", False),
    ],
)
def test_a_pre_order_opens_when_its_window_is_open_now_and_was_not(
    previous: str | None, window: str, opens: bool
) -> None:
    assert preorder_opens(previous, window) is opens


def test_an_address_subscribes_once_whatever_its_letter_case() -> None:
    assert normalized_email("  Minji@Example.COM ") == "minji@example.com"
