"""Read-only views of the catalog: products with variants, prices, availability and pre-order terms for
the storefront; pre-order policies, queues and inbounds for staff."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from shop_catalog.domain.errors import NoPreorderPolicy, UnknownProduct, UnknownSku
from shop_catalog.domain.preorders import Acceptance, QueuedPreorder, expected_ship_dates, sold_out_at
from shop_catalog.domain.products import PRICE_CHANGE_KIND
from shop_catalog.domain.stock import StockLevel
from shop_catalog.domain.waitlist import WaitlistEntry
from shop_catalog.repository import preorders as preorder_records
from shop_catalog.repository import products as product_records
from shop_catalog.repository import waitlist as waitlist_records
from shop_catalog.tables import (
    inbounds,
    preorder_policies,
    preorders,
    prices,
    product_views,
    products,
    scheduled_jobs,
    stock_levels,
    variants,
    waitlist_entries,
)
from shop_contracts.values import PreorderPolicy
from shop_runtime.preorder_pricing import (
    campaign_id,
    discounted_unit_price,
    early_bird,
    split_line,
    window_state,
)


async def list_products(
    session: AsyncSession, *, limit: int, offset: int, now: datetime, staff: bool = False
) -> list[dict[str, Any]]:
    """A page of products, oldest first: the storefront's leaves out archived products (and retired variants);
    staff's has them all, with their status."""
    query = (
        sa.select(products.c.id).order_by(products.c.created_at, products.c.id).limit(limit).offset(offset)
    )
    if not staff:
        query = query.where(products.c.archived_at.is_(None))
    rows = await session.execute(query)
    return await _products(session, list(rows.scalars()), now=now, staff=staff)


async def get_product(
    session: AsyncSession, product_id: uuid.UUID, *, now: datetime, staff: bool = False
) -> dict[str, Any]:
    """A product as the storefront sees it (an archived one is not found), or as staff do."""
    found = await _products(session, [product_id], now=now, staff=staff)
    if not found:
        raise UnknownProduct(f"no product {product_id}", field="product_id")
    return found[0]


async def _products(
    session: AsyncSession, ids: list[uuid.UUID], *, now: datetime, staff: bool = False
) -> list[dict[str, Any]]:
    if not ids:
        return []
    available = (
        sa.select(
            stock_levels.c.sku,
            sa.func.sum(
                sa.func.greatest(
                    stock_levels.c.on_hand - stock_levels.c.reserved - stock_levels.c.safety_stock, 0
                )
            ).label("available"),
        )
        .group_by(stock_levels.c.sku)
        .subquery()
    )
    product_query = sa.select(products).where(products.c.id.in_(ids))
    variant_query = (
        sa.select(variants, sa.func.coalesce(available.c.available, 0).label("available"))
        .outerjoin(available, available.c.sku == variants.c.sku)
        .where(variants.c.product_id.in_(ids))
        .order_by(variants.c.position)
    )
    if not staff:
        product_query = product_query.where(products.c.archived_at.is_(None))
        variant_query = variant_query.where(variants.c.retired_at.is_(None))
    product_rows = (await session.execute(product_query)).all()
    archived = {product.id for product in product_rows if product.archived_at is not None}
    variant_rows = (await session.execute(variant_query)).all()
    price_rows = (
        await session.execute(
            sa.select(prices)
            .where(prices.c.variant_id.in_([row.id for row in variant_rows]))
            .order_by(prices.c.currency)
        )
    ).all()
    prices_by_variant: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for price in price_rows:
        prices_by_variant.setdefault(price.variant_id, []).append(
            {"currency": price.currency, "amount": price.amount}
        )
    preorder_terms = await _preorder_terms(session, [row.sku for row in variant_rows], now=now)
    variants_by_product: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for variant in variant_rows:
        variant_prices = prices_by_variant.get(variant.id, [])
        terms = preorder_terms.get(variant.sku)
        sellable = variant.retired_at is None and variant.product_id not in archived
        units = int(variant.available) if sellable else 0
        view = {
            "id": variant.id,
            "sku": variant.sku,
            "options": variant.options,
            "prices": variant_prices,
            "available": units,
            "preorder": None
            if terms is None
            else terms.view(now=now, available=units, prices=variant_prices),
        }
        if staff:
            view |= {
                "status": "active" if variant.retired_at is None else "retired",
                "retired_at": variant.retired_at,
                "sellable": sellable,
                "version": variant.version,
            }
        variants_by_product.setdefault(variant.product_id, []).append(view)
    order = {product_id: index for index, product_id in enumerate(ids)}
    return sorted(
        (
            {
                "id": product.id,
                "title": product.title,
                "description": product.description,
                "variants": variants_by_product.get(product.id, []),
                **(
                    {
                        "status": "active" if product.archived_at is None else "archived",
                        "archived_at": product.archived_at,
                        "updated_at": product.updated_at,
                    }
                    if staff
                    else {}
                ),
            }
            for product in product_rows
        ),
        key=lambda product: order[product["id"]],
    )


