"""When a pre-order's balance is reminded of and charged, free of I/O."""

from __future__ import annotations

from datetime import datetime, timedelta


def reminder_time(*, charge_at: datetime, notice: timedelta, now: datetime) -> datetime | None:
    """When to remind the customer of a balance charged by the clock at ``charge_at``: ``notice`` before it,
    or at once when that moment already passed; never when the charge itself is due already (the
    confirmation email told the date and there is no time left to change the card)."""
    if charge_at <= now:
        return None
    return max(charge_at - notice, now)


def charge_time_on_allocation(*, reminded_at: datetime | None, notice: timedelta, now: datetime) -> datetime:
    """When to charge a balance due on readiness once its units are allocated: at once if the customer was
    reminded at least ``notice`` ago, otherwise ``notice`` from now (and the reminder goes now)."""
    if reminded_at is not None and now - reminded_at >= notice:
        return now
    return now + notice
