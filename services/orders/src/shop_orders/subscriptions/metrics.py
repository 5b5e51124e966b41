"""Subscriptions' metrics: cycles charged and failed (counted once committed), and the subscriptions by status and
the monthly recurring revenue per currency, counted from the database by the worker every few seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import Gauge

from shop_orders.subscriptions import queries
from shop_orders.subscriptions.domain import Status
from shop_runtime.database import Database
from shop_runtime.metrics import REGISTRY, business_counter

log = logging.getLogger(__name__)

CYCLES_CHARGED = business_counter(
    "shop_subscription_cycles_charged", "Subscription cycles charged off session", ["currency"]
)
CYCLE_CHARGES_FAILED = business_counter(
    "shop_subscription_cycle_charges_failed",
    "Subscription cycle charges declined (each attempt, dunning retries included), by decline code",
    ["currency", "reason"],
)
SUBSCRIPTIONS = Gauge(
    "shop_subscriptions",
    "Subscriptions by status (active includes past_due: a cycle in dunning), counted from the database",
    ["status"],
    registry=REGISTRY,
)
MONTHLY_RECURRING_REVENUE = Gauge(
    "shop_subscription_monthly_recurring_revenue_minor_units",
    "What active subscriptions charge in an average month, each plan's price normalised from its interval",
    ["currency"],
    registry=REGISTRY,
)


async def refresh(database: Database) -> None:
    """Set the gauges from the database as it is now."""
    async with database.session_factory() as session, session.begin():
        figures = await queries.figures(session)
    for status in (Status.ACTIVE, Status.PAUSED, Status.CANCELLED):
        SUBSCRIPTIONS.labels(status.value).set(figures.by_status.get(status.value, 0))
    MONTHLY_RECURRING_REVENUE.clear()  # a currency with no active subscription left drops out, not stays stale
    for currency, amount in figures.monthly_recurring_revenue.items():
        MONTHLY_RECURRING_REVENUE.labels(currency).set(amount)


def refresher(
    database: Database, *, every_seconds: float
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """The worker's loop that keeps the gauges current until it is stopped."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await refresh(database)
            except Exception:  # a metrics pass that fails is logged and tried again, never fatal
                log.exception("counting subscriptions for the metrics failed")
            try:
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)
            except TimeoutError:
                pass

    return run
