"""Orders against its real dispatcher and PostgreSQL: a shipment's reports give the same result in every
arrival order, twice or once, and at no moment does the order show something its facts do not back.

Each case places an order (2 units of one SKU at one location), confirms it through the real saga messages,
then delivers the fulfillment order's reports in one permutation, some of them twice under a new message id.
The customer acts the moment they see a state: once the order shows shipped or delivered, a return of what
shipped is accepted."""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from shop_contracts import Envelope, Message
from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts import payments as payment_contracts
from shop_contracts.money import Money
from shop_contracts.values import LocatedLine, PreorderLine, PreorderPolicy
from shop_orders import consumers
from shop_orders.bootstrap import DEFINITION
from shop_orders.cancellation import handlers as cancellation
from shop_orders.checkout import handlers as checkout
from shop_orders.checkout.holds import StockHolds
from shop_orders.core.domain import STOCK_LOST_REASON
from shop_orders.core.errors import ReturnRefused
from shop_orders.core.pricing import CheckoutLine
from shop_orders.core.tables import (
    order_lines,
    order_timeline,
    orders,
    outbox,
    refund_outcomes,
    shipment_groups,
)
from shop_orders.returns import handlers as returns
from shop_orders.settings import OrdersSettings
from shop_orders.variants import handlers as variants
from shop_runtime.clock import SystemClock
from shop_runtime.consumer import Dispatcher
from shop_runtime.database import Database
from shop_runtime.http import committed
from tests.support import infra

pytestmark = pytest.mark.integration

SKU = "ARR-TEE"
LOCATION = "seoul-1"
ADDRESS = {"name": "Kim", "line1": "1 Teheran-ro", "city": "Seoul", "postal_code": "06236", "country": "KR"}


@dataclass
class Shop:
    database: Database
    dispatcher: Dispatcher
    settings: OrdersSettings


@pytest.fixture(scope="module")
async def shop() -> AsyncIterator[Shop]:
    settings = infra.service_settings(DEFINITION, suffix="_arrival", balance_notice_hours=0)
    assert isinstance(settings, OrdersSettings)
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    dispatcher = Dispatcher(
        database,
        consumer="orders",
        subscriptions=consumers.subscriptions(clock=SystemClock(), settings=settings),
    )
    async with database.unit_of_work() as uow:
        await committed(
            uow,
            variants.upsert_catalog_variant(
                uow,
                sku=SKU,
                product_id="p-arr",
                variant_id="v-arr",
                title="Tee",
                options={},
                prices={"KRW": 30000},
                version=1,
            ),
        )
    yield Shop(database, dispatcher, settings)
    await database.dispose()


async def _send(shop: Shop, message: Message, order_id: str) -> None:
    await shop.dispatcher.dispatch(Envelope.wrap(message, subject=order_id, correlation_id=order_id))


class HeldAtCheckout:
    """Catalog's hold at checkout, as ``CatalogHolds`` reads its answer: every line held at ``LOCATION``."""

    async def hold(
        self,
        *,
        order_id: str,
        lines: Sequence[CheckoutLine],
        customer_email: str,
        customer_segments: Sequence[str],
        only_at_one_of: list[str] | None,
    ) -> catalog_contracts.StockReserved:
        return catalog_contracts.StockReserved(
            order_id=order_id,
            lines=[LocatedLine(sku=line.sku, quantity=line.quantity, location=LOCATION) for line in lines],
        )


async def _place(
    shop: Shop, sku: str, *, email: str, locale: str, quantity: int, holds: StockHolds | None = None
) -> str:
    """Place an order through orders' own use case, as its HTTP route does (``holds``: catalog's hold at
    checkout answered); its id."""
    key = str(uuid.uuid4())
    async with shop.database.unit_of_work() as uow:
        placed = await committed(
            uow,
            checkout.place_order(
                uow,
                checkout=checkout.Checkout(
                    idempotency_key=key,
                    email=email,
                    locale=locale,
                    currency="KRW",
                    lines=[CheckoutLine(sku, quantity)],
                    shipping_address=ADDRESS,
                    shipping_method="standard",
                    payment_token="tok_visa",
                    request={"key": key},
                ),
                shipping_rates=shop.settings.shipping_rates,
                now=datetime.now(UTC),
                taxes=shop.settings.tax_table(),
                holds=holds,
            ),
        )
    return placed.order_id


