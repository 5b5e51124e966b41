"""The waitlist and what catalog announces to it: who waits for which news, when availability crossed zero,
and when a pre-order window opens."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shop_contracts.values import PreorderPolicy


def opening_announcement_due(policy: PreorderPolicy, now: datetime) -> datetime | None:
    """When the waitlist should hear that the policy's window opens: its start, when that is still ahead.

    The waitlist holds no customer segments, so an early-access start is not announced to it; the public
    start is. None when the window is open or closed already (an open window is announced when saved).
    """
    if policy.starts_at is None or policy.starts_at <= now:
        return None
    if policy.ends_at is not None and policy.ends_at <= policy.starts_at:
        return None
    return policy.starts_at


WaitlistKind = Literal["back_in_stock", "preorder_open"]
WAITLIST_KINDS: tuple[WaitlistKind, ...] = ("back_in_stock", "preorder_open")


@dataclass(frozen=True)
class WaitlistEntry:
    """Someone waiting to hear that a SKU is back in stock or open for pre-order, and when they last did."""

    id: uuid.UUID
    sku: str
    email: str
    locale: Literal["ko", "en"]
    created_at: datetime
    notified_at: Mapping[WaitlistKind, datetime | None]


@dataclass(frozen=True)
class AvailabilityChanges:
    """SKUs whose available units (over all locations) crossed zero in one unit of work."""

    back_in_stock: list[str]
    """From 0 to more: the waitlist hears of it."""
    sold_out: list[str]
    """From more to 0: the waitlist may hear of the next restock again."""


def availability_changes(before: Mapping[str, int], after: Mapping[str, int]) -> AvailabilityChanges:
    """Compare available units per SKU before and after a change (a SKU missing from a side has none).

    Only a crossing counts: 0 → 3 is back in stock, 2 → 5 is not, 1 → 0 is sold out.
    """
    skus = sorted(set(before) | set(after))
    return AvailabilityChanges(
        back_in_stock=[sku for sku in skus if before.get(sku, 0) <= 0 < after.get(sku, 0)],
        sold_out=[sku for sku in skus if before.get(sku, 0) > 0 >= after.get(sku, 0)],
    )


def preorder_opens(previous_window: str | None, window: str) -> bool:
    """Whether setting a policy opens a pre-order: its window is open now and was not before.

    ``previous_window`` is the state of the policy being replaced at the same moment (None: there was none
    or it was ended). A window that starts later opens later, unseen by this rule.
    """
    return window == "open" and previous_window != "open"


def normalized_email(email: str) -> str:
    """One subscription per address, whatever its letter case."""
    return email.strip().lower()
