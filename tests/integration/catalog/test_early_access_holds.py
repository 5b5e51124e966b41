"""Catalog's hold at checkout for a pre-order with early access: the segment holds before the public window, and
a refusal says when the window opens to the public; against PostgreSQL through catalog's HTTP route."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.integration.catalog.test_preorders import Catalog, catalog

__all__ = ["catalog"]


async def test_a_hold_before_the_public_window_is_for_the_early_access_segment_only(catalog: Catalog) -> None:
    await catalog.product("EARLY-HOLD")
    now = datetime.now(UTC)
    public = (now + timedelta(days=2)).replace(microsecond=0)
    await catalog.policy(
        "EARLY-HOLD",
        cap=10,
        starts_at=public.isoformat(),
        early_access_segment="vip",
        early_access_starts_at=(now - timedelta(hours=1)).isoformat(),
    )

    def hold(*segments: str) -> dict[str, object]:
        return {
            "order_id": str(uuid.uuid4()),
            "lines": [{"sku": "EARLY-HOLD", "quantity": 1}],
            "customer_email": "kim@example.com",
            "customer_segments": list(segments),
        }

    refused = await catalog.client.post("/stock-holds", json=hold("newsletter"))
    assert refused.status_code == 409, refused.text
    [shortage] = refused.json()["errors"]
    assert (shortage["field"], shortage["reason"]) == ("lines[0].sku", "preorder_not_open")
    assert datetime.fromisoformat(shortage["opens_at"]) == public

    held = await catalog.client.post("/stock-holds", json=hold("newsletter", "vip"))
    assert held.status_code == 201, held.text
    [place] = held.json()["preorder_lines"]
    assert (place["sku"], place["queue_position"]) == ("EARLY-HOLD", 1)
