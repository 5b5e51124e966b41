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

from shop_contracts import orders as order_contracts
from shop_orders.bootstrap import DEFINITION
from shop_orders.core.tables import catalog_variants, outbox, scheduled_jobs
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


async def test_an_order_on_terms_past_its_due_date_turns_overdue_and_the_customer_is_reminded(
    orders: httpx.AsyncClient,
) -> None:
    made = await orders.post(
        "/drafts",
        json=_draft(payment_terms={"type": "net", "net_days": 30}, customer=_customer("overdue@example.com")),
    )
    assert made.status_code == 201, made.text
    completed = await orders.post(f"/drafts/{made.json()['id']}/complete")
    assert completed.status_code == 200, completed.text
    order_id = completed.json()["order_id"]
    staff = {"X-Caller-Role": "staff"}
    order = (await orders.get(f"/orders/{order_id}", headers=staff)).json()
    due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    assert (order["payment_due"]["status"], order["payment_due"]["due_date"]) == ("awaiting_payment", due)

    # Thirty days pass: the job scheduled for the end of the due date is due now.
    settings = infra.service_settings(DEFINITION, suffix="_drafts")
    engine = create_engine(settings)
    async with engine.begin() as connection:
        moved = await connection.execute(
            sa.update(scheduled_jobs)
            .where(
                scheduled_jobs.c.key == f"order_payment_overdue:{order_id}",
                scheduled_jobs.c.done_at.is_(None),
            )
            .values(due_at=datetime.now(UTC))
        )
        assert moved.rowcount == 1

    async def overdue() -> None:
        seen = (await orders.get(f"/orders/{order_id}", headers=staff)).json()
        assert seen["payment_due"]["status"] == "overdue"
        assert "payment_overdue" in [entry["event"] for entry in seen["timeline"]]

    await eventually(overdue, timeout=15)
    async with engine.connect() as connection:
        bodies = await connection.scalars(
            sa.select(outbox.c.body).where(outbox.c.message_type == order_contracts.OrderPaymentOverdue.TYPE)
        )
        reminders = [body for body in bodies if order_id.encode() in body]
    await engine.dispose()
    assert len(reminders) == 1


def _customer(email: str) -> dict[str, str]:
    return {"email": email, "name": "Park", "locale": "en"}