async def _confirmed_order(shop: Shop) -> tuple[str, str]:
    """A confirmed order of 2 units; its id and the id of its shipment group."""
    order_id = await _place(shop, SKU, email="arrival@example.com", locale="en", quantity=2)
    await _send(
        shop,
        catalog_contracts.StockReserved(
            order_id=order_id, lines=[LocatedLine(sku=SKU, quantity=2, location=LOCATION)]
        ),
        order_id,
    )
    async with shop.database.engine.connect() as connection:
        total = (
            await connection.execute(sa.select(orders.c.total).where(orders.c.id == order_id))
        ).scalar_one()
    await _send(
        shop,
        payment_contracts.PaymentSucceeded(
            order_id=order_id, payment_id=f"pay-{order_id}", step="full", amount=Money(total, "KRW")
        ),
        order_id,
    )
    (group_id,) = [
        m["group_id"] for m in await _published(shop, order_id, "fulfillment.fulfillment_order.create.v1")
    ]
    return order_id, group_id


async def _envelopes(shop: Shop, order_id: str) -> list[Envelope]:
    """What orders published about the order, in the order it wrote them."""
    async with shop.database.engine.connect() as connection:
        rows = await connection.execute(sa.select(outbox.c.body).order_by(outbox.c.id))
        envelopes = [Envelope.model_validate_json(body) for (body,) in rows]
    return [envelope for envelope in envelopes if envelope.correlation_id == order_id]


async def _published(shop: Shop, order_id: str, message_type: str) -> list[dict[str, Any]]:
    return [envelope.data for envelope in await _envelopes(shop, order_id) if envelope.type == message_type]


async def _published_types(shop: Shop, order_id: str) -> list[str]:
    return [envelope.type for envelope in await _envelopes(shop, order_id)]


async def _state(shop: Shop, order_id: str) -> tuple[str, Any]:
    async with shop.database.engine.connect() as connection:
        status = (
            await connection.execute(sa.select(orders.c.status).where(orders.c.id == order_id))
        ).scalar_one()
        group = (
            await connection.execute(sa.select(shipment_groups).where(shipment_groups.c.order_id == order_id))
        ).one()
    return status, group


async def _ask_for_return(shop: Shop, order_id: str, quantity: int) -> dict[str, Any]:
    async with shop.database.unit_of_work() as uow:
        return await committed(
            uow,
            returns.request_return(
                uow,
                order_id=order_id,
                lines=[(SKU, quantity)],
                reason="changed_mind",
                note=None,
                window_days=30,
                now=datetime.now(UTC),
            ),
        )


def _reports(
    order_id: str, group_id: str, fulfillment_id: str, *, picked: int = 2
) -> dict[str, fulfillment_contracts.FulfillmentEvent]:
    short = [LocatedLine(sku=SKU, quantity=2 - picked, location=LOCATION)] if picked < 2 else []
    shipped = [LocatedLine(sku=SKU, quantity=picked, location=LOCATION)]
    shipment = fulfillment_contracts.Shipment(
        location=LOCATION, lines=shipped, carrier="sandbox", tracking_number="SBX1", short_lines=short
    )
    common = {"order_id": order_id, "fulfillment_id": fulfillment_id, "group_id": group_id}
    return {
        "picked": fulfillment_contracts.FulfillmentPicked(**common, short_lines=short),
        "packed": fulfillment_contracts.FulfillmentPacked(**common),
        "shipped": fulfillment_contracts.ShipmentShipped(**common, **shipment.model_dump()),
        "delivered": fulfillment_contracts.ShipmentDelivered(**common, shipment=shipment),
    }


async def _deliver_in_order(
    shop: Shop,
    order_id: str,
    reports: dict[str, fulfillment_contracts.FulfillmentEvent],
    names: Sequence[str],
    *,
    ask: bool = True,
) -> list[str]:
    """Dispatch the reports named, in that order; whenever the order first shows shipped or delivered, ask
    for a return of one unit (it must be accepted). The statuses seen after each report."""
    seen = []
    asked = not ask
    for name in names:
        await _send(shop, reports[name], order_id)
        status, group = await _state(shop, order_id)
        seen.append(status)
        if status in ("shipped", "delivered", "partially_fulfilled"):
            assert group.shipped_at is not None, (
                f"order shows {status} with no shipment recorded after {names}"
            )
            if not asked:
                asked = True
                made = await _ask_for_return(shop, order_id, 1)
                assert made["status"] == "requested"
    return seen


