"""Loading and saving plans, subscriptions and cycles, locked where a handler changes them; joining and leaving a
plan's segment."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.core.errors import UnknownCustomer
from shop_orders.core.tables import customer_segments, customers
from shop_orders.subscriptions.domain import (
    Cycle,
    Interval,
    Plan,
    PlanExists,
    Status,
    Subscription,
    UnknownPlan,
    UnknownSubscription,
)
from shop_orders.subscriptions.tables import subscription_cycles, subscription_plans, subscriptions


class Subscriptions(Protocol):
    """Plans, subscriptions and cycles, as the handlers need them (``SqlSubscriptions``, or a fake in tests)."""

    async def add_plan(self, plan: Plan, *, now: Any) -> None: ...
    async def plan(self, code: str) -> Plan: ...
    async def customer(self, customer_id: str) -> tuple[str, str]: ...
    async def with_idempotency_key(self, key: str) -> Subscription | None: ...
    async def add(self, subscription: Subscription) -> None: ...
    async def get(self, subscription_id: str) -> Subscription: ...
    async def save(self, subscription: Subscription) -> None: ...
    async def cycle(self, subscription_id: str, cycle: int) -> Cycle | None: ...
    async def save_cycle(self, cycle: Cycle) -> None: ...
    async def join_segment(self, customer_id: str, segment: str, *, now: Any) -> None: ...
    async def leave_segment(self, customer_id: str, segment: str) -> None: ...


SUBSCRIPTION_FIELDS = [field.name for field in dataclasses.fields(Subscription)]
CYCLE_FIELDS = [field.name for field in dataclasses.fields(Cycle)]


def plan_of(row: Any) -> Plan:
    return Plan(
        code=row.code,
        name=row.name,
        interval=Interval(row.interval_unit, row.interval_count),
        prices=dict(row.prices),
        sku=row.sku,
        quantity=row.quantity,
        segment=row.segment,
        trial_days=row.trial_days,
        first_cycle_percent_off=row.first_cycle_percent_off,
    )


def subscription_of(row: Any) -> Subscription:
    values = {name: row._mapping[name] for name in SUBSCRIPTION_FIELDS}
    return Subscription(**values | {"status": Status(values["status"])})


def _row(subscription: Subscription) -> dict[str, Any]:
    values = {name: getattr(subscription, name) for name in SUBSCRIPTION_FIELDS}
    return values | {"status": subscription.status.value}


class SqlSubscriptions:
    """Subscriptions in PostgreSQL, in the unit of work's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_plan(self, plan: Plan, *, now: Any) -> None:
        added = await self._session.execute(
            insert(subscription_plans)
            .values(
                code=plan.code,
                name=plan.name,
                interval_unit=plan.interval.unit,
                interval_count=plan.interval.count,
                prices=plan.prices,
                sku=plan.sku,
                quantity=plan.quantity,
                segment=plan.segment,
                trial_days=plan.trial_days,
                first_cycle_percent_off=plan.first_cycle_percent_off,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[subscription_plans.c.code])
            .returning(subscription_plans.c.code)
        )
        if added.first() is None:
            existing = await self.plan(plan.code)
            if existing != plan:
                raise PlanExists(f"a different plan with code {plan.code} exists", field="code")

    async def plan(self, code: str) -> Plan:
        row = (
            await self._session.execute(
                sa.select(subscription_plans).where(subscription_plans.c.code == code)
            )
        ).first()
        if row is None:
            raise UnknownPlan(f"no plan {code}", field="plan_code")
        return plan_of(row)

    async def customer(self, customer_id: str) -> tuple[str, str]:
        """The account's email and locale."""
        row = (
            await self._session.execute(
                sa.select(customers.c.email, customers.c.locale).where(customers.c.id == customer_id)
            )
        ).first()
        if row is None:
            raise UnknownCustomer(f"no customer {customer_id}", field="customer_id")
        return row.email, row.locale

    async def with_idempotency_key(self, key: str) -> Subscription | None:
        row = (
            await self._session.execute(
                sa.select(subscriptions).where(subscriptions.c.idempotency_key == key)
            )
        ).first()
        return None if row is None else subscription_of(row)

    async def add(self, subscription: Subscription) -> None:
        await self._session.execute(sa.insert(subscriptions).values(**_row(subscription)))

    async def get(self, subscription_id: str) -> Subscription:
        """The subscription, locked until the transaction ends."""
        row = (
            await self._session.execute(
                sa.select(subscriptions).where(subscriptions.c.id == subscription_id).with_for_update()
            )
        ).first()
        if row is None:
            raise UnknownSubscription(f"no subscription {subscription_id}", field="subscription_id")
        return subscription_of(row)

    async def save(self, subscription: Subscription) -> None:
        await self._session.execute(
            sa.update(subscriptions).where(subscriptions.c.id == subscription.id).values(**_row(subscription))
        )

    async def cycle(self, subscription_id: str, cycle: int) -> Cycle | None:
        row = (
            await self._session.execute(
                sa.select(subscription_cycles).where(
                    subscription_cycles.c.subscription_id == subscription_id,
                    subscription_cycles.c.cycle == cycle,
                )
            )
        ).first()
        return None if row is None else Cycle(**{name: row._mapping[name] for name in CYCLE_FIELDS})

    async def save_cycle(self, cycle: Cycle) -> None:
        values = {name: getattr(cycle, name) for name in CYCLE_FIELDS}
        statement = insert(subscription_cycles).values(**values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[subscription_cycles.c.subscription_id, subscription_cycles.c.cycle],
                set_={
                    name: statement.excluded[name]
                    for name in CYCLE_FIELDS
                    if name not in ("subscription_id", "cycle")
                },
            )
        )

    async def join_segment(self, customer_id: str, segment: str, *, now: Any) -> None:
        await self._session.execute(
            insert(customer_segments)
            .values(customer_id=customer_id, segment=segment, added_at=now)
            .on_conflict_do_nothing()
        )

    async def leave_segment(self, customer_id: str, segment: str) -> None:
        """Leave the plan's segment unless another subscription of the account to a plan of that segment keeps
        it there."""
        others = (
            sa.select(subscriptions.c.id)
            .join(subscription_plans, subscription_plans.c.code == subscriptions.c.plan_code)
            .where(
                subscriptions.c.customer_id == customer_id,
                subscription_plans.c.segment == segment,
                subscriptions.c.status != Status.CANCELLED.value,
            )
        )
        if (await self._session.execute(others)).first() is None:
            await self._session.execute(
                sa.delete(customer_segments).where(
                    customer_segments.c.customer_id == customer_id, customer_segments.c.segment == segment
                )
            )
