"""Draft orders' pricing: line and order discounts, shipping, the tax included, rounding, terms and tokens."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shop_orders.core.domain import draft_token, draft_token_matches, payment_due_date
from shop_orders.core.pricing import TaxTable
from shop_orders.drafts.domain import (
    Discount,
    DraftLine,
    DraftTax,
    InvalidDraft,
    check_lines,
    draft_tax,
    price_draft,
)

KR = {"country": "KR"}
TAXES = TaxTable(rates={"KR": 1000, "US-CA": 725}, added_on_top_countries=frozenset({"US"}))


def test_lines_shipping_and_the_korean_vat_inside_the_total() -> None:
    lines = [
        DraftLine(title="Mug", sku="MUG", quantity=2, unit_price=12_000, catalog_price=12_000),
        DraftLine(title="Engraving", quantity=1, unit_price=5_000),
    ]
    totals = price_draft(
        lines, currency="KRW", order_discount=None, shipping=3_000, shipping_address=KR, taxes=TAXES
    )
    assert (totals.subtotal, totals.discounts, totals.shipping, totals.total) == (29_000, 0, 3_000, 32_000)
    # 32,000 KRW holds 10/110 of it: 2,909.09 rounds to 2,909.
    assert (totals.tax.rate, totals.tax.amount, totals.tax.included) == (1000, 2_909, True)


def test_a_percent_discount_is_rounded_half_up_to_a_whole_minor_unit() -> None:
    # 15 % of 3 x 3,333 = 9,999 is 1,499.85: 1,500.
    line = DraftLine(
        title="A", sku="A", quantity=3, unit_price=3_333, discount=Discount("percent", 15, "vip")
    )
    assert line.discount_amount == 1_500
    # 10 % of 1,005 cents is 100.5: half up to 101.
    assert Discount("percent", 10, "x").amount_off(1_005) == 101
    assert Discount("percent", 10, "x").amount_off(1_004) == 100


def test_a_fixed_discount_never_takes_more_than_it_applies_to() -> None:
    assert Discount("fixed", 5_000, "damaged box").amount_off(3_000) == 3_000
    assert Discount("fixed", 500, "x").amount_off(3_000) == 500
    assert Discount("percent", 100, "free").amount_off(3_000) == 3_000


def test_the_order_discount_applies_to_what_the_line_discounts_leave_and_never_to_shipping() -> None:
    lines = [
        DraftLine(
            title="A", sku="A", quantity=1, unit_price=10_000, discount=Discount("fixed", 2_000, "scratch")
        ),
        DraftLine(title="B", sku="B", quantity=1, unit_price=10_000),
    ]
    totals = price_draft(
        lines,
        currency="KRW",
        order_discount=Discount("percent", 10, "loyal customer"),
        shipping=3_000,
        shipping_address=None,
        taxes=TAXES,
    )
    assert (totals.line_discounts, totals.order_discount) == (2_000, 1_800)
    assert totals.total == 20_000 - 2_000 - 1_800 + 3_000
    assert totals.tax.amount == 0  # no address: no rate


def test_a_fixed_order_discount_larger_than_the_lines_leaves_only_shipping() -> None:
    lines = [DraftLine(title="A", sku="A", quantity=1, unit_price=1_000)]
    totals = price_draft(
        lines,
        currency="KRW",
        order_discount=Discount("fixed", 9_999, "goodwill"),
        shipping=500,
        shipping_address=KR,
        taxes=TaxTable(),
    )
    assert (totals.order_discount, totals.total) == (1_000, 500)


def test_tax_by_region_before_country() -> None:
    inside = TaxTable(rates={"KR": 1000, "US-CA": 725})
    california = {"country": "US", "region": "CA"}
    assert _tax(10_725, california, inside).amount == 725
    assert _tax(10_000, {"country": "US", "region": "NY"}, inside).amount == 0


def test_tax_comes_on_top_where_the_country_quotes_prices_before_tax() -> None:
    # 100.00 USD less a 10.00 discount plus 5.00 shipping in California: 7.25 % of 95.00 is 6.8875, so 6.89.
    lines = [
        DraftLine(
            title="Boots",
            sku="BOOT",
            quantity=1,
            unit_price=10_000,
            discount=Discount("fixed", 1_000, "scuff"),
        )
    ]
    totals = price_draft(
        lines,
        currency="KRW",
        order_discount=None,
        shipping=500,
        shipping_address={"country": "US", "region": "CA"},
        taxes=TAXES,
    )
    assert (totals.tax.rate, totals.tax.amount, totals.tax.included) == (725, 689, False)
    assert totals.total == 10_000 - 1_000 + 500 + 689


def _tax(total: int, address: dict[str, str], taxes: TaxTable) -> DraftTax:
    return draft_tax(
        currency="KRW", subtotal=total, discount=0, shipping=0, shipping_address=address, taxes=taxes
    )


def test_one_line_per_sku_but_any_number_of_custom_lines() -> None:
    check_lines(
        [DraftLine(title="x", quantity=1, unit_price=1), DraftLine(title="y", quantity=1, unit_price=1)]
    )
    with pytest.raises(InvalidDraft) as refused:
        check_lines(
            [
                DraftLine(title="A", sku="A", quantity=1, unit_price=1),
                DraftLine(title="A", sku="A", quantity=2, unit_price=1),
            ]
        )
    assert refused.value.field == "lines[1].sku"


def test_payment_due_dates_by_terms() -> None:
    sent = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    assert payment_due_date("net", 30, sent) == date(2026, 12, 25)
    assert payment_due_date("due_on_receipt", None, sent) == date(2026, 11, 25)
    assert payment_due_date("on_fulfillment", None, sent) is None
    assert payment_due_date("net", 30, None) is None


def test_the_invoice_token_opens_its_draft_only() -> None:
    token = draft_token("a-secret-of-sixteen", "draft-1")
    assert draft_token_matches("a-secret-of-sixteen", "draft-1", token)
    assert not draft_token_matches("a-secret-of-sixteen", "draft-2", token)
    assert not draft_token_matches("another-secret-16", "draft-1", token)
