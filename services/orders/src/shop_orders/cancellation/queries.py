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
from shop_orders.cancellation.repository import Cancellation
from shop_orders.core.domain import OrderStatus
from shop_orders.core.tables import (
    cancellation_feedback,
    cancellations,
    discount_codes,
    orders,
)


async def cancellation_figures(
    session: AsyncSession, *, since: datetime, until: datetime, now: datetime, saved_within: timedelta
) -> dict[str, Any]:
    """Cancellations completed in [since, until) by reason: how many were saved (the customer used the offer's
    code, or the same customer ordered again within ``saved_within``: the same account, or for a guest the same
    email address), lost (neither, and the time passed) or open (may still be saved)."""
    cancelled = orders.alias("cancelled")
    later = orders.alias("later")
    same_customer = sa.case(
        (cancelled.c.customer_id.is_not(None), later.c.customer_id == cancelled.c.customer_id),
        else_=sa.func.lower(sa.func.trim(later.c.email))
        == sa.func.lower(sa.func.trim(cancellations.c.email)),
    )
    reordered_at = (
        sa.select(sa.func.min(later.c.created_at))
        .where(
            same_customer,
            later.c.id != cancellations.c.order_id,
            later.c.created_at >= cancellations.c.requested_at,
            later.c.status != OrderStatus.REJECTED.value,
        )
        .scalar_subquery()
    )
    redeemer = orders.alias("redeemer")
    used_offer_code = sa.exists().where(
        discount_codes.c.issued_for_order == cancellations.c.order_id,
        discount_codes.c.redeemed_by_order == redeemer.c.id,
        redeemer.c.status != OrderStatus.REJECTED.value,
    )
    rows = await session.execute(
        sa.select(
            cancellations.c.reason,
            cancellations.c.requested_at,
            reordered_at.label("reordered_at"),
            used_offer_code.label("used_offer_code"),
        )
        .join(cancelled, cancelled.c.id == cancellations.c.order_id)
        .where(
            cancellations.c.status.in_(["cancelled", "partially_cancelled"]),
            cancellations.c.completed_at >= since,
            cancellations.c.completed_at < until,
        )
    )
    by_reason: dict[str, Counter[str]] = {}
    for row in rows:
        outcome = win_back_outcome(
            cancelled_at=row.requested_at,
            reordered_at=row.reordered_at,
            now=now,
            within=saved_within,
            used_offer_code=bool(row.used_offer_code),
        )
        counts = by_reason.setdefault(row.reason, Counter())
        counts["cancelled"] += 1
        counts[outcome.value] += 1
        if row.used_offer_code:
            counts["code_used"] += 1
    reasons: list[dict[str, Any]] = [
        {
            "reason": reason,
            "cancelled": counts["cancelled"],
            "saved": counts[WinBack.SAVED.value],
            "lost": counts[WinBack.LOST.value],
            "open": counts[WinBack.OPEN.value],
            "saved_with_code": counts["code_used"],
        }
        for reason, counts in sorted(by_reason.items())
    ]
    return {
        "since": since,
        "until": until,
        "saved_within_days": saved_within.total_seconds() / 86400,
        "reasons": reasons,
        "totals": {
            key: sum(int(item[key]) for item in reasons)
            for key in ("cancelled", "saved", "lost", "open", "saved_with_code")
        },
    }


async def feedback_given(
    session: AsyncSession, *, since: datetime, until: datetime, limit: int, offset: int = 0
) -> dict[str, Any]:
    """Customers' feedback on their cancellations given in [since, until), newest first, with the reason they
    chose, who cancelled and the note written with it."""
    rows = await session.execute(
        sa.select(
            cancellation_feedback,
            cancellations.c.reason,
            cancellations.c.note,
            cancellations.c.cancelled_by,
            cancellations.c.completed_at,
        )
        .join(cancellations, cancellations.c.order_id == cancellation_feedback.c.order_id)
        .where(cancellation_feedback.c.created_at >= since, cancellation_feedback.c.created_at < until)
        .order_by(cancellation_feedback.c.created_at.desc(), cancellation_feedback.c.order_id)
        .limit(limit)
        .offset(offset)
    )
    return {
        "items": [
            {
                "order_id": row.order_id,
                "reason": row.reason,
                "note": row.note,
                "cancelled_by": row.cancelled_by,
                "cancelled_at": row.completed_at,
                "score": row.score,
                "comment": row.comment,
                "given_at": row.created_at,
            }
            for row in rows
        ],
        "limit": limit,
        "offset": offset,
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
        "discount_code": code_view(code) if code else None,
        "offer": row.offer,
    }


def code_view(code: Row[Any]) -> dict[str, Any]:
    """A win-back code as its customer sees it: what it takes off and until when; free shipping zeroes shipping."""
    return {
        "code": code.code,
        "kind": code.kind,
        "percent_off": code.percent_off,
        "amount_off": code.amount_off,
        "currency": code.currency,
        "expires_at": code.expires_at,
        "used": code.redeemed_by_order is not None,
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


def cancellation_result(row: Row[Any] | Cancellation) -> CancellationResult:
    """The answer a cancellation gives when asked again, from its stored row or its record."""
    return CancellationResult(
        order_id=row.order_id,
        status=row.status,
        reason=row.reason,
        refund=row.refund,
        refused_because="the warehouse has already packed this order: request a return instead"
        if row.status == "refused"
        else None,
    )
