"""Orders' draft orders against the real PostgreSQL and RabbitMQ: an open draft expires on the schedule and
gives its units back; a draft that cannot be invoiced or paid yet says why; drafts made at once for a new
email share its one account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection

from shop_orders.bootstrap import DEFINITION
from shop_orders.tables import catalog_variants
from shop_runtime.database import create_engine
from tests.support import infra
from tests.support.messages import eventually
from tests.support.services import running_service

pytestmark = pytest.mark.integration

ADDRESS = {"name": "Kim", "line1": "1 Teheran-ro", "city": "Seoul", "postal_code": "06236", "country": "KR"}


@pytest.fixture
async def orders(broker: AbstractRobustConnection) -> AsyncIterator[httpx.AsyncClient]:
    # Drafts expire 3.6 seconds after they are made.
    settings = infra.service_settings(
        DEFINITION, suffix="_drafts", draft_expiry_hours=0.001, scheduler_poll_seconds=0.2
    )
    async with running_service(DEFINITION, settings, broker) as service:
        engine = create_engine(settings)
        async with engine.begin() as connection:
            await connection.execute(
                sa.insert(catalog_variants).values(
                    sku="DRF-TEE",
                    product_id="p",
                    variant_id="v",
                    title="Tee",
                    options={},
                    prices={"KRW": 39000},
                    version=1,
                )
            )
        await engine.dispose()
        yield service.client


def _draft(**extra: object) -> dict[str, object]:
    return {
        "customer": {"email": "drafted@example.com", "name": "Kim", "locale": "ko"},
        "currency": "KRW",
        "lines": [{"sku": "DRF-TEE", "quantity": 1}],
        "shipping": {"method": "standard"},
        "shipping_address": ADDRESS,
        **extra,
    }


async def test_an_open_draft_expires_and_gives_its_units_back(orders: httpx.AsyncClient) -> None:
    reserve_until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    made = await orders.post("/drafts", json=_draft(reserve_until=reserve_until))
    assert made.status_code == 201, made.text
    draft = made.json()
    assert draft["reservation"]["status"] == "requested"  # catalog is not running: asked, not yet held

    async def expired() -> None:
        seen = (await orders.get(f"/drafts/{draft['id']}")).json()
        assert (seen["status"], seen["reservation"]["status"]) == ("expired", "released")

    await eventually(expired, timeout=15)
    changed = await orders.patch(f"/drafts/{draft['id']}", json={"note": "too late"})
    assert (changed.status_code, changed.json()["code"]) == (409, "draft_not_open")


async def test_a_draft_says_why_it_cannot_be_invoiced_or_paid_yet(orders: httpx.AsyncClient) -> None:
    custom_only = await orders.post(
        "/drafts", json=_draft(lines=[{"title": "Consultation", "unit_price": 50000, "quantity": 1}])
    )
    assert custom_only.status_code == 201, custom_only.text
    invoiced = await orders.post(f"/drafts/{custom_only.json()['id']}/invoice")
    assert (invoiced.status_code, invoiced.json()["code"]) == (409, "draft_not_ready")
    assert invoiced.json()["errors"][0]["field"] == "lines"

    unheld = (await orders.post("/drafts", json=_draft())).json()
    paid = await orders.post(f"/drafts/{unheld['id']}/mark-paid", json={"reference": "KB-1"})
    assert (paid.status_code, paid.json()["code"]) == (409, "draft_not_ready")

    bad = await orders.post(
        "/drafts", json=_draft(lines=[{"sku": "DRF-TEE", "quantity": 1, "unit_price": 5}])
    )
    assert bad.status_code == 422
    past = await orders.post("/drafts", json=_draft(reserve_until="2020-01-01T00:00:00Z"))
    assert (past.status_code, past.json()["errors"][0]["field"]) == (422, "reserve_until")


async def test_two_drafts_made_at_once_for_a_new_email_share_one_account(orders: httpx.AsyncClient) -> None:
    customer = {"email": "Same.Moment@example.com", "name": "Lee", "locale": "en"}
    answers = await asyncio.gather(
        *(orders.post("/drafts", json=_draft(customer=customer)) for _ in range(4))
    )
    assert [answer.status_code for answer in answers] == [201] * 4, [answer.text for answer in answers]
    assert len({answer.json()["customer"]["id"] for answer in answers}) == 1
