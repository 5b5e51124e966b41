"""Catalog's pure pre-order rules: which lines are pre-orders, cap and limit, queue allocation, ship dates."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from shop_catalog.domain.errors import InvalidPreorderPolicy
from shop_catalog.domain.policies import check_preorder_policy
from shop_catalog.domain.preorders import (
    ExpectedInbound,
    PreorderTerms,
    QueuedPreorder,
    allocate_in_queue_order,
    expected_ship_dates,
    plan_order,
)
from shop_catalog.domain.stock import RequestedLine, StockLevel
from shop_contracts.values import EarlyBirdTier, PreorderPolicy

SKU = "DROP-1"


def terms(
    *,
    window: str = "open",
    continue_selling: bool = False,
    cap: int | None = None,
    accepted: int = 0,
    limit: int | None = None,
    accepted_for_customer: int = 0,
) -> PreorderTerms:
    return PreorderTerms(
        window=window,
        continue_selling_when_sold_out=continue_selling,
        cap=cap,
        accepted=accepted,
        per_customer_limit=limit,
        accepted_for_customer=accepted_for_customer,
    )


def stock(on_hand: int, *, sku: str = SKU, location: str = "seoul", reserved: int = 0) -> StockLevel:
    return StockLevel(sku=sku, location=location, on_hand=on_hand, reserved=reserved)


def queued(position: int, quantity: int, *, allocated: int = 0) -> QueuedPreorder:
    return QueuedPreorder(
        id=uuid.uuid4(),
        order_id=f"order-{position}",
        sku=SKU,
        quantity=quantity,
        allocated=allocated,
        queue_position=position,
    )


class TestPlanOrder:
    def test_an_open_window_makes_the_line_a_preorder(self) -> None:
        plan = plan_order([RequestedLine(SKU, 2)], [], {SKU: terms()})
        assert plan.preorders == [RequestedLine(SKU, 2)]
        assert plan.in_stock == []
        assert plan.shortages == []

    @pytest.mark.parametrize("window", ["not_open", "closed"])
    def test_a_window_not_open_or_closed_rejects_the_line(self, window: str) -> None:
        plan = plan_order([RequestedLine(SKU, 1)], [stock(5)], {SKU: terms(window=window)})
        assert [s.reason for s in plan.shortages] == [f"preorder_{window}"]

    def test_the_cap_counts_units_already_accepted(self) -> None:
        plan = plan_order([RequestedLine(SKU, 3)], [], {SKU: terms(cap=10, accepted=8)})
        [shortage] = plan.shortages
        assert (shortage.reason, shortage.available) == ("preorder_cap_reached", 2)
        assert plan_order([RequestedLine(SKU, 2)], [], {SKU: terms(cap=10, accepted=8)}).preorders

    def test_the_per_customer_limit_counts_the_customers_earlier_preorders(self) -> None:
        plan = plan_order([RequestedLine(SKU, 2)], [], {SKU: terms(limit=2, accepted_for_customer=1)})
        [shortage] = plan.shortages
        assert (shortage.reason, shortage.available) == ("per_customer_limit", 1)

    def test_continue_selling_sells_from_stock_while_it_lasts_then_takes_preorders(self) -> None:
        selling = terms(window="closed", continue_selling=True)
        in_stock = plan_order([RequestedLine(SKU, 2)], [stock(2)], {SKU: selling})
        assert [line.quantity for line in in_stock.in_stock] == [2]
        assert in_stock.preorders == []
        sold_out = plan_order([RequestedLine(SKU, 3)], [stock(2)], {SKU: selling})
        assert sold_out.preorders == [RequestedLine(SKU, 3)]
        assert sold_out.in_stock == []

    def test_a_mixed_order_reserves_stock_and_accepts_the_preorder(self) -> None:
        plan = plan_order(
            [RequestedLine("TEE", 1), RequestedLine(SKU, 1)], [stock(4, sku="TEE")], {SKU: terms()}
        )
        assert [line.sku for line in plan.in_stock] == ["TEE"]
        assert plan.preorders == [RequestedLine(SKU, 1)]

    def test_any_shortage_rejects_every_line(self) -> None:
        plan = plan_order(
            [RequestedLine("TEE", 5), RequestedLine(SKU, 1)], [stock(4, sku="TEE")], {SKU: terms()}
        )
        assert plan.in_stock == []
        assert plan.preorders == []
        assert [(s.sku, s.reason) for s in plan.shortages] == [("TEE", "out_of_stock")]


class TestAllocateInQueueOrder:
    def test_a_short_receipt_serves_the_queue_in_order_and_the_last_one_partly(self) -> None:
        queue = [queued(3, 2), queued(1, 2), queued(2, 2)]
        level = stock(5)
        allocations = allocate_in_queue_order(queue, [level])
        assert [(a.order_id, a.quantity, a.still_waiting) for a in allocations] == [
            ("order-1", 2, 0),
            ("order-2", 2, 0),
            ("order-3", 1, 1),
        ]
        assert level.reserved == 5
        assert [p.allocated for p in sorted(queue, key=lambda p: p.queue_position)] == [2, 2, 1]

    def test_a_partly_allocated_preorder_gets_only_what_it_still_waits_for(self) -> None:
        queue = [queued(1, 3, allocated=2), queued(2, 1)]
        allocations = allocate_in_queue_order(queue, [stock(10)])
        assert [(a.order_id, a.quantity) for a in allocations] == [("order-1", 1), ("order-2", 1)]

    def test_units_left_over_stay_available(self) -> None:
        level = stock(10, reserved=3)
        allocate_in_queue_order([queued(1, 2)], [level])
        assert (level.reserved, level.available) == (5, 5)

    def test_nothing_available_allocates_nothing(self) -> None:
        assert allocate_in_queue_order([queued(1, 2)], [stock(2, reserved=2)]) == []


class TestExpectedShipDates:
    def test_each_preorder_gets_the_date_of_the_inbound_that_covers_its_place(self) -> None:
        first, second, third = queued(1, 2), queued(2, 2), queued(3, 2)
        inbounds = [
            ExpectedInbound(quantity=3, expected_at=datetime(2030, 3, 1, tzinfo=UTC)),
            ExpectedInbound(quantity=2, expected_at=datetime(2030, 2, 1, tzinfo=UTC)),
        ]
        dates = expected_ship_dates([first, second, third], inbounds, date(2030, 6, 1))
        assert dates == {
            first.id: date(2030, 2, 1),
            second.id: date(2030, 3, 1),
            third.id: date(2030, 6, 1),
        }

    def test_allocated_units_are_no_longer_demand(self) -> None:
        served, waiting = queued(1, 5, allocated=5), queued(2, 1)
        inbounds = [ExpectedInbound(quantity=1, expected_at=datetime(2030, 2, 1, tzinfo=UTC))]
        assert expected_ship_dates([served, waiting], inbounds, None) == {waiting.id: date(2030, 2, 1)}

    def test_without_inbounds_the_policy_date_or_none(self) -> None:
        preorder = queued(1, 1)
        assert expected_ship_dates([preorder], [], None) == {preorder.id: None}


def policy(**fields: object) -> PreorderPolicy:
    return PreorderPolicy.model_validate({"payment_mode": "pay_now", **fields})


class TestCheckPreorderPolicy:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"payment_mode": "deposit"}, "deposit_percent"),
            (
                {"payment_mode": "deposit", "deposit_percent": 20, "deposit_amounts": {"KRW": 1}},
                "deposit_percent",
            ),
            ({"deposit_percent": 20}, "deposit_percent"),
            (
                {"starts_at": datetime(2030, 2, 1, tzinfo=UTC), "ends_at": datetime(2030, 1, 1, tzinfo=UTC)},
                "ends_at",
            ),
            (
                {"expected_ship_date": date(2030, 5, 1), "expected_ship_latest": date(2030, 4, 1)},
                "expected_ship_latest",
            ),
            ({"balance_due": "at"}, "balance_due_at"),
            ({"balance_due": "after"}, "balance_due_after_hours"),
            (
                {
                    "starts_at": datetime(2030, 1, 1, tzinfo=UTC),
                    "early_bird_tiers": [
                        EarlyBirdTier(until_day=7, percent_off=25),
                        EarlyBirdTier(until_day=3, percent_off=15),
                    ],
                },
                "early_bird_tiers[1].until_day",
            ),
            (
                {
                    "starts_at": datetime(2030, 1, 1, tzinfo=UTC),
                    "early_bird_tiers": [
                        EarlyBirdTier(percent_off=25),
                        EarlyBirdTier(until_day=3, percent_off=15),
                    ],
                },
                "early_bird_tiers[0].until_day",
            ),
        ],
    )
    def test_contradicting_fields_are_refused_naming_the_field(
        self, fields: dict[str, object], field: str
    ) -> None:
        with pytest.raises(InvalidPreorderPolicy) as refused:
            check_preorder_policy(policy(**fields))
        assert refused.value.field == field

    def test_a_consistent_policy_passes(self) -> None:
        check_preorder_policy(
            policy(
                payment_mode="deposit",
                deposit_amounts={"KRW": 10000},
                starts_at=datetime(2030, 1, 1, tzinfo=UTC),
                ends_at=datetime(2030, 2, 1, tzinfo=UTC),
                balance_due="after",
                balance_due_after_hours=48,
                early_bird_tiers=[EarlyBirdTier(until_day=7, percent_off=25), EarlyBirdTier(percent_off=5)],
            )
        )