PERMUTATIONS = list(itertools.permutations(["picked", "packed", "shipped", "delivered"]))


@pytest.mark.parametrize("names", PERMUTATIONS, ids=["-".join(p) for p in PERMUTATIONS])
async def test_a_shipments_reports_in_any_order_end_delivered_with_one_commit_and_one_email_each(
    shop: Shop, names: tuple[str, ...]
) -> None:
    order_id, group_id = await _confirmed_order(shop)
    fulfillment_id = str(uuid.uuid4())
    reports = _reports(order_id, group_id, fulfillment_id)
    # The fulfillment order's creation arrives last of all: the reports did not wait for it.
    await _deliver_in_order(shop, order_id, reports, [*names, "shipped", "delivered"])
    await _send(
        shop,
        fulfillment_contracts.FulfillmentOrderCreated(
            fulfillment_id=fulfillment_id,
            order_id=order_id,
            location=LOCATION,
            group_id=group_id,
        ),
        order_id,
    )

    status, group = await _state(shop, order_id)
    assert (status, group.status) == ("delivered", "delivered")
    commits = await _published(shop, order_id, "catalog.stock.commit.v1")
    assert [(c["shipment_id"], c["lines"]) for c in commits] == [
        (group_id, [{"sku": SKU, "quantity": 2, "location": LOCATION}])
    ]
    told = [t for t in await _published_types(shop, order_id) if t.startswith("orders.order.")]
    assert told.count("orders.order.shipped.v1") == 1
    assert told.count("orders.order.delivered.v1") == 1
    assert told.index("orders.order.shipped.v1") < told.index("orders.order.delivered.v1")
    # One unit was asked back as soon as the order showed it left; the other still may be.
    assert (await _ask_for_return(shop, order_id, 1))["status"] == "requested"


SHORT_CASES = list(itertools.permutations(["picked", "shipped", "delivered"]))


@pytest.mark.parametrize("names", SHORT_CASES, ids=["-".join(p) for p in SHORT_CASES])
async def test_a_short_pick_in_any_order_refunds_once_and_takes_every_unit_off_stock_once(
    shop: Shop, names: tuple[str, ...]
) -> None:
    order_id, group_id = await _confirmed_order(shop)
    fulfillment_id = str(uuid.uuid4())
    reports = _reports(order_id, group_id, fulfillment_id, picked=1)
    # Older producers' shipped and delivered did not carry the short lines or the shipment: both kinds come.
    legacy = {
        "shipped": reports["shipped"].model_copy(update={"short_lines": []}),
        "delivered": reports["delivered"].model_copy(update={"shipment": None}),
    }
    await _deliver_in_order(shop, order_id, {**reports, **legacy}, names)
    await _deliver_in_order(shop, order_id, reports, names, ask=False)  # again, each under a new message id

    status, group = await _state(shop, order_id)
    assert (status, group.status) == ("delivered", "delivered")
    assert group.lines == [{"sku": SKU, "quantity": 1, "location": LOCATION}]
    refunds = await _published(shop, order_id, payment_contracts.IssueRefund.TYPE)
    assert [r["idempotency_key"] for r in refunds] == [f"short:{fulfillment_id}"]
    committed = sum(
        line["quantity"]
        for c in await _published(shop, order_id, "catalog.stock.commit.v1")
        for line in c["lines"]
    )
    assert committed == 2
    with pytest.raises(ReturnRefused):
        await _ask_for_return(shop, order_id, 1)  # the one unit that shipped was asked back on sight


async def test_reports_repeated_at_random_under_new_ids_change_nothing_after_the_first(shop: Shop) -> None:
    chooser = random.Random(20261204)
    for _ in range(6):
        order_id, group_id = await _confirmed_order(shop)
        reports = _reports(order_id, group_id, str(uuid.uuid4()))
        names = [chooser.choice(list(reports)) for _ in range(10)] + list(reports)
        await _deliver_in_order(shop, order_id, reports, names)
        status, _ = await _state(shop, order_id)
        assert status == "delivered"
        assert len(await _published(shop, order_id, "catalog.stock.commit.v1")) == 1
        told = await _published_types(shop, order_id)
        assert told.count("orders.order.shipped.v1") == told.count("orders.order.delivered.v1") == 1


