"""Gateway's rules, free of I/O: who a caller is, from the credentials it presents, and what each role may do."""

from __future__ import annotations

import enum
import hmac
from collections.abc import Iterable, Mapping, Sequence


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
