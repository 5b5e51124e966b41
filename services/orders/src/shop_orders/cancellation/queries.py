"""Read side of cancellations: one order's cancellation and the figures by reason."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.cancellation.domain import (
    CancellationResult,
    WinBack,
    win_back_outcome,
)
from shop_orders.core.domain import OrderStatus
from shop_orders.core.tables import (
    cancellations,
    discount_codes,
    orders,
)


async def cancellation_figures(
    session: AsyncSession, *, since: datetime, until: datetime, now: datetime, saved_within: timedelta
) -> dict[str, Any]:
    """Cancellations completed in [since, until) by reason: how many, how many customers came back and
    ordered again within ``saved_within`` (saved), did not (lost) or may still (open)."""
    later = orders.alias("later")
    reordered_at = (
        sa.select(sa.func.min(later.c.created_at))
        .where(
            later.c.email == cancellations.c.email,
            later.c.id != cancellations.c.order_id,
            later.c.created_at >= cancellations.c.requested_at,
            later.c.status != OrderStatus.REJECTED.value,
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        sa.select(
            cancellations.c.reason, cancellations.c.requested_at, reordered_at.label("reordered_at")
        ).where(
            cancellations.c.status.in_(["cancelled", "partially_cancelled"]),
            cancellations.c.completed_at >= since,
            cancellations.c.completed_at < until,
        )
    )
    by_reason: dict[str, Counter[str]] = {}
    for row in rows:
        outcome = win_back_outcome(
            cancelled_at=row.requested_at, reordered_at=row.reordered_at, now=now, within=saved_within
        )
        counts = by_reason.setdefault(row.reason, Counter())
        counts["cancelled"] += 1
        counts[outcome.value] += 1
    reasons: list[dict[str, Any]] = [
        {
            "reason": reason,
            "cancelled": counts["cancelled"],
            "saved": counts[WinBack.SAVED.value],
            "lost": counts[WinBack.LOST.value],
            "open": counts[WinBack.OPEN.value],
        }
        for reason, counts in sorted(by_reason.items())
    ]
    return {
        "since": since,
        "until": until,
        "saved_within_days": saved_within.total_seconds() / 86400,
        "reasons": reasons,
        "totals": {
            key: sum(int(item[key]) for item in reasons) for key in ("cancelled", "saved", "lost", "open")
        },
    }


async def cancellation_view(session: AsyncSession, order_id: str) -> dict[str, Any] | None:
    row = (
        await session.execute(sa.select(cancellations).where(cancellations.c.order_id == order_id))
    ).first()
    if row is None:
        return None
    code = (
        await session.execute(sa.select(discount_codes).where(discount_codes.c.issued_for_order == order_id))
    ).first()
    return {
        **_view(cancellation_result(row)),
        "note": row.note,
        "cancelled_by": row.cancelled_by,
        "requested_at": row.requested_at,
        "completed_at": row.completed_at,
        "discount_code": {"code": code.code, "percent_off": code.percent_off, "expires_at": code.expires_at}
        if code
        else None,
    }


def result_view(result: CancellationResult) -> dict[str, Any]:
    return _view(result)


def _view(result: CancellationResult) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": result.order_id,
        "status": result.status,
        "reason": result.reason,
        "refund": result.refund,
    }
    if result.refused_because:
        view["refused_because"] = result.refused_because
    return view


def cancellation_result(row: Row[Any]) -> CancellationResult:
    return CancellationResult(
        order_id=row.order_id,
        status=row.status,
        reason=row.reason,
        refund=row.refund,
        refused_because="the warehouse has already packed this order: request a return instead"
        if row.status == "refused"
        else None,
    )
