"""How a client reaches its service: a call the caller supplies (the gateway's pooled, traced transport), and
what every service's internal API answers alike (its parked messages)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol

import httpx

Id = uuid.UUID | str
"""An id as it goes into a path: a UUID, or a string the caller already checked."""


class ServiceCall(Protocol):
    """One HTTP call to one service; the caller decides how (pooling, request ids, an unreachable service)."""

    def __call__(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Awaitable[httpx.Response]: ...


class ServiceClient:
    """A service's internal API: each method is one operation, and owns its method and path."""

    def __init__(self, call: ServiceCall) -> None:
        self._call = call

    async def dead_letters(self) -> httpx.Response:
        """The service's parked messages: a count and the messages."""
        return await self._call("GET", "/dead-letters")

    async def dead_letter(self, message_id: str) -> httpx.Response:
        return await self._call("GET", f"/dead-letters/{message_id}")

    async def replay_dead_letters(self) -> httpx.Response:
        return await self._call("POST", "/dead-letters/replay")

    async def replay_dead_letter(self, message_id: str) -> httpx.Response:
        return await self._call("POST", f"/dead-letters/{message_id}/replay")

    async def purge_dead_letters(self, *, confirm: int | None) -> httpx.Response:
        """Delete the parked messages when ``confirm`` is how many there are now."""
        params = {} if confirm is None else {"confirm": confirm}
        return await self._call("DELETE", "/dead-letters", params=params)
