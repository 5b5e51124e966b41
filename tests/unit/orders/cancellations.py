"""Cancellations in memory for handler tests (``shop_orders.cancellation.repository.Cancellations``), kept as the
tables keep them: one cancellation per order (a new request replaces only a refused one, as the handler decides),
one win-back code per cancelled order, each late payment counted once, the first feedback kept."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from shop_orders.cancellation.domain import WinBackCode
from shop_orders.cancellation.repository import Cancellation, Feedback


class FakeCancellations:
    def __init__(self) -> None:
        self.by_order: dict[str, Cancellation] = {}
        self.codes: dict[str, WinBackCode] = {}
        """The win-back code issued for each cancelled order."""
        self.code_owners: dict[str, tuple[str, str | None]] = {}
        """The email and customer id each code (by order) was issued to."""
        self.late_payments: dict[str, tuple[str, str, int]] = {}
        """Payments that landed after a cancellation, by payment id: the order, what it paid and how much."""
        self.feedback: dict[str, Feedback] = {}

    async def get(self, order_id: str) -> Cancellation | None:
        return self.by_order.get(order_id)

    async def request(self, cancellation: Cancellation) -> None:
        self.by_order[cancellation.order_id] = cancellation

    async def record_answers(self, order_id: str, *, awaiting: list[str], refused: list[str]) -> None:
        self._change(order_id, awaiting=list(awaiting), refused=list(refused))

    async def refuse(self, order_id: str, *, now: datetime) -> None:
        self._change(order_id, status="refused", completed_at=now)

    async def complete(self, order_id: str, *, status: str, refund: int, now: datetime) -> None:
        self._change(order_id, status=status, refund=refund, completed_at=now)

    async def win_back_code(self, order_id: str) -> WinBackCode | None:
        return self.codes.get(order_id)

    async def add_win_back_code(
        self, code: WinBackCode, *, order_id: str, email: str, customer_id: str | None
    ) -> WinBackCode:
        assert order_id not in self.codes, "one code per cancelled order"
        self.codes[order_id] = code
        self.code_owners[order_id] = (email, customer_id)
        return code

    async def count_late_payment(self, *, payment_id: str, order_id: str, what: str, amount: int) -> bool:
        if payment_id in self.late_payments:
            return False
        self.late_payments[payment_id] = (order_id, what, amount)
        return True

    async def keep_feedback(
        self, order_id: str, *, score: int, comment: str | None, now: datetime
    ) -> Feedback | None:
        assert order_id in self.by_order, "feedback belongs to a cancellation (a foreign key in SQL)"
        kept = self.feedback.get(order_id)
        if kept is not None:
            return dataclasses.replace(kept, recorded=False)
        self.feedback[order_id] = Feedback(
            order_id=order_id, score=score, comment=comment, created_at=now, recorded=True
        )
        return self.feedback[order_id]

    def _change(self, order_id: str, **changes: object) -> None:
        # An update of a row that is not there changes nothing, as in SQL.
        if order_id in self.by_order:
            self.by_order[order_id] = dataclasses.replace(self.by_order[order_id], **changes)  # type: ignore[arg-type]
