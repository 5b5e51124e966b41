"""Catalog's pre-orders against the real PostgreSQL and RabbitMQ: policies, the queue, inbounds, releases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aio_pika.abc import AbstractRobustConnection

from shop_catalog.bootstrap import DEFINITION
from shop_contracts import catalog as contracts
from shop_contracts.values import LocatedLine, RequestedLine
from shop_runtime.clock import set_file_clock_offset
from tests.support import infra
from tests.support.messages import MessageProbe, eventually, send
from tests.support.services import RunningService, running_service

pytestmark = pytest.mark.integration

LOCATION = "seoul-1"


class Catalog:
    """The catalog under test, with the clock file that moves its time."""

    def __init__(self, service: RunningService, broker: AbstractRobustConnection, clock_file: str) -> None:
        self.client = service.client
        self.broker = broker
        self.clock_file = clock_file

    def move_clock(self, offset: timedelta) -> None:
        set_file_clock_offset(self.clock_file, offset)

    async def product(self, sku: str, *, units: int = 0, krw: int = 100000, usd: int = 10000) -> str:
        created = await self.client.post(
            "/products",
            json={
                "title": f"Product {sku}",
                "variants": [
                    {
                        "sku": sku,
                        "prices": [{"currency": "KRW", "amount": krw}, {"currency": "USD", "amount": usd}],
                    }
                ],
            },
        )
        assert created.status_code == 201, created.text
        if units:
            await self.adjust(sku, units)
        return str(created.json()["id"])

    async def adjust(self, sku: str, delta: int) -> None:
        adjusted = await self.client.post(
            "/inventory/adjustments",
            json={"sku": sku, "location": LOCATION, "delta": delta, "reason": "counted"},
        )
        assert adjusted.status_code == 201, adjusted.text

    async def policy(self, sku: str, **fields: Any) -> dict[str, Any]:
        response = await self.client.put(
            f"/preorder-policies/{sku}", json={"payment_mode": "pay_now", **fields}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def reserve(
        self,
        order_id: str,
        *lines: tuple[str, int],
        email: str | None = None,
        segments: list[str] | None = None,
    ) -> None:
        await send(
            self.broker,
            contracts.ReserveStock(
                order_id=order_id,
                lines=[RequestedLine(sku=sku, quantity=quantity) for sku, quantity in lines],
                customer_email=email,
                customer_segments=segments or [],
            ),
            subject=order_id,
        )

    async def inbound(self, sku: str, quantity: int, expected_at: datetime) -> str:
        response = await self.client.post(
            "/inbounds",
            json={
                "sku": sku,
                "location": LOCATION,
                "quantity": quantity,
                "expected_at": expected_at.isoformat(),
            },
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def stock(self, sku: str) -> dict[str, Any]:
        [level] = (await self.client.get(f"/inventory/{sku}")).json()["locations"]
        return dict(level)


@pytest.fixture
async def catalog(broker: AbstractRobustConnection, tmp_path: Path) -> AsyncIterator[Catalog]:
    clock_file = str(tmp_path / "clock")
    settings = infra.service_settings(DEFINITION, test_clock_file=clock_file)
    async with running_service(DEFINITION, settings, broker) as service:
        yield Catalog(service, broker, clock_file)


async def outcome(probe: MessageProbe, order_id: str) -> contracts.StockReserved | contracts.StockRejected:
    """Whichever answer catalog gave the order."""

    async def answered() -> None:
        assert any(
            e.type in (contracts.StockReserved.TYPE, contracts.StockRejected.TYPE) and e.subject == order_id
            for e in probe.envelopes
        )

    await eventually(answered)
    for envelope in probe.envelopes:
        if envelope.subject == order_id and envelope.type == contracts.StockReserved.TYPE:
            return contracts.StockReserved.model_validate(envelope.data)
        if envelope.subject == order_id and envelope.type == contracts.StockRejected.TYPE:
            return contracts.StockRejected.model_validate(envelope.data)
    raise AssertionError("unreachable")


async def reserved(probe: MessageProbe, order_id: str) -> contracts.StockReserved:
    answer = await outcome(probe, order_id)
    assert isinstance(answer, contracts.StockReserved), answer
    return answer


async def rejected(probe: MessageProbe, order_id: str) -> contracts.StockRejected:
    answer = await outcome(probe, order_id)
    assert isinstance(answer, contracts.StockRejected), answer
    return answer


def now() -> datetime:
    return datetime.now(UTC)


async def test_a_policy_is_set_read_changed_and_ended_with_a_growing_version(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-P")
    first = await catalog.policy("DROP-P", payment_mode="deposit", deposit_percent=30, cap=100)
    assert (first["version"], first["policy"]["deposit_percent"]) == (1, 30)
    await catalog.policy("DROP-P", payment_mode="pay_later", cap=50)
    read = (await catalog.client.get("/preorder-policies/DROP-P")).json()
    assert (read["version"], read["policy"]["payment_mode"], read["policy"]["cap"]) == (2, "pay_later", 50)
    ended = await catalog.client.delete("/preorder-policies/DROP-P")
    assert ended.status_code == 200
    assert (await catalog.client.get("/preorder-policies/DROP-P")).status_code == 404
    assert (await catalog.client.delete("/preorder-policies/DROP-P")).status_code == 404

    async def three_versions() -> None:
        events = [m for m in probe.of_type(contracts.PreorderPolicyUpdated) if m.sku == "DROP-P"]
        assert [(m.version, m.policy.payment_mode if m.policy else None) for m in events] == [
            (1, "deposit"),
            (2, "pay_later"),
            (3, None),
        ]

    await eventually(three_versions)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payment_mode": "deposit"}, "deposit_percent"),
        ({"payment_mode": "pay_now", "colour": "red"}, "colour"),
        ({"payment_mode": "pay_now", "cap": 0}, "cap"),
        (
            {
                "payment_mode": "pay_now",
                "starts_at": "2030-02-01T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z",
            },
            "ends_at",
        ),
        (
            {
                "payment_mode": "pay_now",
                "expected_ship_date": "2030-05-01",
                "expected_ship_latest": "2030-04-01",
            },
            "expected_ship_latest",
        ),
        ({"payment_mode": "pay_now", "balance_due": "at"}, "balance_due_at"),
        ({"payment_mode": "pay_now", "balance_due": "after"}, "balance_due_after_hours"),
        (
            {
                "payment_mode": "pay_now",
                "starts_at": "2030-01-01T00:00:00Z",
                "early_bird_tiers": [
                    {"until_day": 7, "percent_off": 20},
                    {"until_day": 5, "percent_off": 10},
                ],
            },
            "early_bird_tiers[1].until_day",
        ),
    ],
)
async def test_an_invalid_policy_is_answered_with_a_problem_naming_the_field(
    catalog: Catalog, body: dict[str, Any], field: str
) -> None:
    await catalog.product("DROP-V")
    response = await catalog.client.put("/preorder-policies/DROP-V", json=body)
    assert response.status_code == 422, response.text
    assert field in {error["field"] for error in response.json()["errors"]}


async def test_a_policy_for_an_unknown_sku_is_not_found(catalog: Catalog) -> None:
    response = await catalog.client.put("/preorder-policies/NOPE", json={"payment_mode": "pay_now"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "sku"


async def test_preorders_queue_up_and_take_their_ship_date_from_expected_inbounds(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-Q")
    await catalog.policy("DROP-Q", expected_ship_date="2031-06-30")
    await catalog.inbound("DROP-Q", 2, datetime(2031, 3, 10, 9, tzinfo=UTC))
    await catalog.inbound("DROP-Q", 1, datetime(2031, 4, 20, 9, tzinfo=UTC))
    answers = []
    for index in range(1, 5):
        await catalog.reserve(f"q-{index}", ("DROP-Q", 1))
        answers.append(await reserved(probe, f"q-{index}"))
    lines = [answer.preorder_lines[0] for answer in answers]
    assert [line.queue_position for line in lines] == [1, 2, 3, 4]
    assert [line.expected_ship_date for line in lines] == [
        date(2031, 3, 10),
        date(2031, 3, 10),
        date(2031, 4, 20),
        date(2031, 6, 30),
    ]
    assert all(answer.lines == [] for answer in answers)
    listed = (await catalog.client.get("/preorders", params={"order_id": "q-3"})).json()["items"]
    assert [(i["queue_position"], i["status"], i["expected_ship_date"]) for i in listed] == [
        (3, "waiting", "2031-04-20")
    ]


async def test_the_window_rejects_before_it_opens_and_after_it_closes(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-W")
    start = now() + timedelta(days=1)
    await catalog.policy(
        "DROP-W", starts_at=start.isoformat(), ends_at=(start + timedelta(days=2)).isoformat()
    )
    await catalog.reserve("w-early", ("DROP-W", 1))
    assert (await rejected(probe, "w-early")).shortages[0].reason == "preorder_not_open"

    catalog.move_clock(timedelta(days=1, hours=1))
    await catalog.reserve("w-open", ("DROP-W", 1))
    assert (await reserved(probe, "w-open")).preorder_lines[0].queue_position == 1

    catalog.move_clock(timedelta(days=3, hours=1))
    await catalog.reserve("w-late", ("DROP-W", 1))
    assert (await rejected(probe, "w-late")).shortages[0].reason == "preorder_closed"


async def test_early_access_customers_order_before_the_public(catalog: Catalog, probe: MessageProbe) -> None:
    await catalog.product("DROP-E")
    await catalog.policy(
        "DROP-E",
        starts_at=(now() + timedelta(days=2)).isoformat(),
        early_access_segment="newsletter",
        early_access_starts_at=(now() - timedelta(hours=1)).isoformat(),
    )
    await catalog.reserve("e-public", ("DROP-E", 1))
    await catalog.reserve("e-insider", ("DROP-E", 1), segments=["newsletter"])
    assert (await rejected(probe, "e-public")).reason == "preorder_not_open"
    await reserved(probe, "e-insider")


async def test_ten_times_the_cap_racing_accepts_exactly_the_cap(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-C")
    await catalog.policy("DROP-C", cap=10)
    buyers = [f"c-{index}" for index in range(30)]
    await asyncio.gather(*(catalog.reserve(order_id, ("DROP-C", 1)) for order_id in buyers))
    answers = [await outcome(probe, order_id) for order_id in buyers]
    accepted = [a for a in answers if isinstance(a, contracts.StockReserved)]
    refused = [a for a in answers if isinstance(a, contracts.StockRejected)]
    assert len(accepted) == 10
    assert len(refused) == 20
    assert {r.shortages[0].reason for r in refused} == {"preorder_cap_reached"}
    assert sorted(a.preorder_lines[0].queue_position for a in accepted) == list(range(1, 11))


async def test_the_cap_holds_when_a_per_customer_limit_sends_orders_the_locking_way(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-L")
    await catalog.policy("DROP-L", cap=10, per_customer_limit=3)
    buyers = [f"l-{index}" for index in range(30)]
    await asyncio.gather(
        *(catalog.reserve(order_id, ("DROP-L", 1), email=f"{order_id}@example.com") for order_id in buyers)
    )
    answers = [await outcome(probe, order_id) for order_id in buyers]
    accepted = [a for a in answers if isinstance(a, contracts.StockReserved)]
    assert len(accepted) == 10
    assert sorted(a.preorder_lines[0].queue_position for a in accepted) == list(range(1, 11))


async def test_the_per_customer_limit_counts_earlier_orders_of_the_same_email(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-L")
    await catalog.policy("DROP-L", per_customer_limit=2)
    await catalog.reserve("l-1", ("DROP-L", 2), email="kim@example.com")
    await reserved(probe, "l-1")
    await catalog.reserve("l-2", ("DROP-L", 1), email="KIM@example.com")
    limit = await rejected(probe, "l-2")
    assert (limit.shortages[0].reason, limit.shortages[0].available) == ("per_customer_limit", 0)
    await catalog.reserve("l-3", ("DROP-L", 1), email="lee@example.com")
    await reserved(probe, "l-3")


async def test_a_mixed_order_reserves_the_in_stock_line_and_queues_the_preorder(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("TEE-X", units=3)
    await catalog.product("DROP-X")
    await catalog.policy("DROP-X", expected_ship_date="2031-01-15")
    await catalog.reserve("x-1", ("TEE-X", 1), ("DROP-X", 2))
    answer = await reserved(probe, "x-1")
    assert [(line.sku, line.location, line.quantity) for line in answer.lines] == [("TEE-X", LOCATION, 1)]
    assert [(p.sku, p.quantity, p.queue_position, p.expected_ship_date) for p in answer.preorder_lines] == [
        ("DROP-X", 2, 1, date(2031, 1, 15))
    ]
    assert (await catalog.stock("TEE-X"))["reserved"] == 1


async def test_a_short_receipt_allocates_in_queue_order_and_a_release_passes_units_on(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-R")
    await catalog.policy("DROP-R")
    inbound_id = await catalog.inbound("DROP-R", 6, now() + timedelta(days=10))
    for order_id in ("r-1", "r-2", "r-3"):
        await catalog.reserve(order_id, ("DROP-R", 2))
        await reserved(probe, order_id)

    receipt = await catalog.client.post(f"/inbounds/{inbound_id}/receive", json={"quantity": 5})
    assert receipt.status_code == 200, receipt.text
    assert receipt.json()["allocated_to_preorders"] == 5
    again = await catalog.client.post(f"/inbounds/{inbound_id}/receive", json={"quantity": 5})
    assert again.status_code == 409

    async def allocated_in_order() -> None:
        events = probe.of_type(contracts.PreorderAllocated)
        assert [(e.order_id, e.location, e.quantity, e.still_waiting) for e in events] == [
            ("r-1", LOCATION, 2, 0),
            ("r-2", LOCATION, 2, 0),
            ("r-3", LOCATION, 1, 1),
        ]

    await eventually(allocated_in_order)
    level = await catalog.stock("DROP-R")
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 5, 0)

    await send(catalog.broker, contracts.ReleaseStock(order_id="r-1", reason="cancelled"), subject="r-1")

    async def r3_served() -> None:
        events = [e for e in probe.of_type(contracts.PreorderAllocated) if e.order_id == "r-3"]
        assert [(e.quantity, e.still_waiting) for e in events] == [(1, 1), (1, 0)]

    await eventually(r3_served)
    await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "r-1")
    level = await catalog.stock("DROP-R")
    assert (level["on_hand"], level["reserved"], level["available"]) == (5, 4, 1)
    listed = (await catalog.client.get("/preorders", params={"order_id": "r-3"})).json()["items"]
    assert [(i["allocated"], i["status"]) for i in listed] == [(2, "allocated")]

    # The allocated units ship with today's commit, from the reservation the allocation made.
    await send(
        catalog.broker,
        contracts.CommitStock(
            order_id="r-3", lines=[LocatedLine(sku="DROP-R", location=LOCATION, quantity=2)]
        ),
        subject="r-3",
    )
    await probe.wait_for(contracts.StockCommitted, lambda m: m.order_id == "r-3" and len(m.lines) == 1)
    level = await catalog.stock("DROP-R")
    assert (level["on_hand"], level["reserved"]) == (3, 2)


async def test_counting_units_in_serves_waiting_preorders_first(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-A")
    await catalog.policy("DROP-A")
    await catalog.reserve("a-1", ("DROP-A", 2))
    await reserved(probe, "a-1")
    await catalog.adjust("DROP-A", 5)
    allocated = await probe.wait_for(contracts.PreorderAllocated, lambda m: m.order_id == "a-1")
    assert (allocated.quantity, allocated.still_waiting) == (2, 0)
    level = await catalog.stock("DROP-A")
    assert (level["reserved"], level["available"]) == (2, 3)


async def test_a_sold_out_variant_that_continues_selling_takes_preorders(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-S", units=1)
    await catalog.policy("DROP-S", continue_selling_when_sold_out=True, cap=5)
    await catalog.reserve("s-1", ("DROP-S", 1))
    assert [line.quantity for line in (await reserved(probe, "s-1")).lines] == [1]
    await catalog.reserve("s-2", ("DROP-S", 1))
    answer = await reserved(probe, "s-2")
    assert answer.lines == []
    assert [p.queue_position for p in answer.preorder_lines] == [1]


async def test_the_storefront_shows_units_left_the_early_bird_price_and_the_deposit(
    catalog: Catalog, probe: MessageProbe
) -> None:
    product_id = await catalog.product("DROP-F", krw=100000, usd=4999)
    starts_at = now() - timedelta(hours=1)
    await catalog.policy(
        "DROP-F",
        payment_mode="deposit",
        deposit_percent=30,
        cap=5,
        starts_at=starts_at.isoformat(),
        ends_at=(starts_at + timedelta(days=30)).isoformat(),
        expected_ship_date="2031-02-01",
        early_bird_tiers=[{"until_day": 7, "percent_off": 25}, {"percent_off": 5}],
    )
    await catalog.reserve("f-1", ("DROP-F", 2))
    await reserved(probe, "f-1")
    product = (await catalog.client.get(f"/products/{product_id}")).json()
    [variant] = product["variants"]
    preorder = variant["preorder"]
    assert variant["available"] == 0
    assert (preorder["active"], preorder["units_left"], preorder["payment_mode"]) == (True, 3, "deposit")
    assert preorder["expected_ship_date"] == "2031-02-01"
    krw, usd = preorder["prices"]
    assert (krw["currency"], krw["unit_price"], krw["percent_off"], krw["deposit"], krw["balance"]) == (
        "KRW",
        75000,
        25,
        22500,
        52500,
    )
    assert datetime.fromisoformat(krw["price_changes_at"]) == starts_at + timedelta(days=7)
    assert (usd["unit_price"], usd["deposit"], usd["balance"]) == (3749, 1125, 2624)

    catalog.move_clock(timedelta(days=8))
    later = (await catalog.client.get("/products")).json()["items"][0]["variants"][0]["preorder"]
    assert (later["prices"][0]["unit_price"], later["prices"][0]["price_changes_at"]) == (95000, None)


async def test_releasing_a_waiting_preorder_frees_its_place_under_the_cap(
    catalog: Catalog, probe: MessageProbe
) -> None:
    await catalog.product("DROP-Z")
    await catalog.policy("DROP-Z", cap=1)
    await catalog.reserve("z-1", ("DROP-Z", 1))
    await reserved(probe, "z-1")
    await catalog.reserve("z-2", ("DROP-Z", 1))
    assert (await rejected(probe, "z-2")).reason == "preorder_cap_reached"
    await send(catalog.broker, contracts.ReleaseStock(order_id="z-1", reason="cancelled"), subject="z-1")
    await probe.wait_for(contracts.StockReleased, lambda m: m.order_id == "z-1")
    await catalog.reserve("z-3", ("DROP-Z", 1))
    assert (await reserved(probe, "z-3")).preorder_lines[0].queue_position == 2
    listed = (await catalog.client.get("/preorders", params={"order_id": "z-1"})).json()["items"]
    assert [item["status"] for item in listed] == ["released"]
