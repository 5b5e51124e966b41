"""Money, the one type every service computes with: an amount in a currency's minor unit and its ISO 4217 code.

Messages carry it as ``{"amount": <int>, "currency": "<ISO 4217>"}`` (pydantic validates and serialises the
dataclass like any value), and services compute with it instead of bare integers. The rules:

- Amounts are whole minor units (KRW has none, USD has cents); nothing here ever holds a fraction.
- Adding, subtracting and comparing work within one currency only; across currencies they raise
  ``CurrencyMismatch``. Equality is plain: money in two currencies is simply not equal.
- Rounding is named where it happens. ``down`` rounds towards minus infinity (a share never exceeds its
  exact value, so shares of separate refunds never add up to more than the whole); ``half_up`` rounds
  halves towards plus infinity (percentages, such as discounts and tax: 2.5 won is 3 won).
- Splitting a total (``allocate``, ``split``) gives parts that add up to it exactly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field

CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")

MINOR_UNIT_DIGITS = {"KRW": 0, "JPY": 0, "USD": 2, "EUR": 2, "GBP": 2}
"""ISO 4217 exponents of the currencies the shop sells in; any other currency is assumed to have cents."""

Locale = Literal["ko", "en"]
Rounding = Literal["down", "half_up"]

_SYMBOLS_EN = {"KRW": "₩", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_SUFFIXES_KO = {"KRW": "원", "USD": "달러", "EUR": "유로", "GBP": "파운드", "JPY": "엔"}


class CurrencyMismatch(ValueError):
    """Money in two currencies met (or a code is not ISO 4217); ``field`` names the input that is wrong."""

    def __init__(self, message: str, *, field: str | None = "currency") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Money:
    """An amount in the currency's minor unit (KRW has none, USD has cents)."""

    # The docstring is the description in every message schema that holds money: changing it changes them.
    # Like every value in a message, money ignores fields a newer producer adds.
    __pydantic_config__ = ConfigDict(extra="ignore")

    amount: int
    currency: Annotated[str, Field(pattern=CURRENCY_CODE.pattern)]

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError(f"an amount is a whole number of minor units, not {self.amount!r}")
        if not isinstance(self.currency, str) or not CURRENCY_CODE.match(self.currency):
            raise CurrencyMismatch(f"{self.currency!r} is not an ISO 4217 code")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def total(cls, amounts: Iterable[Money], *, currency: str) -> Money:
        """The total of ``amounts``, all in ``currency`` (zero when there are none)."""
        total = cls.zero(currency)
        for amount in amounts:
            total += amount
        return total

    @property
    def minor_unit_digits(self) -> int:
        """How many digits the minor unit has: 0 for KRW, 2 for USD (and any currency not listed)."""
        return MINOR_UNIT_DIGITS.get(self.currency, 2)

    def _same_currency(self, other: Money, refusal: str) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(refusal.format(this=self.currency, other=other.currency))

    def __add__(self, other: Money) -> Money:
        self._same_currency(other, "cannot add {other} to {this}")
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other, "cannot subtract {other} from {this}")
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, times: int) -> Money:
        """A whole number of times this amount, such as a unit price times a quantity."""
        if not isinstance(times, int) or isinstance(times, bool):
            return NotImplemented
        return Money(self.amount * times, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        self._same_currency(other, "cannot compare {this} with {other}")
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same_currency(other, "cannot compare {this} with {other}")
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same_currency(other, "cannot compare {this} with {other}")
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same_currency(other, "cannot compare {this} with {other}")
        return self.amount >= other.amount

    def share(self, part: int, of: int, *, rounding: Rounding = "down") -> Money:
        """``part / of`` of this amount, rounded to a whole minor unit as ``rounding`` says.

        The share that belongs to ``part`` of a whole (a discount's share of some lines, a line's balance for
        some of its units): ``down`` by default, so shares never add up to more than the amount. ``of`` must
        be positive; ``part`` of ``of`` is the whole amount exactly.
        """
        if of <= 0:
            raise ValueError(f"a share is of a positive whole, not of {of}")
        return Money(_divide(self.amount * part, of, rounding), self.currency)

    def percent(self, percent: int) -> Money:
        """``percent`` % of this amount, rounded half up to a whole minor unit (a discount, a deposit)."""
        return self.share(percent, 100, rounding="half_up")

    def allocate(self, weights: Sequence[int]) -> list[Money]:
        """This amount split in proportion to ``weights``, in parts that add up to it exactly.

        Each part is first rounded down; the minor units left over go one each to the parts whose exact
        share lost the most to rounding, the earlier part first when two lost as much.
        """
        if not weights or any(weight < 0 for weight in weights) or sum(weights) <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, not {list(weights)}")
        whole = sum(weights)
        floors = [divmod(self.amount * weight, whole) for weight in weights]
        parts = [quotient for quotient, _ in floors]
        left = self.amount - sum(parts)
        by_loss = sorted(range(len(weights)), key=lambda index: (-floors[index][1], index))
        for index in by_loss[:left]:
            parts[index] += 1
        return [Money(part, self.currency) for part in parts]

    def split(self, count: int) -> list[Money]:
        """This amount in ``count`` parts as equal as minor units allow, the first parts the larger ones."""
        if count < 1:
            raise ValueError(f"money splits into one part or more, not {count}")
        return self.allocate([1] * count)

    def format(self, locale: Locale) -> str:
        """This amount as a customer reads it in ``locale`` (see ``format_money``)."""
        return format_money(self.amount, self.currency, locale)


def _positive(money: Money) -> Money:
    if money.amount <= 0:
        raise ValueError(f"the amount must be more than 0, not {money.amount}")
    return money


def _not_negative(money: Money) -> Money:
    if money.amount < 0:
        raise ValueError(f"the amount must not be negative, not {money.amount}")
    return money


PositiveMoney = Annotated[Money, AfterValidator(_positive)]
"""Money of more than 0, where a message's field would otherwise say ``gt=0`` of a bare amount."""

NonNegativeMoney = Annotated[Money, AfterValidator(_not_negative)]
"""Money of 0 or more, where a message's field would otherwise say ``ge=0`` of a bare amount."""


def _divide(numerator: int, denominator: int, rounding: Rounding) -> int:
    if rounding == "down":
        return numerator // denominator
    return (2 * numerator + denominator) // (2 * denominator)


def format_money(amount: int, currency: str, locale: Locale) -> str:
    """An amount in minor units as a customer reads it: ``39,000원`` (ko), ``₩39,000`` or ``$12.50`` (en).

    Korean readers get the number then the unit (``12.50달러``), except for dollars, which Korean shops
    commonly show as ``$12.50`` too. A currency without a symbol or unit here is written by its code.
    """
    digits = MINOR_UNIT_DIGITS.get(currency, 2)
    sign = "-" if amount < 0 else ""
    major, minor = divmod(abs(amount), 10**digits)
    number = f"{major:,}" + (f".{minor:0{digits}d}" if digits else "")
    if locale == "ko" and currency != "USD":
        suffix = _SUFFIXES_KO.get(currency)
        return f"{sign}{number}{suffix}" if suffix else f"{sign}{number} {currency}"
    symbol = _SYMBOLS_EN.get(currency)
    return f"{sign}{symbol}{number}" if symbol else f"{sign}{number} {currency}"
