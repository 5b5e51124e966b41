"""Gateway's rules, free of I/O: who a caller is, from the credentials it presents."""

from __future__ import annotations

import enum
import hmac


class Role(enum.StrEnum):
    STAFF = "staff"
    WAREHOUSE = "warehouse"


def role_for_api_key(presented: str | None, *, staff_key: str, warehouse_key: str) -> Role | None:
    """The role an ``X-Api-Key`` grants, compared in constant time; None for a missing or unknown key."""
    if not presented:
        return None
    if hmac.compare_digest(presented.encode(), staff_key.encode()):
        return Role.STAFF
    if hmac.compare_digest(presented.encode(), warehouse_key.encode()):
        return Role.WAREHOUSE
    return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
