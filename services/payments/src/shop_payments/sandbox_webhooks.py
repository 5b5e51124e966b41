"""The sandbox PSP's webhook sender: it signs each event as the PSP does and POSTs it to one configured URL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from shop_payments import webhooks


@dataclass(frozen=True)
class WebhookDelivery:
    """One delivery of a sandbox webhook: the event, and how the receiving URL answered."""

    event_id: str
    status: int
    answer: Any


class WebhooksNotConfigured(Exception):
    """The sandbox has no webhook URL or signing secret to deliver with."""


class SandboxWebhooks:
    """The sandbox's webhook sender: signs each event with the first secret and POSTs it to one URL.

    It keeps the events it sent, so one can be delivered again, as a real PSP redelivers until it hears 2xx.
    """

    def __init__(
        self,
        url: str | None,
        secrets: tuple[str, ...],
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._secrets = secrets
        self._clock = clock
        self._transport = transport
        self.sent: dict[str, bytes] = {}

    def event(self, event_type: str, data: Mapping[str, Any]) -> tuple[str, bytes]:
        """A new event (id and body as the PSP sends it)."""
        event_id = f"evt_sandbox_{uuid.uuid4().hex}"
        body = {"id": event_id, "type": event_type, "created": int(self._clock()), "data": dict(data)}
        return event_id, json.dumps(body, separators=(",", ":")).encode()

    @property
    def configured(self) -> bool:
        return bool(self._url and self._secrets)

    async def deliver(self, event_id: str, body: bytes, *, signed_at: int | None = None) -> WebhookDelivery:
        """POST the event, signed now (or at ``signed_at``), and return the answer."""
        if not self._url or not self._secrets:
            raise WebhooksNotConfigured("the sandbox needs a webhook URL and secret to deliver webhooks")
        self.sent[event_id] = body
        timestamp = int(self._clock()) if signed_at is None else signed_at
        headers = {
            "Content-Type": "application/json",
            webhooks.SIGNATURE_HEADER: webhooks.sign(body, secret=self._secrets[0], timestamp=timestamp),
        }
        async with httpx.AsyncClient(transport=self._transport, timeout=10) as client:
            response = await client.post(self._url, content=body, headers=headers)
        try:
            answer: Any = response.json()
        except ValueError:
            answer = response.text
        return WebhookDelivery(event_id, response.status_code, answer)

    async def redeliver(self, event_id: str) -> WebhookDelivery | None:
        """Deliver an event sent before once more (same id and body, a fresh signature); None if unknown."""
        body = self.sent.get(event_id)
        return None if body is None else await self.deliver(event_id, body)
