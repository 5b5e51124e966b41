"""Sending one request to the gateway: the caller's httpx client, an optional retry policy, answers checked."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx


class UnexpectedAnswer(Exception):
    """The gateway answered a status the caller did not expect; the answer is kept for the message and tests."""

    def __init__(self, response: httpx.Response) -> None:
        request = response.request
        super().__init__(
            f"{request.method} {request.url.path} answered {response.status_code}: {response.text[:500]}"
        )
        self.response = response


def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    """The response itself when its status is one of ``statuses``; otherwise raise UnexpectedAnswer."""
    if response.status_code not in statuses:
        raise UnexpectedAnswer(response)
    return response


def is_busy(response: httpx.Response) -> bool:
    """The gateway's admission control turned a checkout away: nothing was ordered, send it again later."""
    return response.status_code == 503 and '"busy"' in response.text


@dataclass(frozen=True)
class Retry:
    """Send a request again, unchanged (a checkout with the same Idempotency-Key), while the shop cannot take it.

    A 503 ``busy`` is always sent again, after its Retry-After. With ``server_errors`` so is any other 5xx, a
    429 and a transport error (a process or a server restarting), after ``pause``. Up to ``within`` seconds
    from the first try; then the last answer is returned (or the last transport error raised)."""

    within: float = 60.0
    pause: float = 0.2
    server_errors: bool = False

    def wants(self, response: httpx.Response) -> bool:
        if is_busy(response):
            return True
        return self.server_errors and (response.status_code >= 500 or response.status_code == 429)

    def delay(self, response: httpx.Response) -> float:
        if is_busy(response):
            with contextlib.suppress(ValueError):
                return float(response.headers.get("retry-after", self.pause))
        return self.pause


class Caller:
    """What Storefront, Staff and Warehouse share: the caller's client, headers, retry policy and in-flight cap.

    ``http`` is the caller's own httpx.AsyncClient (base URL, connections, timeouts); it is not closed here.
    ``in_flight`` caps requests on the wire at once: each try takes a slot, a wait for Retry-After does not."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        headers: Mapping[str, str] | None = None,
        retry: Retry | None = None,
        in_flight: asyncio.Semaphore | None = None,
    ) -> None:
        self.http = http
        self.headers = dict(headers or {})
        self.retry = retry
        self.in_flight = in_flight

    async def once(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One try, with this caller's headers (``headers`` added over them)."""
        merged = self.headers | dict(headers or {})
        async with self.in_flight or contextlib.nullcontext():
            return await self.http.request(method, path, json=json, params=params, headers=merged)

    async def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send, and send again as the retry policy says; answer the last response."""
        retry = self.retry
        deadline = time.monotonic() + (retry.within if retry else 0.0)
        while True:
            try:
                response = await self.once(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError:
                if retry is None or not retry.server_errors or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(retry.pause)
                continue
            if retry is None or not retry.wants(response) or time.monotonic() > deadline:
                return response
            await asyncio.sleep(retry.delay(response))

    async def get(self, path: str, *, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return await self.send("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> httpx.Response:
        return await self.send("POST", path, json=json)

    async def put(self, path: str, json: Any = None) -> httpx.Response:
        return await self.send("PUT", path, json=json)

    async def patch(self, path: str, json: Any = None) -> httpx.Response:
        return await self.send("PATCH", path, json=json)

    async def delete(self, path: str, *, params: Mapping[str, Any] | None = None) -> httpx.Response:
        return await self.send("DELETE", path, params=params)
