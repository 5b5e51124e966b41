"""What card data looks like, free of I/O: the gateway refuses it in requests, telemetry masks it, tests scan for it.

A card number (PAN) is a Luhn-valid run of 13 to 19 digits, grouped by spaces or dashes or not, that is not part
of a longer word or number. The shop never needs one: the PSP's token stands for the card.
"""

from __future__ import annotations

import re
from typing import Any

CARD_DATA_FIELDS = frozenset({"cvv", "cvv2", "cvc", "cvc2", "card_number", "cardnumber", "pan"})
"""Field names that carry card data; the shop never takes them (a PSP token stands for the card)."""

_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z])")
"""13 to 19 digits, optionally grouped by spaces or dashes, not part of a longer word or number."""


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every card number satisfies."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_numbers_in(text: str) -> list[str]:
    """Every Luhn-valid run of 13-19 digits in ``text`` (with or without spaces or dashes), as digits only."""
    found = []
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"[ -]", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(digits)
    return found


def card_data_in(value: Any, path: str = "") -> list[str]:
    """The fields of a JSON value (``payment.cvv``, ``lines[0].note``) that are card data: named as such,
    or holding something that looks like a card number."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            field = f"{path}.{name}" if path else name
            if name.lower().replace("-", "_") in CARD_DATA_FIELDS:
                found.append(field)
            else:
                found.extend(card_data_in(item, field))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(card_data_in(item, f"{path}[{index}]"))
    elif isinstance(value, str | int) and not isinstance(value, bool) and card_numbers_in(str(value)):
        found.append(path or "body")
    return found


MASK = "[card number removed]"


def mask_card_numbers(text: str) -> str:
    """``text`` with every card number in it replaced (for what is logged or traced)."""
    if not any(char.isdigit() for char in text):
        return text

    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group())
        return MASK if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group()

    return _DIGIT_RUN.sub(replace, text)