async def stock_at_locations(session: AsyncSession, sku: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        sa.select(stock_levels).where(stock_levels.c.sku == sku).order_by(stock_levels.c.location)
    )
    return [
        {
            "location": row.location,
            "on_hand": row.on_hand,
            "reserved": row.reserved,
            "safety_stock": row.safety_stock,
            "available": max(row.on_hand - row.reserved - row.safety_stock, 0),
        }
        for row in rows
    ]


async def stock_for_staff(session: AsyncSession, sku: str) -> dict[str, Any]:
    """A SKU's stock per location as staff read it: on hand, reserved, kept back (safety), available, and the
    units expected there (inbounds not yet received). Available is nothing while the SKU may not be sold."""
    sellability = (await product_records.sellability(session, [sku])).get(sku)
    if sellability is None:
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
    levels = await session.execute(
        sa.select(stock_levels).where(stock_levels.c.sku == sku).order_by(stock_levels.c.location)
    )
    incoming = await session.execute(
        sa.select(inbounds)
        .where(inbounds.c.sku == sku, inbounds.c.received_at.is_(None))
        .order_by(inbounds.c.expected_at, inbounds.c.created_at)
    )
    expected_by_location: dict[str, list[dict[str, Any]]] = {}
    for row in incoming:
        expected_by_location.setdefault(row.location, []).append(
            {"id": row.id, "quantity": row.quantity, "expected_at": row.expected_at}
        )
    found: dict[str, dict[str, Any]] = {}
    for level in levels:
        counted = StockLevel(
            sku=sku,
            location=level.location,
            on_hand=level.on_hand,
            reserved=level.reserved,
            safety_stock=level.safety_stock,
        )
        found[level.location] = {
            "location": level.location,
            "on_hand": counted.on_hand,
            "reserved": counted.reserved,
            "safety_stock": counted.safety_stock,
            "available": counted.available if sellability.sellable else 0,
        }
    for location in expected_by_location:  # stock on its way to a location that holds none yet
        found.setdefault(
            location,
            {"location": location, "on_hand": 0, "reserved": 0, "safety_stock": 0, "available": 0},
        )
    locations = [
        {
            **found[location],
            "incoming": sum(item["quantity"] for item in expected_by_location.get(location, [])),
            "inbounds": expected_by_location.get(location, []),
        }
        for location in sorted(found)
    ]
    totals = {
        name: sum(location[name] for location in locations)
        for name in ("on_hand", "reserved", "safety_stock", "available", "incoming")
    }
    return {"sku": sku, "sellable": sellability.sellable, "totals": totals, "locations": locations}


async def scheduled_price_changes(session: AsyncSession, sku: str) -> list[dict[str, Any]]:
    """A SKU's price changes waiting for their time, soonest first."""
    if not await product_records.existing_skus(session, [sku]):
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
    rows = await session.execute(
        sa.select(scheduled_jobs.c.payload, scheduled_jobs.c.due_at)
        .where(
            scheduled_jobs.c.kind == PRICE_CHANGE_KIND,
            scheduled_jobs.c.done_at.is_(None),
            scheduled_jobs.c.payload["sku"].astext == sku,
        )
        .order_by(scheduled_jobs.c.due_at, scheduled_jobs.c.id)
    )
    return [
        {
            "id": row.payload["change_id"],
            "sku": sku,
            "prices": [
                {"currency": currency, "amount": amount}
                for currency, amount in sorted(row.payload["prices"].items())
            ],
            "effective_at": row.due_at,
            "status": "scheduled",
        }
        for row in rows
    ]