async def test_a_fulfillment_order_created_after_its_group_was_cancelled_does_not_revive_it(
    shop: Shop,
) -> None:
    order_id, group_id = await _confirmed_order(shop)
    fulfillment_id = str(uuid.uuid4())
    await _send(
        shop, fulfillment_contracts.FulfillmentCancelled(order_id=order_id, group_id=group_id), order_id
    )
    await _send(
        shop,
        fulfillment_contracts.FulfillmentOrderCreated(
            fulfillment_id=fulfillment_id, order_id=order_id, location=LOCATION, group_id=group_id
        ),
        order_id,
    )
    _, group = await _state(shop, order_id)
    assert group.status == "cancelled"


PRE_SKU = "ARR-PRE"


async def _confirmed_preorder(shop: Shop) -> tuple[str, int, int]:
    """A confirmed deposit pre-order of 1 unit, waiting for stock; its id, the deposit and the balance."""
    async with shop.database.unit_of_work() as uow:
        await committed(
            uow,
            variants.upsert_catalog_variant(
                uow,
                sku=PRE_SKU,
                product_id="p-pre",
                variant_id="v-pre",
                title="Drop",
                options={},
                prices={"KRW": 100000},
                version=1,
            ),
        )
    async with shop.database.unit_of_work() as uow:
        await committed(
            uow,
            variants.upsert_preorder_policy(
                uow,
                sku=PRE_SKU,
                policy=PreorderPolicy(payment_mode="deposit", deposit_percent=30, cap=1000),
                version=1,
            ),
        )
    order_id = await _place(shop, PRE_SKU, email="preorder@example.com", locale="ko", quantity=1)
    await _send(
        shop,
        catalog_contracts.StockReserved(
            order_id=order_id,
            lines=[],
            preorder_lines=[PreorderLine(sku=PRE_SKU, quantity=1, queue_position=1)],
        ),
        order_id,
    )
    (capture,) = await _published(shop, order_id, payment_contracts.CapturePayment.TYPE)
    await _send(
        shop,
        payment_contracts.PaymentSucceeded(
            order_id=order_id,
            payment_id=f"dep-{order_id}",
            step="full",
            amount=payment_contracts.CapturePayment.model_validate(capture).amount,
        ),
        order_id,
    )
    async with shop.database.engine.connect() as connection:
        order = (await connection.execute(sa.select(orders).where(orders.c.id == order_id))).one()
    assert order.status == "confirmed"
    return order_id, order.captured, order.total - order.captured


async def _cancel(shop: Shop, order_id: str) -> None:
    async with shop.database.unit_of_work() as uow:
        await committed(
            uow,
            cancellation.cancel_order(
                uow, order_id=order_id, reason="changed_mind", now=datetime.now(UTC), cancelled_by="customer"
            ),
        )


# Payments charges a balance only when orders asks, and orders asks only once the units are allocated: a
# balance charged before its allocation cannot happen, so those orders are not among these.
PREORDER_CASES = [
    ("allocated", "cancelled", "charged"),
    ("cancelled", "allocated"),
    ("allocated", "charged", "cancelled", "fulfillment_cancelled"),
]


