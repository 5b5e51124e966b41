"""The shared Money: ISO codes, arithmetic within one currency, the named rounding rules, exact splits, and money
in messages exactly as it travelled before."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shop_contracts.catalog import VariantUpdated
from shop_contracts.money import CurrencyMismatch, Money, format_money


def krw(amount: int) -> Money:
    return Money(amount, "KRW")


def usd(amount: int) -> Money:
    return Money(amount, "USD")


@pytest.mark.parametrize("currency", ["usd", "US", "EURO", "", "K R"])
def test_a_currency_is_an_iso_4217_code(currency: str) -> None:
    with pytest.raises(CurrencyMismatch) as raised:
        Money(1, currency)
    assert raised.value.field == "currency"


@pytest.mark.parametrize("amount", [1.5, 10.0, "100", True])
def test_an_amount_is_a_whole_number_of_minor_units(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_money_adds_and_subtracts_within_one_currency() -> None:
    assert usd(1000) + usd(250) == usd(1250)
    assert usd(1000) - usd(1250) == usd(-250)
    assert -usd(250) == usd(-250)
    assert Money.zero("KRW") == krw(0)
    assert Money.total([krw(1000), krw(2000), krw(-500)], currency="KRW") == krw(2500)
    assert Money.total([], currency="USD") == usd(0)


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
        lambda a, b: min(a, b),
        lambda a, b: Money.total([a, b], currency="USD"),
    ],
)
def test_two_currencies_never_mix(combine: object) -> None:
    with pytest.raises(CurrencyMismatch):
        combine(usd(1000), krw(1000))  # type: ignore[operator]


def test_money_in_two_currencies_is_not_equal_and_raises_nothing() -> None:
    assert usd(1000) != krw(1000)
    assert len({usd(1000), usd(1000), krw(1000)}) == 2


def test_money_compares_within_one_currency() -> None:
    assert usd(100) < usd(101) <= usd(101) < usd(102)
    assert min(usd(300), usd(200)) == usd(200)
    assert max(krw(-1), krw(0)) == krw(0)


def test_money_multiplies_by_a_whole_number_only() -> None:
    assert usd(1250) * 3 == usd(3750)
    assert 3 * usd(1250) == usd(3750)
    with pytest.raises(TypeError):
        usd(1250) * 1.5  # type: ignore[operator]


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [
        (39000, 10, 3900),
        (25, 10, 3),  # 2.5 rounds half up
        (24, 10, 2),  # 2.4 rounds down
        (1250, 15, 188),  # 187.5 cents rounds half up
        (-25, 10, -2),  # half up is towards plus infinity
        (0, 30, 0),
        (999, 100, 999),
    ],
)
def test_a_percentage_is_rounded_half_up(amount: int, percent: int, expected: int) -> None:
    assert usd(amount).percent(percent) == usd(expected)


@pytest.mark.parametrize(
    ("amount", "part", "whole", "down", "half_up"),
    [
        (1000, 1, 3, 333, 333),
        (1000, 2, 3, 666, 667),
        (1001, 1, 2, 500, 501),
        (-1000, 1, 3, -334, -333),
        (1000, 3, 3, 1000, 1000),
        (1000, 0, 3, 0, 0),
    ],
)
def test_a_share_names_its_rounding(amount: int, part: int, whole: int, down: int, half_up: int) -> None:
    assert krw(amount).share(part, whole) == krw(down)
    assert krw(amount).share(part, whole, rounding="down") == krw(down)
    assert krw(amount).share(part, whole, rounding="half_up") == krw(half_up)


def test_shares_rounded_down_never_add_up_to_more_than_the_whole() -> None:
    discount = krw(1000)
    shares = [discount.share(part, 7) for part in (1, 2, 4)]
    assert Money.total(shares, currency="KRW") <= discount


def test_the_tax_inside_a_price_is_a_share_rounded_half_up() -> None:
    # 10 % VAT in 11,000 KRW is 1,000 KRW: the rate over 100 % plus the rate.
    assert krw(11000).share(1000, 10_000 + 1000, rounding="half_up") == krw(1000)
    # 7.25 % of 100.10 USD is 725.725 cents: 7.26 USD.
    assert usd(10010).share(725, 10_000, rounding="half_up") == usd(726)


def test_the_rounding_rules_are_the_integer_formulas_the_services_priced_with() -> None:
    for amount in range(-300, 3000, 7):
        for percent in (0, 1, 10, 15, 33, 50, 99, 100):
            assert usd(amount).percent(percent).amount == (amount * percent + 50) // 100
        for rate in (0, 500, 725, 1000, 1300):
            on_top = usd(amount).share(rate, 10_000, rounding="half_up").amount
            assert on_top == (amount * rate + 5_000) // 10_000
            included = usd(amount).share(rate, 10_000 + rate, rounding="half_up").amount
            assert included == (2 * amount * rate + 10_000 + rate) // (2 * (10_000 + rate))
        for part, whole in ((1, 3), (2, 7), (5, 5), (0, 4)):
            assert usd(amount).share(part, whole).amount == amount * part // whole


def test_a_share_is_of_a_positive_whole() -> None:
    with pytest.raises(ValueError, match="positive whole"):
        krw(1000).share(1, 0)


@pytest.mark.parametrize(
    ("amount", "weights", "expected"),
    [
        (100, [1, 1, 1], [34, 33, 33]),
        (100, [1, 2], [33, 67]),
        (1000, [3, 3, 4], [300, 300, 400]),
        (5, [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]),
        (101, [0, 1, 1], [0, 51, 50]),
        (-100, [1, 1, 1], [-33, -33, -34]),
        (0, [2, 5], [0, 0]),
    ],
)
def test_allocating_gives_parts_that_add_up_exactly(
    amount: int, weights: list[int], expected: list[int]
) -> None:
    parts = usd(amount).allocate(weights)
    assert parts == [usd(part) for part in expected]
    assert Money.total(parts, currency="USD") == usd(amount)


def test_allocating_adds_up_exactly_whatever_the_weights() -> None:
    for amount in (1, 7, 99, 1000, 39001, -17):
        for weights in ([1], [1, 1], [5, 3, 2], [1, 0, 9, 9], [7, 11, 13, 17, 19]):
            parts = krw(amount).allocate(weights)
            assert sum(part.amount for part in parts) == amount
            for part, weight in zip(parts, weights, strict=True):
                exact = amount * weight / sum(weights)
                assert abs(part.amount - exact) < 1


@pytest.mark.parametrize("weights", [[], [0, 0], [1, -1]])
def test_allocating_needs_weights_with_a_positive_sum(weights: list[int]) -> None:
    with pytest.raises(ValueError, match="weights"):
        krw(100).allocate(weights)


def test_splitting_gives_the_extra_minor_units_to_the_first_parts() -> None:
    assert krw(10000).split(3) == [krw(3334), krw(3333), krw(3333)]
    assert usd(2).split(3) == [usd(1), usd(1), usd(0)]
    with pytest.raises(ValueError, match="one part or more"):
        usd(2).split(0)


def test_the_minor_unit_follows_the_currency() -> None:
    assert krw(1).minor_unit_digits == 0
    assert usd(1).minor_unit_digits == 2
    assert Money(1, "CHF").minor_unit_digits == 2


def test_money_is_written_for_the_customer() -> None:
    assert krw(39000).format("ko") == format_money(39000, "KRW", "ko") == "39,000원"
    assert usd(-1250).format("en") == "-$12.50"


def test_money_travels_in_a_message_as_it_always_did() -> None:
    message = VariantUpdated(
        product_id="p-1",
        variant_id="v-1",
        sku="TEE-M",
        title="Tee",
        options={"size": "M"},
        prices=[krw(39000), Money(amount=2900, currency="USD")],
        version=1,
    )
    body = json.loads(message.model_dump_json())
    assert body["prices"] == [{"amount": 39000, "currency": "KRW"}, {"amount": 2900, "currency": "USD"}]
    assert VariantUpdated.model_validate_json(message.model_dump_json()) == message
    received = VariantUpdated.model_validate(
        {**body, "prices": [{"amount": 39000, "currency": "KRW", "new": 1}]}
    )
    assert received.prices == [krw(39000)]


@pytest.mark.parametrize(
    "price", [{"amount": 1, "currency": "krw"}, {"amount": 1.5, "currency": "KRW"}, {"amount": 1}]
)
def test_a_message_with_malformed_money_is_refused(price: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        VariantUpdated.model_validate(
            {
                "product_id": "p-1",
                "variant_id": "v-1",
                "sku": "TEE-M",
                "title": "Tee",
                "options": {},
                "prices": [price],
                "version": 1,
            }
        )
