"""Storing cancellations inside a unit of work: the cancellation of an order, the win-back code it issued, the
payments that landed after it, and the customer's feedback. ``SqlCancellations`` keeps them in PostgreSQL (the
handlers' default); the handler tests give a fake that keeps them in memory."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shop_orders.cancellation.domain import WinBackCode
from shop_orders.core.tables import (
    cancellation_feedback,
    cancellations,
    discount_codes,
    late_payments,
)


@dataclass(frozen=True)
class Cancellation:
    """An order's cancellation as kept: who asked and why, the groups fulfillment was asked to stop and their
    answers, and how it ended (``status``: requested, cancelled, partially_cancelled or refused)."""

    order_id: str
    reason: str
    note: str | None
    cancelled_by: str
    email: str
    status: str
    asked: list[str]
    awaiting: list[str]
    refused: list[str]
    refund: int
    offer: dict[str, Any] | None
    requested_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class Feedback:
    """What a customer said about a cancellation, and whether this call recorded it (False: it was there)."""

    order_id: str
    score: int
    comment: str | None
    created_at: datetime
    recorded: bool


class Cancellations(Protocol):
    """What a cancellation handler needs of storage besides the order (which ``Orders`` keeps and locks)."""

    async def get(self, order_id: str) -> Cancellation | None:
        """The order's cancellation, or None when it was never asked for."""

    async def request(self, cancellation: Cancellation) -> None:
        """Keep a new request to cancel, replacing one that was refused."""

    async def record_answers(self, order_id: str, *, awaiting: list[str], refused: list[str]) -> None:
        """The groups fulfillment has still to answer about, and those it refused to stop."""

    async def refuse(self, order_id: str, *, now: datetime) -> None:
        """Nothing could be stopped: the cancellation ends refused."""

    async def complete(self, order_id: str, *, status: str, refund: int, now: datetime) -> None:
        """The cancellation ended ``status`` (cancelled or partially_cancelled) with ``refund`` given back."""

    async def win_back_code(self, order_id: str) -> WinBackCode | None:
        """The win-back code issued for the cancelled order, if one was."""

    async def add_win_back_code(
        self, code: WinBackCode, *, order_id: str, email: str, customer_id: str | None
    ) -> WinBackCode:
        """Keep a new single-use code for the customer who cancelled ``order_id``."""

    async def count_late_payment(self, *, payment_id: str, order_id: str, what: str, amount: int) -> bool:
        """Keep a payment that landed after the cancellation; False when it was kept already (told again)."""

    async def keep_feedback(
        self, order_id: str, *, score: int, comment: str | None, now: datetime
    ) -> Feedback | None:
        """Keep the customer's first feedback on the order's cancellation (which must be there) and answer what is
        kept, ``recorded`` False when feedback was there already; None when nothing is kept."""


def _cancellation_of(row: Row[Any]) -> Cancellation:
    return Cancellation(
        order_id=row.order_id,
        reason=row.reason,
        note=row.note,
        cancelled_by=row.cancelled_by,
        email=row.email,
        status=row.status,
        asked=list(row.asked),
        awaiting=list(row.awaiting),
        refused=list(row.refused),
        refund=row.refund,
        offer=row.offer,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
    )


def _code_of(row: Row[Any]) -> WinBackCode:
    return WinBackCode(
        code=row.code,
        kind=row.kind,
        expires_at=row.expires_at,
        percent_off=row.percent_off,
        amount_off=row.amount_off,
        currency=row.currency,
    )


class SqlCancellations:
    """Cancellations in PostgreSQL, in the unit of work's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, order_id: str) -> Cancellation | None:
        row = (
            await self._session.execute(sa.select(cancellations).where(cancellations.c.order_id == order_id))
        ).first()
        return None if row is None else _cancellation_of(row)

    async def request(self, cancellation: Cancellation) -> None:
        values = {
            "reason": cancellation.reason,
            "note": cancellation.note,
            "cancelled_by": cancellation.cancelled_by,
            "email": cancellation.email,
            "status": cancellation.status,
            "asked": cancellation.asked,
            "awaiting": cancellation.awaiting,
            "refused": cancellation.refused,
            "refund": cancellation.refund,
            "offer": cancellation.offer,
            "requested_at": cancellation.requested_at,
            "completed_at": cancellation.completed_at,
        }
        statement = insert(cancellations).values(order_id=cancellation.order_id, **values)
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=[cancellations.c.order_id], set_=values)
        )

    async def record_answers(self, order_id: str, *, awaiting: list[str], refused: list[str]) -> None:
        await self._session.execute(
            sa.update(cancellations)
            .where(cancellations.c.order_id == order_id)
            .values(awaiting=awaiting, refused=refused)
        )

    async def refuse(self, order_id: str, *, now: datetime) -> None:
        await self._session.execute(
            sa.update(cancellations)
            .where(cancellations.c.order_id == order_id)
            .values(status="refused", completed_at=now)
        )

    async def complete(self, order_id: str, *, status: str, refund: int, now: datetime) -> None:
        await self._session.execute(
            sa.update(cancellations)
            .where(cancellations.c.order_id == order_id)
            .values(status=status, refund=refund, completed_at=now)
        )

    async def win_back_code(self, order_id: str) -> WinBackCode | None:
        row = (
            await self._session.execute(
                sa.select(discount_codes).where(discount_codes.c.issued_for_order == order_id)
            )
        ).first()
        return None if row is None else _code_of(row)

    async def add_win_back_code(
        self, code: WinBackCode, *, order_id: str, email: str, customer_id: str | None
    ) -> WinBackCode:
        row = (
            await self._session.execute(
                sa.insert(discount_codes)
                .values(
                    code=code.code,
                    email=email,
                    customer_id=customer_id,
                    issued_for_order=order_id,
                    kind=code.kind,
                    percent_off=code.percent_off,
                    amount_off=code.amount_off,
                    currency=code.currency,
                    expires_at=code.expires_at,
                )
                .returning(*discount_codes.c)
            )
        ).one()
        return _code_of(row)

    async def count_late_payment(self, *, payment_id: str, order_id: str, what: str, amount: int) -> bool:
        first = await self._session.execute(
            insert(late_payments)
            .values(payment_id=payment_id, order_id=order_id, what=what, amount=amount)
            .on_conflict_do_nothing()
            .returning(late_payments.c.payment_id)
        )
        return first.first() is not None

    async def keep_feedback(
        self, order_id: str, *, score: int, comment: str | None, now: datetime
    ) -> Feedback | None:
        added = (
            await self._session.execute(
                insert(cancellation_feedback)
                .values(order_id=order_id, score=score, comment=comment, created_at=now)
                .on_conflict_do_nothing(index_elements=[cancellation_feedback.c.order_id])
                .returning(*cancellation_feedback.c)
            )
        ).first()
        row = (
            added
            or (
                await self._session.execute(
                    sa.select(cancellation_feedback).where(cancellation_feedback.c.order_id == order_id)
                )
            ).first()
        )
        if row is None:
            return None
        return Feedback(
            order_id=row.order_id,
            score=row.score,
            comment=row.comment,
            created_at=row.created_at,
            recorded=added is not None,
        )