@pytest.mark.parametrize("names", PREORDER_CASES, ids=["-".join(p) for p in PREORDER_CASES])
async def test_a_preorders_allocation_balance_and_cancellation_in_any_order_give_every_won_back_once(
    shop: Shop, names: tuple[str, ...]
) -> None:
    order_id, deposit, balance = await _confirmed_preorder(shop)
    group_id = str(uuid.uuid4())
    messages: dict[str, Message] = {
        "allocated": catalog_contracts.PreorderAllocated(
            order_id=order_id,
            allocation_id=group_id,
            sku=PRE_SKU,
            location=LOCATION,
            quantity=1,
            still_waiting=0,
        ),
        "charged": payment_contracts.BalanceCharged(
            order_id=order_id, group_id=group_id, payment_id=f"bal-{order_id}", amount=Money(balance, "KRW")
        ),
        "fulfillment_cancelled": fulfillment_contracts.FulfillmentCancelled(
            order_id=order_id, group_id=group_id
        ),
    }
    for name in names:
        for _ in range(2):  # each told twice, under two message ids
            if name == "cancelled":
                await _cancel(shop, order_id)
            else:
                await _send(shop, messages[name], order_id)

    async with shop.database.engine.connect() as connection:
        order = (await connection.execute(sa.select(orders).where(orders.c.id == order_id))).one()
    assert order.status == "cancelled"
    refunds = [
        payment_contracts.IssueRefund.model_validate(data)
        for data in await _published(shop, order_id, payment_contracts.IssueRefund.TYPE)
    ]
    keys = [refund.idempotency_key for refund in refunds]
    assert len(keys) == len(set(keys)), keys
    charged = deposit + (balance if "charged" in names else 0)
    assert order.captured == charged
    # a changed mind gets a refundable deposit back
    assert Money.total((refund.amount for refund in refunds), currency="KRW") == Money(charged, "KRW")
    if names.index("cancelled") < names.index("allocated"):
        assert await _published(shop, order_id, payment_contracts.ChargeBalance.TYPE) == []
    released_before_cancel = "charged" in names and names.index("charged") < names.index("cancelled")
    creates = await _published(shop, order_id, "fulfillment.fulfillment_order.create.v1")
    assert len(creates) == (1 if released_before_cancel else 0)


async def test_a_refunds_outcome_told_twice_or_after_a_rejection_counts_once(shop: Shop) -> None:
    order_id, _ = await _confirmed_order(shop)
    key = f"short:{order_id}"
    issued = payment_contracts.RefundIssued(
        order_id=order_id,
        amount=Money(5000, "KRW"),
        voided=Money(0, "KRW"),
        idempotency_key=key,
        refund_id="re-1",
        reason="short_pick",
    )
    # Told in the version before money on the wire, as one still queued when payments moved on would be.
    rejected = payment_contracts.RefundRejectedV1(
        order_id=order_id,
        amount=5000,
        currency="KRW",
        idempotency_key=key,
        reason="short_pick",
        error="psp_unavailable: later",
    )
    for message in (rejected, issued, issued, rejected):
        await _send(shop, message, order_id)
    async with shop.database.engine.connect() as connection:
        outcomes = (
            await connection.execute(
                sa.select(refund_outcomes.c.outcome, refund_outcomes.c.amount).where(
                    refund_outcomes.c.order_id == order_id
                )
            )
        ).all()
        logged = (
            await connection.execute(
                sa.select(order_timeline.c.event).where(
                    order_timeline.c.order_id == order_id, order_timeline.c.event.like("refund%")
                )
            )
        ).scalars()
        assert outcomes == [("refunded", 5000)]
        assert list(logged) == ["refund_rejected", "refunded"]


@pytest.mark.parametrize("versions", [(1, 2), (2, 1)], ids=["in-order", "late-first-change"])
async def test_a_preorders_date_changes_in_any_order_end_on_the_newest_date(
    shop: Shop, versions: tuple[int, int]
) -> None:
    order_id, _, _ = await _confirmed_preorder(shop)
    dates = {0: None, 1: date(2027, 2, 1), 2: date(2027, 3, 1)}
    for version in versions:
        for _ in range(2):  # each told twice, under two message ids
            change = catalog_contracts.PreorderEtaChanged(
                order_id=order_id,
                sku=PRE_SKU,
                previous_date=dates[version - 1],
                expected_ship_date=dates[version],
                reason="inbound_changed",
                version=version,
            )
            await _send(shop, change, order_id)
    async with shop.database.engine.connect() as connection:
        line = (
            await connection.execute(sa.select(order_lines).where(order_lines.c.order_id == order_id))
        ).one()
    assert line.expected_ship_date == dates[2]
    told = [
        m["expected_ship_date"] for m in await _published(shop, order_id, "orders.preorder.date_changed.v1")
    ]
    assert told == (["2027-02-01", "2027-03-01"] if versions == (1, 2) else ["2027-03-01"])