@dataclass(frozen=True)
class _PreorderTerms:
    """A variant's pre-order policy with its queue, as the storefront needs it."""

    policy: PreorderPolicy
    accepted: int
    next_ship_date: date | None
    """Where one more unit ordered now would stand in the queue, the date it should ship."""

    def view(self, *, now: datetime, available: int, prices: list[dict[str, Any]]) -> dict[str, Any]:
        policy = self.policy
        window = window_state(policy, now)
        # The same rule as reserving one unit: continue-selling variants are on pre-order once sold out.
        active = available < 1 if policy.continue_selling_when_sold_out else window == "open"
        tier = early_bird(policy, now)
        fields = policy.model_dump(
            mode="json",
            include={
                "payment_mode",
                "deposit_percent",
                "deposit_amounts",
                "cap",
                "per_customer_limit",
                "starts_at",
                "ends_at",
                "expected_ship_date",
                "expected_ship_latest",
                "balance_due",
                "balance_due_at",
                "balance_due_after_hours",
                "deposit_refundable",
                "continue_selling_when_sold_out",
                "early_access_segment",
                "early_access_starts_at",
            },
        )
        unit_prices = []
        for price in prices:
            unit_price = discounted_unit_price(price["amount"], tier.percent_off)
            split = split_line(policy, line_total=unit_price, quantity=1, currency=price["currency"])
            unit_prices.append(
                {
                    "currency": price["currency"],
                    "list_price": price["amount"],
                    "unit_price": unit_price,
                    "percent_off": tier.percent_off,
                    "price_changes_at": tier.changes_at,
                    "deposit": split.now,
                    "balance": split.later,
                }
            )
        return {
            **fields,
            "active": active,
            "window": window,
            "accepted": self.accepted,
            "units_left": None if policy.cap is None else max(policy.cap - self.accepted, 0),
            "next_expected_ship_date": self.next_ship_date,
            "prices": unit_prices,
        }


async def _preorder_terms(
    session: AsyncSession, skus: list[str], *, now: datetime
) -> dict[str, _PreorderTerms]:
    if not skus:
        return {}
    rows = await session.execute(
        sa.select(preorder_policies).where(
            preorder_policies.c.sku.in_(skus), preorder_policies.c.ended_at.is_(None)
        )
    )
    policies = {row.sku: preorder_records.policy_from_row(row) for row in rows}
    if not policies:
        return {}
    accepted = await preorder_records.accepted_units(session, policies)
    queue = await preorder_records.waiting_preorders(session, policies)
    supply = await preorder_records.expected_inbounds(session, policies)
    terms: dict[str, _PreorderTerms] = {}
    for sku, policy in policies.items():
        waiting = [preorder for preorder in queue if preorder.sku == sku]
        # Where one more unit ordered now would stand: behind everyone waiting.
        newcomer = QueuedPreorder(
            id=uuid.uuid4(),
            order_id="",
            sku=sku,
            quantity=1,
            allocated=0,
            queue_position=max((preorder.queue_position for preorder in waiting), default=0) + 1,
        )
        dates = expected_ship_dates([*waiting, newcomer], supply.get(sku, []), policy.expected_ship_date)
        terms[sku] = _PreorderTerms(policy, accepted=accepted.get(sku, 0), next_ship_date=dates[newcomer.id])
    return terms


async def preorder_policy(session: AsyncSession, sku: str) -> dict[str, Any]:
    record = await preorder_records.preorder_policy(session, sku)
    if record is None or record.policy is None:
        if not await product_records.existing_skus(session, [sku]):
            raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
        raise NoPreorderPolicy(f"{sku!r} is not on pre-order", field="sku")
    return {"sku": sku, "version": record.version, "policy": record.policy.model_dump(mode="json")}


async def order_preorders(session: AsyncSession, order_id: str) -> list[dict[str, Any]]:
    """An order's pre-orders with their places in the queues and expected ship dates, and, while a place
    waits, how many pre-orders are still waiting ahead of it and for how many units: the live queue, which moves
    as places ahead are allocated, cancelled or released (the queue position is the ticket given at checkout)."""
    rows = (
        await session.execute(
            sa.select(preorders).where(preorders.c.order_id == order_id).order_by(preorders.c.sku)
        )
    ).all()
    skus = sorted({row.sku for row in rows})
    waiting = (
        await session.execute(
            sa.select(
                preorders.c.sku, preorders.c.queue_position, preorders.c.quantity, preorders.c.allocated
            )
            .where(preorders.c.sku.in_(skus), preorders.c.status == "waiting")
            .order_by(preorders.c.sku, preorders.c.queue_position)
        )
    ).all()
    policy_rows = await session.execute(
        sa.select(preorder_policies).where(
            preorder_policies.c.sku.in_(skus), preorder_policies.c.ended_at.is_(None)
        )
    )
    policies = {row.sku: preorder_records.policy_from_row(row) for row in policy_rows}
    dates = await preorder_records.ship_dates(session, skus, policies)
    return [
        {
            "sku": row.sku,
            "quantity": row.quantity,
            "allocated": row.allocated,
            "queue_position": row.queue_position,
            "status": row.status,
            "expected_ship_date": dates.get(row.id),
            "created_at": row.created_at,
            **_ahead_of(row, waiting),
        }
        for row in rows
    ]


