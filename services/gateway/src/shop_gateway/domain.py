"""Gateway's rules, free of I/O: who a caller is, from the credentials it presents, what each role may do, and
what card data looks like (the gateway refuses it)."""

from __future__ import annotations

import enum
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class Role(enum.StrEnum):
    STAFF = "staff"
    """Admin: every staff call, reading and writing."""
    SUPPORT = "support"
    """Read-only staff: reads orders and admin data, changes nothing."""
    WAREHOUSE = "warehouse"
    """Warehouse calls only: pick requests and fulfillment events."""


class Permission(enum.StrEnum):
    ADMIN_READ = "admin:read"
    ADMIN_WRITE = "admin:write"
    ORDERS_READ = "orders:read"
    ORDERS_WRITE = "orders:write"
    WAREHOUSE = "warehouse"


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.STAFF: frozenset(
        {Permission.ADMIN_READ, Permission.ADMIN_WRITE, Permission.ORDERS_READ, Permission.ORDERS_WRITE}
    ),
    Role.SUPPORT: frozenset({Permission.ADMIN_READ, Permission.ORDERS_READ}),
    Role.WAREHOUSE: frozenset({Permission.WAREHOUSE}),
}
"""The role table: a role may call a route when the route's permission is in its set; nothing else."""


def may(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def roles_with(permission: Permission) -> list[Role]:
    return [role for role in Role if may(role, permission)]


def parse_keys(value: str | None) -> tuple[str, ...]:
    """A comma-separated key list (old and new key during a rotation); blanks dropped."""
    if not value:
        return ()
    return tuple(key.strip() for key in value.split(",") if key.strip())


def role_for_api_key(presented: str | None, keys: Mapping[Role, Sequence[str]]) -> Role | None:
    """The role an ``X-Api-Key`` grants, or None for a missing or unknown key.

    Every configured key is compared, in constant time, whichever matches, so timing says nothing about
    which role (or how much of a key) was guessed.
    """
    if not presented:
        return None
    found: Role | None = None
    encoded = presented.encode()
    for role, role_keys in keys.items():
        for key in role_keys:
            if hmac.compare_digest(encoded, key.encode()) and found is None:
                found = role
    return found


def overlapping_keys(keys: Mapping[Role, Iterable[str]]) -> set[str]:
    """Keys configured for more than one role (a configuration error)."""
    seen: dict[str, Role] = {}
    overlap: set[str] = set()
    for role, role_keys in keys.items():
        for key in role_keys:
            if key in seen and seen[key] is not role:
                overlap.add(key)
            seen.setdefault(key, role)
    return overlap


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


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