# An order placed with a hold at checkout asks catalog only to claim the hold and payments for the capture at once.
# Catalog answers only when the claim fails (the hold expired first: orders' relay or catalog down for longer than
# the hold), and an old catalog still answers a claimed hold as reserved: whatever order those answers and the
# payment's arrive in, each twice, no money is kept for units that are not there, and no order is charged twice.
HELD_CASES = [
    ("paid",),
    ("reserved", "paid"),
    ("paid", "reserved"),
    ("rejected", "paid"),
    ("paid", "rejected", "fulfillment_cancelled"),
    ("rejected", "failed"),
    ("failed", "rejected"),
]


@pytest.mark.parametrize("names", HELD_CASES, ids=["-".join(p) for p in HELD_CASES])
async def test_an_order_held_at_checkout_ends_the_same_whatever_order_its_claim_and_payment_are_answered_in(
    shop: Shop, names: tuple[str, ...]
) -> None:
    order_id = await _place(
        shop, SKU, email="held@example.com", locale="en", quantity=2, holds=HeldAtCheckout()
    )
    [reserve] = await _published(shop, order_id, catalog_contracts.ReserveStock.TYPE)
    assert reserve["claim_hold"]
    [capture] = await _published(shop, order_id, payment_contracts.CapturePayment.TYPE)
    amount = payment_contracts.CapturePayment.model_validate(capture).amount
    group_id = None
    for name in names:
        for _ in range(2):  # each told twice, under two message ids
            if name == "fulfillment_cancelled":
                assert group_id is not None
                message: Message = fulfillment_contracts.FulfillmentCancelled(
                    order_id=order_id, group_id=group_id
                )
            else:
                message = {
                    "reserved": catalog_contracts.StockReserved(
                        order_id=order_id, lines=[LocatedLine(sku=SKU, quantity=2, location=LOCATION)]
                    ),
                    "rejected": catalog_contracts.StockRejected(
                        order_id=order_id,
                        reason="hold_expired",
                        shortages=[
                            catalog_contracts.Shortage(
                                sku=SKU, requested=2, available=0, reason="hold_expired"
                            )
                        ],
                    ),
                    "paid": payment_contracts.PaymentSucceeded(
                        order_id=order_id, payment_id=f"pay-{order_id}", step="full", amount=amount
                    ),
                    "failed": payment_contracts.PaymentFailed(
                        order_id=order_id,
                        payment_id=f"pay-{order_id}",
                        step="full",
                        amount=amount,
                        decline_code="card_declined",
                        message="declined",
                    ),
                }[name]
            await _send(shop, message, order_id)
        creates = await _published(shop, order_id, "fulfillment.fulfillment_order.create.v1")
        if creates:
            [create] = creates
            group_id = create["group_id"]

    async with shop.database.engine.connect() as connection:
        order = (await connection.execute(sa.select(orders).where(orders.c.id == order_id))).one()
    types = await _published_types(shop, order_id)
    refunds = [
        payment_contracts.IssueRefund.model_validate(data)
        for data in await _published(shop, order_id, payment_contracts.IssueRefund.TYPE)
    ]
    paid = "paid" in names
    expected = {
        ("paid",): "confirmed",
        ("reserved", "paid"): "confirmed",
        ("paid", "reserved"): "confirmed",
        ("rejected", "paid"): "rejected",
        ("paid", "rejected", "fulfillment_cancelled"): "cancelled",
    }.get(names, "rejected")
    assert order.status == expected
    assert types.count(payment_contracts.CapturePayment.TYPE) == 1  # asked once, at checkout
    assert order.captured == (amount.amount if paid else 0)
    kept = amount.amount if expected == "confirmed" else 0
    assert Money.total((refund.amount for refund in refunds), currency="KRW") == Money(
        order.captured - kept, "KRW"
    )
    assert len({refund.idempotency_key for refund in refunds}) == len(refunds)
    confirmed = paid and ("rejected" not in names or names.index("paid") < names.index("rejected"))
    assert types.count(contracts.OrderConfirmed.TYPE) == (1 if confirmed else 0)
    assert types.count(contracts.OrderRejected.TYPE) == (1 if expected == "rejected" else 0)
    assert types.count(contracts.OrderCancelled.TYPE) == (1 if expected == "cancelled" else 0)
    if expected == "cancelled":  # the units catalog gave back are not asked for again
        assert [
            m["reason"] for m in await _published(shop, order_id, catalog_contracts.ReleaseStock.TYPE)
        ] == [STOCK_LOST_REASON]
