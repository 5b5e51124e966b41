"""Placing an order through checkout's real handler with a fake repository and unit of work: the order as
stored, the saga's first messages, a retried checkout, a discount code, and the refusals a storefront sees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.values import LocatedLine, PreorderLine, PreorderPolicy
from shop_orders.checkout import handlers as checkout
from shop_orders.checkout.holds import Shortage
from shop_orders.core.domain import Availability, CatalogVariant, GroupStatus, OrderStatus
from shop_orders.core.errors import (
    IdempotencyKeyReused,
    NotSellable,
    PreorderWindowClosed,
    PurchaseLimitReached,
    SameDayNotOffered,
    SoldOut,
    UnknownSku,
)
from shop_orders.core.jobs import CheckPromise
from shop_orders.core.pricing import CheckoutLine, CodeTerms, checkout_fingerprint
from shop_orders.core.repository import CheckoutFacts, KnownCheckout
from tests.support.fakes import FakeJobs, FakeUnitOfWork
from tests.unit.orders.fakes import ADDRESS, KRW, NOW, FakeOrders

RATES = {"standard": {"KRW": 3000}}


def shop(**variants: CatalogVariant) -> FakeOrders:
    orders = FakeOrders()
    orders.catalog = {
        "TEE-M": CatalogVariant(sku="TEE-M", title="Tee", prices={"KRW": 15000}),
        "CAP": CatalogVariant(sku="CAP", title="Cap", prices={"KRW": 8000}),
        **variants,
    }
    return orders


def a_checkout(key: str = "key-1", **changes: Any) -> checkout.Checkout:
    lines = [CheckoutLine(sku="TEE-M", quantity=2), CheckoutLine(sku="CAP", quantity=1)]
    values: dict[str, Any] = {
        "idempotency_key": key,
        "email": "minsu@example.com",
        "locale": "ko",
        "currency": "KRW",
        "lines": lines,
        "shipping_address": ADDRESS,
        "shipping_method": "standard",
        "payment_token": "tok_visa",
        "request": {"lines": [["TEE-M", 2], ["CAP", 1]]},
    }
    return checkout.Checkout(**values | changes)


async def place(
    orders: FakeOrders, request: checkout.Checkout
) -> tuple[checkout.PlacedOrder, FakeUnitOfWork]:
    uow = FakeUnitOfWork()
    placed = await checkout.place_order(uow, checkout=request, shipping_rates=RATES, now=NOW, orders=orders)
    return placed, uow


async def test_a_checkout_stores_a_pending_order_and_asks_catalog_for_the_stock() -> None:
    orders = shop()

    placed, uow = await place(orders, a_checkout())

    assert (placed.status, placed.created) == (OrderStatus.PENDING, True)
    order = orders.stored[placed.order_id]
    assert (order.subtotal, order.shipping, order.total, order.email) == (
        KRW(38000),
        KRW(3000),
        KRW(41000),
        "minsu@example.com",
    )
    assert [(line.position, line.sku, line.line_total) for line in order.lines] == [
        (0, "TEE-M", KRW(30000)),
        (1, "CAP", KRW(8000)),
    ]
    assert [type(m) for m in uow.published] == [contracts.OrderPlaced, catalog_contracts.ReserveStock]
    [reserve] = uow.of_type(catalog_contracts.ReserveStock)
    assert [(line.sku, line.quantity) for line in reserve.lines] == [("TEE-M", 2), ("CAP", 1)]
    assert orders.events_of(placed.order_id) == ["placed"]


async def test_a_retried_checkout_answers_the_order_it_placed_and_sends_nothing() -> None:
    orders = shop()
    first, _ = await place(orders, a_checkout())

    again, uow = await place(orders, a_checkout())

    assert (again.order_id, again.created) == (first.order_id, False)
    assert uow.published == []
    assert len(orders.stored) == 1


async def test_a_key_used_for_another_cart_is_refused() -> None:
    orders = shop()
    await place(orders, a_checkout())

    with pytest.raises(IdempotencyKeyReused) as refused:
        await place(orders, a_checkout(request={"lines": [["CAP", 5]]}))

    assert refused.value.field == "header:Idempotency-Key"


async def test_a_discount_code_is_redeemed_for_the_new_order_and_comes_off_the_total() -> None:
    orders = shop()
    orders.codes = {"BACK-1": CodeTerms(percent_off=10)}

    placed, _ = await place(orders, a_checkout(discount_code="BACK-1"))

    assert orders.redeemed == [("BACK-1", placed.order_id)]
    order = orders.stored[placed.order_id]
    assert (order.discount, order.total, order.discount_code) == (KRW(3800), KRW(41000 - 3800), "BACK-1")


@pytest.mark.parametrize(
    ("catalog", "refusal"),
    [
        ({"CAP": None}, UnknownSku),
        ({"CAP": CatalogVariant(sku="CAP", title="Cap", prices={"KRW": 8000}, sellable=False)}, NotSellable),
    ],
)
async def test_a_line_catalog_does_not_sell_is_refused_naming_it_and_nothing_is_stored(
    catalog: dict[str, CatalogVariant | None], refusal: type[Exception]
) -> None:
    orders = shop()
    for sku, variant in catalog.items():
        if variant is None:
            del orders.catalog[sku]
        else:
            orders.catalog[sku] = variant

    with pytest.raises(refusal) as refused:
        await place(orders, a_checkout())

    assert getattr(refused.value, "field", None) == "lines[1].sku"
    assert orders.stored == {}


class FakeHolds:
    """Catalog's holds: ``short`` maps a SKU to the reason catalog refuses it; every other line is held, at
    seoul-1, or as a place in its pre-order queue (third, shipping on ``EXPECTED``) for the SKUs in ``queued``,
    and answered as catalog's ``POST /stock-holds`` answers (``unanswered``: as when catalog did not answer)."""

    def __init__(
        self,
        short: dict[str, str] | None = None,
        opens_at: datetime | None = None,
        *,
        queued: frozenset[str] = frozenset(),
        unanswered: bool = False,
    ) -> None:
        self.short = short or {}
        self.opens_at = opens_at
        self.queued = queued
        self.unanswered = unanswered
        self.held: list[tuple[str, list[tuple[str, int]], list[str] | None]] = []
        self.segments: list[list[str]] = []

    async def hold(
        self,
        *,
        order_id: str,
        lines: Sequence[CheckoutLine],
        customer_email: str,
        customer_segments: Sequence[str],
        only_at_one_of: list[str] | None,
    ) -> catalog_contracts.StockReserved | list[Shortage] | None:
        self.segments.append(list(customer_segments))
        shortages = [
            Shortage(
                field=f"lines[{index}].sku",
                sku=line.sku,
                reason=self.short[line.sku],
                requested=1,
                available=0,
                opens_at=self.opens_at,
            )
            for index, line in enumerate(lines)
            if line.sku in self.short
        ]
        if shortages:
            return shortages
        self.held.append((order_id, [(line.sku, line.quantity) for line in lines], only_at_one_of))
        if self.unanswered:
            return None
        return catalog_contracts.StockReserved(
            order_id=order_id,
            lines=[
                LocatedLine(sku=line.sku, quantity=line.quantity, location="seoul-1")
                for line in lines
                if line.sku not in self.queued
            ],
            preorder_lines=[
                PreorderLine(
                    sku=line.sku, quantity=line.quantity, queue_position=3, expected_ship_date=EXPECTED
                )
                for line in lines
                if line.sku in self.queued
            ],
        )


