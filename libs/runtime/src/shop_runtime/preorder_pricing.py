"""Pre-order money and windows, computed the same way by catalog (what the storefront shows) and orders
(what the customer is charged). Pure functions; amounts are integers in the currency's minor unit.

Rounding rule: a percentage of an amount is rounded half up to the currency's minor unit, i.e. to a whole
won for KRW and a whole cent for USD (amounts are already in minor units, so to a whole integer). The
deposit of a line is computed on the line total, so the deposit of 3 units can differ by one minor unit
from 3 times the deposit of 1 unit; the balance is always the line total minus the deposit, so together
they add up exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shop_contracts.values import PreorderPolicy


def percent_of(amount: int, percent: int) -> int:
    """``percent`` % of ``amount``, rounded half up to a whole minor unit."""
    return (amount * percent + 50) // 100


def window_state(policy: PreorderPolicy, now: datetime, *, segments: frozenset[str] = frozenset()) -> str:
    """``open``, ``not_open`` or ``closed``: whether the pre-order window takes orders at ``now``.

    Customers in the policy's early-access segment may order from ``early_access_starts_at`` on.
    """
    if policy.ends_at is not None and now >= policy.ends_at:
        return "closed"
    starts_at = policy.starts_at
    if (
        policy.early_access_segment is not None
        and policy.early_access_segment in segments
        and policy.early_access_starts_at is not None
        and (starts_at is None or policy.early_access_starts_at < starts_at)
    ):
        starts_at = policy.early_access_starts_at
    if starts_at is not None and now < starts_at:
        return "not_open"
    return "open"


@dataclass(frozen=True)
class EarlyBird:
    percent_off: int
    changes_at: datetime | None
    """When the discount changes to the next tier (None: it lasts until the window closes)."""


def early_bird(policy: PreorderPolicy, now: datetime) -> EarlyBird:
    """The early-bird tier in force at ``now``, counted in days from the window's start.

    Tiers are read in the order given; the first whose ``until_day`` is after the day of ``now`` applies,
    a tier without ``until_day`` applies to the rest of the window. Day 1 is the first 24 hours.
    """
    if not policy.early_bird_tiers or policy.starts_at is None:
        return EarlyBird(percent_off=0, changes_at=None)
    elapsed = now - policy.starts_at
    for tier in policy.early_bird_tiers:
        if tier.until_day is None:
            return EarlyBird(percent_off=tier.percent_off, changes_at=None)
        ends = policy.starts_at + timedelta(days=tier.until_day)
        if elapsed < timedelta(days=tier.until_day):
            return EarlyBird(percent_off=tier.percent_off, changes_at=ends)
    return EarlyBird(percent_off=0, changes_at=None)


def discounted_unit_price(price: int, percent_off: int) -> int:
    """The unit price after an early-bird discount; the discount is rounded half up like every percentage."""
    return price - percent_of(price, percent_off)


@dataclass(frozen=True)
class Split:
    """What a pre-order line costs now and later."""

    now: int
    later: int


def split_line(policy: PreorderPolicy, *, line_total: int, quantity: int, currency: str) -> Split:
    """Split a pre-order line's total between checkout and the balance charged later."""
    if policy.payment_mode == "pay_now":
        return Split(now=line_total, later=0)
    if policy.payment_mode == "pay_later":
        return Split(now=0, later=line_total)
    if policy.deposit_percent is not None:
        deposit = percent_of(line_total, policy.deposit_percent)
    else:
        deposit = min(policy.deposit_amounts.get(currency, 0) * quantity, line_total)
    return Split(now=deposit, later=line_total - deposit)


def balance_due_at(policy: PreorderPolicy, ordered_at: datetime) -> datetime | None:
    """When the balance is charged by the clock; None means when the goods are ready to ship."""
    if policy.balance_due == "at":
        return policy.balance_due_at
    if policy.balance_due == "after" and policy.balance_due_after_hours is not None:
        return ordered_at + timedelta(hours=policy.balance_due_after_hours)
    return None


def campaign_id(sku: str, policy: PreorderPolicy) -> str:
    """One pre-order window of a variant's policy, named alike by catalog and orders: ``SKU@<start>``.

    The start is the window's public ``starts_at`` in UTC, or ``always`` for a window open from the start.
    """
    if policy.starts_at is None:
        return f"{sku}@always"
    return f"{sku}@{policy.starts_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"
