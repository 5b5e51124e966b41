"""Tax added on top of prices (US sales tax, CA GST/HST) or held in them (KR VAT): amounts, rounding and refunds."""

from __future__ import annotations

from shop_contracts.money import Money
from shop_orders.cancellation.domain import refund_for_cancellation
from shop_orders.core.pricing import order_tax, tax_share
from shop_orders.returns.domain import ReturnedUnits, refund_for_return

RATES = {"KR": 1000, "US-CA": 725, "US-NY": 400, "CA": 500, "CA-ON": 1300}
ON_TOP = ["US", "CA"]


def USD(amount: int) -> Money:
    return Money(amount, "USD")


def tax(
    address: dict[str, str], *, subtotal: int, discount: int = 0, shipping: int = 0
) -> tuple[int, bool, int]:
    found = order_tax(
        address=address,
        rates=RATES,
        added_on_top_countries=ON_TOP,
        subtotal=USD(subtotal),
        discount=USD(discount),
        shipping=USD(shipping),
    )
    return found.rate, found.added_on_top, found.amount.amount


def test_us_sales_tax_is_added_on_the_order_less_discount_plus_shipping_rounded_half_up_to_a_cent() -> None:
    # 7.25 % of 100.10 USD (95.10 + 5.00 shipping) is 725.725 cents: 7.26 USD, rounded once per order.
    assert tax({"country": "US", "region": "CA"}, subtotal=9510, shipping=500) == (725, True, 726)
    # 7.25 % of 1.00 USD is 7.25 cents: 7 cents; of 2.00 USD 14.5 cents: 15 cents (half up).
    assert tax({"country": "US", "region": "CA"}, subtotal=100)[2] == 7
    assert tax({"country": "US", "region": "CA"}, subtotal=200)[2] == 15
    # A discount comes off before tax.
    assert tax({"country": "US", "region": "NY"}, subtotal=10000, discount=1000, shipping=500) == (
        400,
        True,
        380,
    )


def test_a_state_or_province_without_a_rate_adds_nothing_and_a_country_rate_applies_where_no_region_has_one() -> (
    None
):
    assert tax({"country": "US", "region": "OR"}, subtotal=10000) == (0, True, 0)
    assert tax({"country": "CA", "region": "AB"}, subtotal=10000) == (500, True, 500)  # GST only
    assert tax({"country": "CA", "region": "ON"}, subtotal=10000) == (1300, True, 1300)  # HST


def test_korean_prices_keep_their_vat_inside() -> None:
    # 78,000 + 3,000 KRW holds 7,364 KRW of 10 % VAT; nothing is added.
    assert tax({"country": "KR"}, subtotal=78000, shipping=3000) == (1000, False, 7364)


def test_a_rate_fixed_at_checkout_replaces_the_lookup() -> None:
    found = order_tax(
        address={"country": "US", "region": "CA"},
        rates={},
        added_on_top_countries=[],
        subtotal=USD(10000),
        discount=USD(0),
        shipping=USD(0),
        fixed=(725, True),
    )
    assert (found.rate, found.added_on_top, found.amount) == (725, True, USD(725))


def test_tax_shares_are_rounded_down_so_refunds_never_add_up_to_more_than_the_tax() -> None:
    assert tax_share(tax=USD(726), taxable=USD(10010), part=USD(5005)) == USD(363)
    assert tax_share(tax=USD(7), taxable=USD(3), part=USD(1)) == USD(2)
    parts = [tax_share(tax=USD(7), taxable=USD(3), part=USD(1)) for _ in range(3)]
    assert Money.total(parts, currency="USD") <= USD(7)
    assert tax_share(tax=USD(726), taxable=USD(10010), part=USD(20000)) == USD(726)
    assert tax_share(tax=USD(0), taxable=USD(10010), part=USD(100)) == USD(0)


def test_a_return_refunds_the_tax_share_of_what_it_refunds() -> None:
    # Order: two units of 50.00 USD + 5.00 shipping, 7.25 % on 105.00 = 7.61 (761.25 cents), total 112.61.
    outcome = refund_for_return(
        currency="USD",
        units=[ReturnedUnits(unit_price=5000, quantity=1, condition="resellable")],
        reason="damaged",
        subtotal=USD(10000),
        discount=USD(0),
        return_shipping_fee=500,
        restocking_fee_percent=10,
        refundable=USD(11261),
        tax_added=USD(761),
        shipping=USD(500),
    )
    # 50.00 back, and its tax share 761 * 5000 // 10500 = 362 cents.
    assert (outcome.value, outcome.tax, outcome.refund) == (USD(5000), USD(362), USD(5362))
    with_fees = refund_for_return(
        currency="USD",
        units=[ReturnedUnits(unit_price=5000, quantity=1, condition="resellable")],
        reason="changed_mind",
        subtotal=USD(10000),
        discount=USD(0),
        return_shipping_fee=500,
        restocking_fee_percent=10,
        refundable=USD(11261),
        tax_added=USD(761),
        shipping=USD(500),
    )
    # 50.00 less 5.00 return shipping less 5.00 restocking is 40.00, plus its tax share 289 cents.
    assert (with_fees.tax, with_fees.refund) == (USD(289), USD(4289))


def test_a_return_never_refunds_more_than_is_left_of_the_captures() -> None:
    outcome = refund_for_return(
        currency="USD",
        units=[ReturnedUnits(unit_price=5000, quantity=2, condition="resellable")],
        reason="damaged",
        subtotal=USD(10000),
        discount=USD(0),
        return_shipping_fee=0,
        restocking_fee_percent=0,
        refundable=USD(10100),
        tax_added=USD(761),
        shipping=USD(500),
    )
    assert outcome.refund == USD(10100)
    assert outcome.tax <= outcome.refund


def test_cancelling_refunds_the_whole_tax_and_keeping_part_keeps_its_tax_share() -> None:
    everything = refund_for_cancellation(
        captured=USD(11261),
        refunded=USD(0),
        kept_value=USD(0),
        subtotal=USD(10000),
        discount=USD(0),
        shipping=USD(500),
        kept_deposits=USD(0),
        tax_added=USD(761),
    ).amount
    assert everything == 11261
    # One unit of 50.00 shipped with the 5.00 shipping: 55.00 and its tax 761 - 761 * 5000 // 10500 = 399.
    part = refund_for_cancellation(
        captured=USD(11261),
        refunded=USD(0),
        kept_value=USD(5000),
        subtotal=USD(10000),
        discount=USD(0),
        shipping=USD(500),
        kept_deposits=USD(0),
        tax_added=USD(761),
    ).amount
    assert part == 11261 - 5500 - 399
    assert part == 5000 + 362  # what a return of that unit would have refunded


def test_an_order_whose_prices_include_tax_refunds_as_before() -> None:
    assert (
        refund_for_cancellation(
            captured=USD(81000),
            refunded=USD(0),
            kept_value=USD(0),
            subtotal=USD(78000),
            discount=USD(0),
            shipping=USD(3000),
            kept_deposits=USD(0),
        ).amount
        == 81000
    )
