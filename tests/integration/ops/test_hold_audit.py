"""The audit's card-hold checks against a real, freshly migrated payments database: a hold captured beyond what
it authorised is a violation, an order whose lapsed hold could not be charged off session is shown waiting."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from shop_ops.cli import run
from shop_payments import tables as payments
from tests.integration.ops import rows
from tests.integration.ops.conftest import ServiceDatabases

pytestmark = pytest.mark.integration


def _payment(
    order_id: str, kind: str, amount: int, *, step: str, status: str = "succeeded", **extra: Any
) -> tuple[uuid.UUID, sa.Insert]:
    payment_id = uuid.uuid4()
    return payment_id, sa.insert(payments.payments).values(
        id=payment_id,
        order_id=order_id,
        step=step,
        amount=amount,
        currency="KRW",
        status=status,
        psp_reference=f"psp-{payment_id}",
        decline_code=None if status == "succeeded" else "card_declined",
        kind=kind,
        created_at=rows.ago(minutes=30),
        **extra,
    )


async def test_holds_captured_beyond_authorised_and_unpaid_replacements_are_reported(
    databases: ServiceDatabases,
) -> None:
    over, over_row = _payment("o-over-held", "authorization", 39000, step="full")
    capture, capture_row = _payment(
        "o-over-held", "capture", 45000, step="capture:g-1", authorization_id=over
    )
    lapsed, lapsed_row = _payment("o-lapsed", "authorization", 39000, step="full")
    _, failed_row = _payment(
        "o-lapsed", "replacement", 39000, step="replacement", status="failed", authorization_id=lapsed
    )
    await databases.execute(
        "payments",
        over_row,
        capture_row,
        rows.ledger("o-over-held", over, "authorization", 39000),
        rows.ledger("o-over-held", capture, "capture", 45000),
        lapsed_row,
        failed_row,
        rows.ledger("o-lapsed", lapsed, "authorization", 39000),
        rows.ledger("o-lapsed", lapsed, "expiry", 39000),
    )
    out = io.StringIO()
    code = await run(["audit"], settings=databases.settings(), stdout=out)
    output = out.getvalue()
    assert code == 1, output
    assert (
        f"VIOLATION money.holds_within_authorised: hold captured 45000 + voided 0 + expired 0 exceed authorised "
        f"39000 [order=o-over-held authorization={over}]" in output
    )
    assert (
        "WAITING   money.holds_paid: hold lapsed and the off-session charge of 39000 KRW failed (card_declined)"
        in output
    )
    assert "o-lapsed" in output