def _ahead_of(place: Any, waiting: Sequence[Any]) -> dict[str, int | None]:
    """Pre-orders still waiting ahead of ``place`` in its SKU's queue, and their units not yet allocated; None
    for a place that no longer waits."""
    if place.status != "waiting":
        return {"ahead_of_you": None, "units_ahead": None}
    ahead = [
        other for other in waiting if other.sku == place.sku and other.queue_position < place.queue_position
    ]
    return {
        "ahead_of_you": len(ahead),
        "units_ahead": sum(other.quantity - other.allocated for other in ahead),
    }


async def list_inbounds(session: AsyncSession, sku: str | None) -> list[dict[str, Any]]:
    query = sa.select(inbounds).order_by(inbounds.c.expected_at, inbounds.c.created_at)
    if sku is not None:
        query = query.where(inbounds.c.sku == sku)
    return [inbound_view(row) for row in await session.execute(query)]


def inbound_view(row: sa.Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "sku": row.sku,
        "location": row.location,
        "quantity": row.quantity,
        "expected_at": row.expected_at,
        "received_quantity": row.received_quantity,
        "received_at": row.received_at,
        "status": "expected" if row.received_at is None else "received",
    }


async def waitlist_of(
    session: AsyncSession, sku: str, *, limit: int, offset: int
) -> tuple[int, list[WaitlistEntry]]:
    """How many wait for a SKU, and a page of them, oldest first."""
    if not await product_records.existing_skus(session, [sku]):
        raise UnknownSku(f"no variant has SKU {sku!r}", field="sku")
    count = (
        await session.execute(
            sa.select(sa.func.count()).select_from(waitlist_entries).where(waitlist_entries.c.sku == sku)
        )
    ).scalar_one()
    rows = await session.execute(
        sa.select(waitlist_entries)
        .where(waitlist_entries.c.sku == sku)
        .order_by(waitlist_entries.c.created_at, waitlist_entries.c.id)
        .limit(limit)
        .offset(offset)
    )
    return int(count), [waitlist_records.waitlist_entry_from_row(row) for row in rows]


async def preorder_campaigns(
    session: AsyncSession, *, sku: str | None, campaign: str | None
) -> list[dict[str, Any]]:
    """Catalog's part of the pre-order metrics, per campaign (a SKU's current or last pre-order window):
    storefront views of the variant in the window, units accepted and released, and how fast a capped
    campaign sold out (from the window's start, or the first acceptance when it has none, to the cap)."""
    query = sa.select(preorder_policies).order_by(preorder_policies.c.sku)
    if sku is not None:
        query = query.where(preorder_policies.c.sku == sku)
    found = []
    for row in await session.execute(query):
        policy = preorder_records.policy_from_row(row)
        name = campaign_id(row.sku, policy)
        if campaign is not None and name != campaign:
            continue
        in_window = [preorders.c.sku == row.sku]
        seen_in_window = [product_views.c.sku == row.sku]
        if policy.starts_at is not None:
            in_window.append(preorders.c.created_at >= policy.starts_at)
            seen_in_window.append(product_views.c.viewed_at >= policy.starts_at)
        if policy.ends_at is not None:
            in_window.append(preorders.c.created_at < policy.ends_at)
            seen_in_window.append(product_views.c.viewed_at < policy.ends_at)
        views = (
            await session.execute(
                sa.select(sa.func.count()).select_from(product_views).where(*seen_in_window)
            )
        ).scalar_one()
        taken = [
            Acceptance(
                at=item.created_at,
                quantity=item.quantity,
                released_at=item.updated_at if item.status == "released" else None,
            )
            for item in await session.execute(
                sa.select(
                    preorders.c.created_at, preorders.c.updated_at, preorders.c.quantity, preorders.c.status
                ).where(*in_window)
            )
        ]
        accepted = [item for item in taken if item.released_at is None]
        released = sum(item.quantity for item in taken if item.released_at is not None)
        sold_out = sold_out_at(policy.cap, taken)
        started = policy.starts_at or min((item.at for item in taken), default=None)
        found.append(
            {
                "campaign": name,
                "sku": row.sku,
                "starts_at": policy.starts_at,
                "ends_at": policy.ends_at,
                "ended": row.ended_at is not None,
                "cap": policy.cap,
                "views": int(views),
                "units_accepted": sum(item.quantity for item in accepted),
                "units_released": int(released),
                "sold_out_at": sold_out,
                "sell_out_seconds": (
                    (sold_out - started).total_seconds()
                    if sold_out is not None and started is not None
                    else None
                ),
            }
        )
    return found