EXPECTED = datetime(2027, 2, 10, tzinfo=UTC).date()


async def place_holding(
    orders: FakeOrders, request: checkout.Checkout, holds: FakeHolds, jobs: FakeJobs | None = None
) -> tuple[checkout.PlacedOrder, FakeUnitOfWork]:
    uow = FakeUnitOfWork(jobs)
    placed = await checkout.place_order(
        uow, checkout=request, shipping_rates=RATES, now=NOW, orders=orders, holds=holds
    )
    return placed, uow


async def test_a_placed_order_had_its_units_held_under_its_own_id_first() -> None:
    orders, holds = shop(), FakeHolds()

    placed, uow = await place_holding(orders, a_checkout(), holds)

    assert holds.held == [(placed.order_id, [("TEE-M", 2), ("CAP", 1)], None)]
    [reserve] = uow.of_type(catalog_contracts.ReserveStock)  # the saga's reserve claims the hold
    assert reserve.order_id == placed.order_id


async def test_a_held_checkout_is_stored_reserved_and_asks_for_the_capture_and_the_holds_claim_at_once() -> (
    None
):
    orders, holds = shop(), FakeHolds()

    placed, uow = await place_holding(orders, a_checkout(), holds)

    assert placed.status == OrderStatus.RESERVED
    assert [type(m) for m in uow.published] == [
        contracts.OrderPlaced,
        catalog_contracts.ReserveStock,
        payment_contracts.CapturePayment,
    ]
    [reserve] = uow.of_type(catalog_contracts.ReserveStock)
    assert reserve.claim_hold  # catalog answers only if it cannot claim the hold
    [capture] = uow.of_type(payment_contracts.CapturePayment)
    assert (capture.order_id, capture.amount, capture.payment_token) == (
        placed.order_id,
        KRW(41000),
        "tok_visa",
    )
    order = orders.stored[placed.order_id]
    assert order.status is OrderStatus.RESERVED
    assert order.charged_now == KRW(41000)
    [group] = order.groups
    assert (group.location, group.status) == ("seoul-1", GroupStatus.RESERVED)
    assert group.lines == [
        {"sku": "TEE-M", "quantity": 2, "location": "seoul-1"},
        {"sku": "CAP", "quantity": 1, "location": "seoul-1"},
    ]
    assert orders.events_of(placed.order_id) == ["placed", "stock_reserved"]


