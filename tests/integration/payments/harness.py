"""What payments' integration tests share: the service under test with its sandbox, and how to look at it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_contracts import Envelope, Message
from shop_contracts.routing import service_queue
from shop_payments.psp import SandboxCharge, SandboxPsp
from shop_runtime.database import Database
from tests.support.messages import publish_envelope
from tests.support.services import drained


@dataclass
class Payments:
    client: httpx.AsyncClient
    sandbox: SandboxPsp
    database: Database | None = None
    """The service's own database, for a test that looks at what it kept (its inbox, say)."""


def charges_of(sandbox: SandboxPsp, order_id: str) -> list[SandboxCharge]:
    return [charge for charge in sandbox.charges if charge.idempotency_key.startswith(f"{order_id}:")]


async def payments_of(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    response = await client.get("/payments", params={"order_id": order_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def worker_idle() -> None:
    await drained(service_queue("payments"))


async def send_copy(connection: AbstractRobustConnection, message: Message, sent: Envelope) -> Envelope:
    """Publish ``sent`` again under a new message id, made when it was (a copy re-published by its sender)."""
    copy = sent.model_copy(update={"id": uuid.uuid4()})
    await publish_envelope(connection, message, copy)
    return copy


async def inbox_rows(payments: Payments, envelopes: list[Envelope]) -> dict[uuid.UUID, int]:
    """How many inbox rows payments keeps of each of ``envelopes`` (0 for one it never claimed)."""
    assert payments.database is not None
    inbox = payments.database.inbox
    async with payments.database.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(inbox.c.message_id, sa.func.count())
            .where(inbox.c.message_id.in_([envelope.id for envelope in envelopes]))
            .group_by(inbox.c.message_id)
        )
        counted = {message_id: count for message_id, count in rows.all()}
    return {envelope.id: counted.get(envelope.id, 0) for envelope in envelopes}
