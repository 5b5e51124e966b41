"""Read side of subscriptions for the HTTP API and the metrics: plans, subscriptions with their cycles, figures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.subscriptions.domain import Interval, Status, UnknownSubscription, monthly_recurring_revenue
from shop_orders.subscriptions.tables import subscription_cycles, subscription_plans, subscriptions


def plan_view(row: Any) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "interval": {"unit": row.interval_unit, "count": row.interval_count},
        "prices": [
            {"currency": currency, "amount": amount} for currency, amount in sorted(row.prices.items())
        ],
        "sku": row.sku,
        "quantity": row.quantity,
        "segment": row.segment,
        "trial_days": row.trial_days,
        "first_cycle_percent_off": row.first_cycle_percent_off,
        "created_at": row.created_at.isoformat(),
    }


async def plans(session: AsyncSession) -> list[dict[str, Any]]:
    rows = await session.execute(sa.select(subscription_plans).order_by(subscription_plans.c.created_at))
    return [plan_view(row) for row in rows]


async def plan(session: AsyncSession, code: str) -> dict[str, Any] | None:
    row = (
        await session.execute(sa.select(subscription_plans).where(subscription_plans.c.code == code))
    ).first()
    return None if row is None else plan_view(row)


def _time(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


def _cycle_view(row: Any) -> dict[str, Any]:
    status = (
        "charged"
        if row.charged_at is not None
        else "skipped"
        if row.skipped_at is not None
        else "failed"
        if row.first_failed_at is not None
        else "charging"
    )
    return {
        "cycle": row.cycle,
        "status": status,
        "order_id": row.order_id if row.charged_at is not None else None,
        "amount": row.amount,
        "currency": row.currency,
        "due_at": _time(row.due_at),
        "attempts": row.attempts,
        "charged_at": _time(row.charged_at),
        "decline_code": row.decline_code if row.charged_at is None else None,
    }


def _subscription_view(row: Any, cycles: list[dict[str, Any]]) -> dict[str, Any]:
    address = row.shipping_address
    return {
        "id": row.id,
        "plan_code": row.plan_code,
        "customer_id": row.customer_id,
        "email": row.email,
        "status": row.status,
        "currency": row.currency,
        "shipping_address": address,
        "shipping_method": row.shipping_method,
        "started_at": _time(row.started_at),
        "next_cycle": row.cycle,
        "next_charge_at": None
        if row.status == Status.CANCELLED.value or row.cancel_at_period_end
        else _time(row.next_charge_at),
        "cancel_at_period_end": row.cancel_at_period_end,
        "ends_at": _time(row.next_charge_at)
        if row.cancel_at_period_end and row.status != Status.CANCELLED.value
        else _time(row.cancelled_at),
        "paused_at": _time(row.paused_at),
        "cancelled_at": _time(row.cancelled_at),
        "cancel_reason": row.cancel_reason,
        "cycles": cycles,
    }


async def _with_cycles(session: AsyncSession, rows: list[Any]) -> list[dict[str, Any]]:
    ids = [row.id for row in rows]
    by_subscription: dict[str, list[dict[str, Any]]] = {id_: [] for id_ in ids}
    if ids:
        cycle_rows = await session.execute(
            sa.select(subscription_cycles)
            .where(subscription_cycles.c.subscription_id.in_(ids))
            .order_by(subscription_cycles.c.cycle)
        )
        for cycle in cycle_rows:
            by_subscription[cycle.subscription_id].append(_cycle_view(cycle))
    return [_subscription_view(row, by_subscription[row.id]) for row in rows]


async def subscription(
    session: AsyncSession, subscription_id: str, *, customer_id: str | None
) -> dict[str, Any]:
    """One subscription with its cycles; for a customer only their own (another's is unknown)."""
    row = (
        await session.execute(sa.select(subscriptions).where(subscriptions.c.id == subscription_id))
    ).first()
    if row is None or (customer_id is not None and row.customer_id != customer_id):
        raise UnknownSubscription(f"no subscription {subscription_id}", field="subscription_id")
    [view] = await _with_cycles(session, [row])
    return view


async def subscriptions_list(
    session: AsyncSession,
    *,
    customer_id: str | None = None,
    status: str | None = None,
    plan_code: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Subscriptions newest first, of one customer or filtered by status and plan (staff)."""
    query = sa.select(subscriptions)
    if customer_id is not None:
        query = query.where(subscriptions.c.customer_id == customer_id)
    if status is not None:
        query = query.where(subscriptions.c.status == status)
    if plan_code is not None:
        query = query.where(subscriptions.c.plan_code == plan_code)
    rows = list(
        await session.execute(
            query.order_by(subscriptions.c.started_at.desc(), subscriptions.c.id).limit(limit).offset(offset)
        )
    )
    return {"items": await _with_cycles(session, rows), "limit": limit, "offset": offset}


@dataclass(frozen=True)
class Figures:
    by_status: dict[str, int]
    """Subscriptions by status; past_due counts as active (a cycle in dunning)."""
    monthly_recurring_revenue: dict[str, int]


async def figures(session: AsyncSession) -> Figures:
    by_status: dict[str, int] = {}
    for status, count in await session.execute(
        sa.select(subscriptions.c.status, sa.func.count()).group_by(subscriptions.c.status)
    ):
        shown = Status.ACTIVE.value if status == Status.PAST_DUE.value else status
        by_status[shown] = by_status.get(shown, 0) + int(count)
    active = await session.execute(
        sa.select(
            subscriptions.c.currency,
            subscription_plans.c.prices,
            subscription_plans.c.interval_unit,
            subscription_plans.c.interval_count,
        )
        .join(subscription_plans, subscription_plans.c.code == subscriptions.c.plan_code)
        .where(subscriptions.c.status.in_([Status.ACTIVE.value, Status.PAST_DUE.value]))
    )
    recurring = [
        (row.currency, int(row.prices[row.currency]), Interval(row.interval_unit, row.interval_count))
        for row in active
    ]
    return Figures(by_status=by_status, monthly_recurring_revenue=monthly_recurring_revenue(recurring))