async def test_a_pre_order_held_at_checkout_gets_its_place_its_deposit_and_its_promise_check() -> None:
    policy = PreorderPolicy(
        payment_mode="deposit", deposit_percent=20, balance_due="on_ready", expected_ship_date=EXPECTED
    )
    orders = shop(CAP=CatalogVariant(sku="CAP", title="Cap", prices={"KRW": 8000}, preorder_policy=policy))
    jobs = FakeJobs()

    placed, uow = await place_holding(orders, a_checkout(), FakeHolds(queued=frozenset({"CAP"})), jobs)

    order = orders.stored[placed.order_id]
    cap = order.line("CAP")
    assert (cap.kind, cap.queue_position, cap.expected_ship_date) == ("preorder", 3, EXPECTED)
    assert (cap.paid_now, cap.balance) == (KRW(1600), KRW(6400))
    [capture] = uow.of_type(payment_contracts.CapturePayment)
    assert capture.amount == KRW(30000 + 1600 + 3000)
    assert capture.balance_later
    assert [job.sku for job, _ in jobs.due(CheckPromise)] == ["CAP"]


async def test_a_checkout_catalog_did_not_answer_is_stored_pending_and_left_to_the_sagas_reserve() -> None:
    orders, holds = shop(), FakeHolds(unanswered=True)

    placed, uow = await place_holding(orders, a_checkout(), holds)

    assert placed.status == OrderStatus.PENDING
    assert [type(m) for m in uow.published] == [contracts.OrderPlaced, catalog_contracts.ReserveStock]
    [reserve] = uow.of_type(catalog_contracts.ReserveStock)
    assert not reserve.claim_hold
    assert orders.stored[placed.order_id].groups == []


async def test_a_retry_that_overtakes_the_first_attempt_holds_under_the_same_order_id() -> None:
    """The storefront gave up waiting and sent the key again while the first attempt was still being stored:
    both hold under one id, so catalog answers the second what it held for the first instead of holding the
    units twice (the second hold of an id it has seen is ``order_known``: the saga's reserve claims the first)."""
    first_orders, retry_orders = shop(), shop()  # neither sees the other's order: it is not stored yet
    first_holds, retry_holds = FakeHolds(), FakeHolds()

    first, _ = await place_holding(first_orders, a_checkout("key-9"), first_holds)
    retry, _ = await place_holding(retry_orders, a_checkout("key-9"), retry_holds)

    assert first.order_id == retry.order_id
    assert [held[0] for held in first_holds.held + retry_holds.held] == [first.order_id, first.order_id]
    # Another body under the same key is another order: it never claims the first's hold.
    other, _ = await place_holding(shop(), a_checkout("key-9", request={"lines": [["CAP", 3]]}), FakeHolds())
    assert other.order_id != first.order_id
    assert (await place_holding(shop(), a_checkout("key-10"), FakeHolds()))[0].order_id != first.order_id


