"""What payments' integration tests share: the service under test with its sandbox, and how to look at it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shop_contracts.routing import service_queue
from shop_payments.psp import SandboxCharge, SandboxPsp
from tests.support.services import drained


@dataclass
class Payments:
    client: httpx.AsyncClient
    sandbox: SandboxPsp


def charges_of(sandbox: SandboxPsp, order_id: str) -> list[SandboxCharge]:
    return [charge for charge in sandbox.charges if charge.idempotency_key.startswith(f"{order_id}:")]


async def payments_of(client: httpx.AsyncClient, order_id: str) -> dict[str, Any]:
    response = await client.get("/payments", params={"order_id": order_id})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def worker_idle() -> None:
    await drained(service_queue("payments"))
