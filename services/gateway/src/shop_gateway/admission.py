"""Admission control for checkouts: a flash drop must not drown the gateway and the services behind it.

At most ``limit`` checkouts are in the gateway at once (per replica); the next wait their turn, first come
first served, for up to ``wait_seconds``, and are then answered 503 ``busy`` with ``Retry-After`` before
anything parses their body. Without it every checkout in a burst shares the CPU with every other, so all of
them slow down together (the first buyers too) until calls to the services time out; with it, those who
came first are answered first and everybody else is told quickly to come back.
"""

from __future__ import annotations

import asyncio
from typing import Final

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from shop_gateway.middleware import send_problem
from shop_runtime.metrics import REGISTRY
from shop_runtime.problems import Problem

CHECKOUTS_WAITING: Final = Gauge(
    "shop_gateway_checkouts_waiting",
    "Checkouts waiting for their turn in this gateway (admission control).",
    registry=REGISTRY,
)
CHECKOUTS_TURNED_AWAY: Final = Counter(
    "shop_gateway_checkouts_turned_away",
    "Checkouts answered 503 busy after waiting their longest for a turn.",
    registry=REGISTRY,
)


class CheckoutAdmission:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        wait_seconds: float,
        retry_after_seconds: int,
        routes: frozenset[tuple[str, str]] = frozenset({("POST", "/v1/orders")}),
    ) -> None:
        """``limit`` 0 admits everything at once (no control)."""
        self.app = app
        self.routes = routes
        self.wait_seconds = wait_seconds
        self.retry_after_seconds = retry_after_seconds
        self._turns = asyncio.Semaphore(limit) if limit > 0 else None  # FIFO: waiters are woken in order

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        turns = self._turns
        if turns is None or scope["type"] != "http" or (scope["method"], scope["path"]) not in self.routes:
            await self.app(scope, receive, send)
            return
        CHECKOUTS_WAITING.inc()
        try:
            await asyncio.wait_for(turns.acquire(), timeout=self.wait_seconds)
        except TimeoutError:
            CHECKOUTS_TURNED_AWAY.inc()
            await send_problem(send, self._busy(), path=scope["path"])
            return
        finally:
            CHECKOUTS_WAITING.dec()
        try:
            await self.app(scope, receive, send)
        finally:
            turns.release()

    def _busy(self) -> Problem:
        return Problem(
            503,
            "The shop is taking many checkouts right now",
            f"nothing was ordered; send the same checkout again (same Idempotency-Key) in "
            f"{self.retry_after_seconds} s",
            code="busy",
            headers={"Retry-After": str(self.retry_after_seconds)},
        )