@pytest.mark.parametrize(
    ("reason", "refused_as", "field"),
    [
        ("out_of_stock", SoldOut, "lines[1].sku"),
        ("preorder_cap_reached", SoldOut, "lines[1].sku"),
        ("per_customer_limit", PurchaseLimitReached, "lines[1].sku"),
        ("preorder_not_open", PreorderWindowClosed, "lines[1].sku"),
        ("variant_retired", NotSellable, "lines[1].sku"),
        ("not_at_same_day_location", SameDayNotOffered, "shipping_method"),
    ],
)
async def test_a_line_catalog_cannot_hold_refuses_the_checkout_and_stores_nothing(
    reason: str, refused_as: type[Exception], field: str
) -> None:
    orders, holds = shop(), FakeHolds(short={"CAP": reason})

    with pytest.raises(refused_as) as refused:
        await place_holding(orders, a_checkout(), holds)

    assert getattr(refused.value, "field", None) == field
    assert orders.stored == {}
    assert holds.held == []


async def test_a_signed_in_customer_s_segments_go_to_catalog_s_hold_and_to_the_saga_s_reserve() -> None:
    orders, holds = shop(), FakeHolds()

    _, uow = await place_holding(
        orders, a_checkout(customer_id="customer-1", customer_segments=("beta", "vip")), holds
    )

    assert holds.segments == [["beta", "vip"]]
    [reserve] = uow.of_type(catalog_contracts.ReserveStock)
    assert reserve.customer_segments == ["beta", "vip"]


async def test_a_guest_checks_out_in_no_segment() -> None:
    orders, holds = shop(), FakeHolds()

    _, uow = await place_holding(orders, a_checkout(), holds)

    assert holds.segments == [[]]
    [reserve] = uow.of_type(catalog_contracts.ReserveStock)
    assert reserve.customer_segments == []


async def test_a_pre_order_not_open_yet_says_when_it_opens_to_the_public() -> None:
    opens = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    orders, holds = shop(), FakeHolds(short={"CAP": "preorder_not_open"}, opens_at=opens)

    with pytest.raises(PreorderWindowClosed) as refused:
        await place_holding(orders, a_checkout(), holds)

    assert refused.value.field == "lines[1].sku"
    assert refused.value.details == {"opens_at": "2027-03-01T09:00:00Z"}
    assert "opens to the public at 2027-03-01T09:00:00Z" in str(refused.value)
    assert orders.stored == {}


class ReadsOutside:
    """What checkout reads before it decides, as the HTTP route reads it: outside the unit of work."""

    def __init__(self, facts: CheckoutFacts) -> None:
        self.facts = facts
        self.asked: list[tuple[str, list[str]]] = []

    async def checkout_facts(self, idempotency_key: str, skus: list[str]) -> CheckoutFacts:
        self.asked.append((idempotency_key, skus))
        return self.facts


class NoStorage:
    """Orders that must not be used: a checkout decided from its reads alone writes nothing."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the checkout used orders.{name}")


async def test_a_checkout_refused_from_orders_copy_read_outside_the_transaction_touches_no_storage() -> None:
    gone = CatalogVariant(
        sku="CAP",
        title="Cap",
        prices={"KRW": 8000},
        availability=Availability(in_stock_units=0, preorder_units_left=None, policy_version=None),
    )
    reads = ReadsOutside(CheckoutFacts(known=None, variants={**shop().catalog, "CAP": gone}))
    holds = FakeHolds()

    with pytest.raises(SoldOut):
        await checkout.place_order(
            FakeUnitOfWork(),
            checkout=a_checkout(),
            shipping_rates=RATES,
            now=NOW,
            orders=cast(Any, NoStorage()),
            holds=holds,
            reads=reads,
        )

    assert reads.asked == [("key-1", ["TEE-M", "CAP"])]
    assert holds.held == []


async def test_a_retry_read_outside_the_transaction_answers_the_order_it_placed_and_touches_no_storage() -> (
    None
):
    request = a_checkout()
    fingerprinted = KnownCheckout(
        order_id="order-1", status="pending", request_fingerprint=checkout_fingerprint(request.request)
    )
    holds = FakeHolds()

    placed = await checkout.place_order(
        FakeUnitOfWork(),
        checkout=request,
        shipping_rates=RATES,
        now=NOW,
        orders=cast(Any, NoStorage()),
        holds=holds,
        reads=ReadsOutside(CheckoutFacts(known=fingerprinted, variants={})),
    )

    assert placed == checkout.PlacedOrder(order_id="order-1", status="pending", created=False)
    assert holds.held == []
