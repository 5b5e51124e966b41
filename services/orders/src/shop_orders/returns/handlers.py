"""Returns (RMA) and exchanges: request, approve or reject, the label, receipt and refund, the replacement's stock."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts import catalog as catalog_contracts
from shop_contracts import orders as contracts
from shop_contracts.values import Address, LocatedLine, RequestedLine
from shop_orders.core import repository
from shop_orders.core.domain import GroupStatus
from shop_orders.core.errors import ReturnNotInStatus, ReturnRefused, UnknownReturn
from shop_orders.core.groups import store
from shop_orders.core.order import Order
from shop_orders.core.tables import catalog_variants, orders, returns, shipment_groups
from shop_orders.returns.domain import (
    ReturnedUnits,
    check_exchange,
    check_return_lines,
    exchange_difference,
    refund_for_return,
    return_window_closes,
)
from shop_runtime.database import UnitOfWork


@dataclass(frozen=True)
class ReturnFees:
    """The fee settings a refund is computed with."""

    return_shipping_fee: dict[str, int]
    restocking_fee_percent: int


async def request_return(
    uow: UnitOfWork,
    *,
    order_id: str,
    lines: list[tuple[str, int]],
    reason: str,
    note: str | None,
    window_days: int,
    now: datetime,
    exchange_for: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Record a customer's request for ``lines`` (sku, quantity) back, checked against what shipped within
    the window and what other returns already take back. ``exchange_for`` (sku -> replacement SKU) asks for
    another variant of the same product instead of a refund, at the replacement's price now."""
    order = await repository.lock_order(uow.session, order_id)
    returnable, where = await _returnable(uow, order, window_days=window_days, now=now)
    if not returnable:
        raise ReturnRefused("nothing in this order shipped within the return window", field="order_id")
    check_return_lines(lines, returnable)
    prices = {line.sku: line for line in order.lines}
    exchanges = []
    if exchange_for:
        wanted = list(exchange_for.values())
        variants = await repository.variants_by_sku(uow.session, wanted)
        found = await uow.session.execute(
            sa.select(catalog_variants.c.sku, catalog_variants.c.product_id).where(
                catalog_variants.c.sku.in_([*wanted, *exchange_for])
            )
        )
        products = {str(row.sku): str(row.product_id) for row in found}
        for index, (sku, quantity) in enumerate(lines):
            replacement_sku = exchange_for.get(sku)
            if replacement_sku is None:
                continue
            price = check_exchange(
                index=index,
                sku=sku,
                replacement=variants.get(replacement_sku),
                replacement_sku=replacement_sku,
                products=products,
                currency=order.currency,
            )
            exchanges.append(
                {
                    "sku": sku,
                    "quantity": quantity,
                    "replacement_sku": replacement_sku,
                    "replacement_title": variants[replacement_sku].title,
                    "replacement_unit_price": price,
                }
            )
    return_id = str(uuid.uuid4())
    values = {
        "id": return_id,
        "order_id": order_id,
        "status": "requested",
        "reason": reason,
        "note": note,
        "lines": [
            {
                "sku": sku,
                "title": prices[sku].title,
                "quantity": quantity,
                "location": where[sku],
                "unit_price": prices[sku].unit_price.amount,
            }
            for sku, quantity in lines
        ],
        "history": [_step("requested", now)],
        "exchanges": exchanges or None,
        "exchange": {"status": "requested"} if exchanges else None,
        "requested_at": now,
        "updated_at": now,
    }
    await uow.session.execute(sa.insert(returns).values(**values))
    order.record("return_requested", return_id=return_id, reason=reason)
    await store(uow, order)
    view = _view(await _lock(uow.session, return_id), order.currency)
    return view


async def approve_return(uow: UnitOfWork, *, return_id: str, now: datetime) -> dict[str, Any]:
    """Staff approve: fulfillment is told to make the label; approving again answers the same."""
    row = await _lock(uow.session, return_id)
    order = await repository.lock_order(uow.session, row.order_id)
    if row.status == "requested":
        await _move(uow.session, row, "approved", now)
        order.record("return_approved", return_id=return_id)
        order.send(
            contracts.ReturnApproved(
                return_id=return_id,
                order_id=row.order_id,
                customer=order.customer,
                lines=[
                    LocatedLine(sku=line["sku"], quantity=line["quantity"], location=line["location"])
                    for line in row.lines
                ],
                pickup_address=Address.model_validate(order.shipping_address),
            )
        )
    elif row.status == "rejected":
        raise ReturnNotInStatus("this return was rejected", field="return_id")
    await store(uow, order)
    view = _view(await _lock(uow.session, return_id), order.currency)
    return view


async def reject_return(uow: UnitOfWork, *, return_id: str, reason: str, now: datetime) -> dict[str, Any]:
    """Staff reject a requested return, saying why; the customer is told. Rejecting again answers the same."""
    row = await _lock(uow.session, return_id)
    order = await repository.lock_order(uow.session, row.order_id)
    if row.status == "requested":
        await _move(uow.session, row, "rejected", now, rejection_reason=reason)
        order.record("return_rejected", return_id=return_id, reason=reason)
        order.send(
            contracts.ReturnRejected(
                return_id=return_id, order_id=row.order_id, customer=order.customer, reason=reason
            )
        )
    elif row.status != "rejected":
        raise ReturnNotInStatus(f"this return is already {row.status}", field="return_id")
    await store(uow, order)
    view = _view(await _lock(uow.session, return_id), order.currency)
    return view


async def record_return_label(
    uow: UnitOfWork, *, return_id: str, label: dict[str, str], now: datetime
) -> None:
    """Fulfillment made the label (and notifications mails it): the return waits for the parcel."""
    row = await _lock(uow.session, return_id)
    if row.status == "approved":
        await _move(uow.session, row, "label_sent", now, label=label)


async def refund_received_return(
    uow: UnitOfWork,
    *,
    return_id: str,
    received: list[tuple[str, int, str]],
    fees: ReturnFees,
    now: datetime,
) -> None:
    """The warehouse received (sku, quantity, condition): refund those units less the fees, with the key
    ``return:<id>`` (payments answers a repeat with the first refund), and tell the customer."""
    row = await _lock(uow.session, return_id)
    if row.status not in ("approved", "label_sent"):
        return  # a redelivery after the refund, or a return that was never approved: nothing to do
    order = await repository.lock_order(uow.session, row.order_id)
    prices = {line["sku"]: int(line["unit_price"]) for line in row.lines}
    # Units asked in exchange that arrived are replaced, not refunded; the rest of the parcel is refunded.
    to_exchange = {item["sku"]: int(item["quantity"]) for item in row.exchanges or []}
    exchanged: Counter[str] = Counter()
    refunded_units = []
    for sku, quantity, condition in received:
        swap = min(quantity, to_exchange.get(sku, 0) - exchanged[sku])
        if swap > 0:
            exchanged[sku] += swap
        if quantity - swap > 0:
            refunded_units.append((sku, quantity - swap, condition))
    if exchanged:
        await _reserve_replacements(uow, row, order, exchanged)
    if not refunded_units:
        await _move(uow.session, row, "received", now, lines=_received_lines(row, received))
        await store(uow, order)
        return
    outcome = refund_for_return(
        currency=order.currency,
        units=[
            ReturnedUnits(unit_price=prices.get(sku, 0), quantity=quantity, condition=condition)
            for sku, quantity, condition in refunded_units
        ],
        reason=row.reason,
        subtotal=order.subtotal,
        discount=order.discount,
        return_shipping_fee=fees.return_shipping_fee.get(order.currency, 0),
        restocking_fee_percent=fees.restocking_fee_percent,
        refundable=order.captured - order.refund_requested,
        tax_added=order.tax_added,
        shipping=order.shipping,
    )
    await _move(uow.session, row, "received", now, lines=_received_lines(row, received))
    row = await _lock(uow.session, return_id)
    order.request_refund(outcome.refund, key=f"return:{return_id}", reason=f"return_{row.reason}")
    await _move(
        uow.session,
        row,
        "refunded",
        now,
        value=outcome.value.amount,
        return_shipping_fee=outcome.return_shipping_fee.amount,
        restocking_fee=outcome.restocking_fee.amount,
        tax_refunded=outcome.tax.amount,
        refund=outcome.refund.amount,
    )
    order.record("return_refunded", return_id=return_id, refund=outcome.refund.amount)
    order.send(
        contracts.ReturnRefunded(
            return_id=return_id,
            order_id=row.order_id,
            customer=order.customer,
            value=outcome.value,
            return_shipping_fee=outcome.return_shipping_fee,
            restocking_fee=outcome.restocking_fee,
            refund=outcome.refund,
        )
    )
    await store(uow, order)


def _received_lines(row: Row[Any], received: list[tuple[str, int, str]]) -> list[dict[str, Any]]:
    conditions = Counter[tuple[str, str]]()
    for sku, quantity, condition in received:
        conditions[(sku, condition)] += quantity
    return [
        {
            **line,
            "resellable": conditions[(line["sku"], "resellable")],
            "damaged": conditions[(line["sku"], "damaged")],
        }
        for line in row.lines
    ]


async def _reserve_replacements(
    uow: UnitOfWork, row: Row[Any], order: Order, exchanged: Counter[str]
) -> None:
    """The returned units to exchange arrived: ask catalog to reserve their replacements for the order."""
    units = [
        {**item, "quantity": exchanged[item["sku"]]}
        for item in row.exchanges or []
        if exchanged[item["sku"]] > 0
    ]
    await uow.session.execute(
        sa.update(returns)
        .where(returns.c.id == row.id)
        .values(exchange={"status": "reserving", "units": units})
    )
    order.record("exchange_reserving", return_id=row.id)
    order.send(
        catalog_contracts.ReserveStock(
            order_id=row.order_id,
            lines=[RequestedLine(sku=item["replacement_sku"], quantity=item["quantity"]) for item in units],
            exchange_id=row.id,
        )
    )


async def exchange_reserved(uow: UnitOfWork, *, return_id: str, lines: list[LocatedLine]) -> None:
    """Catalog holds the replacements: ship them as a new shipment of the order, after charging the price
    difference off-session when the new variant costs more, or refunding it (key ``exchange:<id>``) when less."""
    row = await _lock(uow.session, return_id)
    if row.exchange is None or row.exchange.get("status") != "reserving":
        return
    order = await repository.lock_order(uow.session, row.order_id)
    prices = {line["sku"]: int(line["unit_price"]) for line in row.lines}
    difference = price = tax = order.zero()
    for item in row.exchange["units"]:
        found = exchange_difference(
            returned_unit_price=prices[item["sku"]],
            replacement_unit_price=int(item["replacement_unit_price"]),
            units=int(item["quantity"]),
            tax_rate=order.tax_rate,
            tax_added_on_top=order.tax_added_on_top,
            currency=order.currency,
        )
        price += found.price_difference
        tax += found.tax
        difference += found.total
    by_location: dict[str, list[LocatedLine]] = {}
    for line in lines:
        by_location.setdefault(line.location, []).append(line)
    groups = []
    for position, (location, located) in enumerate(sorted(by_location.items())):
        groups.append(
            order.add_group(
                str(uuid.uuid4()),
                kind="exchange",
                location=location,
                lines=located,
                status=GroupStatus.RESERVED,
                balance_amount=difference if difference > order.zero() and position == 0 else None,
            )
        )
    if difference > order.zero():
        # The order now costs more: its total grows by what the exchange charges.
        order.total += difference
    elif difference < order.zero():
        order.request_refund(-difference, key=f"exchange:{return_id}", reason="exchange_difference")
    for group in groups:
        order.advance(group)
    await uow.session.execute(
        sa.update(returns)
        .where(returns.c.id == return_id)
        .values(
            exchange={
                **row.exchange,
                "status": "awaiting_payment" if difference > order.zero() else "released",
                "price_difference": price.amount,
                "tax": tax.amount,
                "charged": max(difference, order.zero()).amount,
                "refunded": max(-difference, order.zero()).amount,
                "group_ids": [group.id for group in groups],
            }
        )
    )
    order.record("exchange_reserved", return_id=return_id, difference=difference.amount)
    await store(uow, order)


async def exchange_unavailable(uow: UnitOfWork, *, return_id: str, detail: str) -> None:
    """A replacement is out of stock: refund the returned units instead (the shop cannot keep its side, so no
    fees), with the key ``exchange:<id>``, and tell the customer why."""
    row = await _lock(uow.session, return_id)
    if row.exchange is None or row.exchange.get("status") != "reserving":
        return
    order = await repository.lock_order(uow.session, row.order_id)
    prices = {line["sku"]: int(line["unit_price"]) for line in row.lines}
    units = row.exchange["units"]
    outcome = refund_for_return(
        currency=order.currency,
        units=[
            ReturnedUnits(
                unit_price=prices[item["sku"]], quantity=int(item["quantity"]), condition="resellable"
            )
            for item in units
        ],
        reason="wrong_item",
        subtotal=order.subtotal,
        discount=order.discount,
        return_shipping_fee=0,
        restocking_fee_percent=0,
        refundable=order.captured - order.refund_requested,
        tax_added=order.tax_added,
        shipping=order.shipping,
    )
    order.request_refund(outcome.refund, key=f"exchange:{return_id}", reason="exchange_out_of_stock")
    refunded = (row.refund or 0) + outcome.refund.amount
    await uow.session.execute(
        sa.update(returns)
        .where(returns.c.id == return_id)
        .values(
            exchange={
                **row.exchange,
                "status": "refunded_instead",
                "refunded": outcome.refund.amount,
                "detail": detail,
            },
            refund=refunded,
            value=(row.value or 0) + outcome.value.amount,
            tax_refunded=(row.tax_refunded or 0) + outcome.tax.amount,
        )
    )
    if row.status == "received":
        await _move(uow.session, await _lock(uow.session, return_id), "refunded", datetime.now(UTC))
    order.record("exchange_refunded_instead", return_id=return_id, refund=outcome.refund.amount)
    order.send(
        contracts.ReturnRefunded(
            return_id=return_id,
            order_id=order.id,
            customer=order.customer,
            value=outcome.value,
            return_shipping_fee=order.zero(),
            restocking_fee=order.zero(),
            refund=outcome.refund,
            exchange_unavailable=[item["replacement_sku"] for item in units],
        )
    )
    await store(uow, order)


async def _exchange_view(session: AsyncSession, row: Row[Any]) -> dict[str, Any] | None:
    """The exchange as the customer follows it; once released, its status is its shipment's."""
    if row.exchange is None:
        return None
    view = {**row.exchange, "items": row.exchanges}
    group_ids = row.exchange.get("group_ids") or []
    if group_ids and row.exchange.get("status") in ("awaiting_payment", "released"):
        statuses = {
            str(status)
            for (status,) in await session.execute(
                sa.select(shipment_groups.c.status).where(shipment_groups.c.id.in_(group_ids))
            )
        }
        for group_status, shown in (
            ("balance_failed", "payment_failed"),
            ("delivered", "delivered"),
            ("shipped", "shipped"),
            ("packed", "packed"),
            ("picked", "picked"),
            ("pick_requested", "released"),
            ("released", "released"),
        ):
            if group_status in statuses:
                view["status"] = shown
                break
    return view


async def returns_of_order(session: AsyncSession, order_id: str) -> list[dict[str, Any]]:
    currency = await session.scalar(sa.select(orders.c.currency).where(orders.c.id == order_id))
    rows = await session.execute(
        sa.select(returns)
        .where(returns.c.order_id == order_id)
        .order_by(returns.c.requested_at, returns.c.id)
    )
    return [{**_view(row, currency or ""), "exchange": await _exchange_view(session, row)} for row in rows]


async def returns_by_status(session: AsyncSession, status: str | None, *, limit: int) -> list[dict[str, Any]]:
    query = (
        sa.select(returns, orders.c.currency)
        .join(orders, orders.c.id == returns.c.order_id)
        .order_by(returns.c.requested_at.desc(), returns.c.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(returns.c.status == status)
    return [
        {**_view(row, row.currency), "exchange": await _exchange_view(session, row)}
        for row in await session.execute(query)
    ]


async def _returnable(
    uow: UnitOfWork, order: Order, *, window_days: int, now: datetime
) -> tuple[dict[str, int], dict[str, str]]:
    """Per SKU: units shipped in groups whose window is open, less units in returns not rejected; and the
    location each SKU shipped from (where it goes back to)."""
    shipped: Counter[str] = Counter()
    where: dict[str, str] = {}
    for group in order.groups:
        # A replacement is not an order line: returning it again is not built.
        if group.shipped_at is None or group.kind == "exchange":
            continue
        closes = return_window_closes(
            shipped_at=group.shipped_at, delivered_at=group.delivered_at, days=window_days
        )
        if now >= closes:
            continue
        for line in group.shipped_lines or group.lines:
            shipped[line["sku"]] += int(line["quantity"])
            where.setdefault(line["sku"], line["location"])
    taken: Counter[str] = Counter()
    asked = await uow.session.execute(
        sa.select(returns.c.lines).where(returns.c.order_id == order.id, returns.c.status != "rejected")
    )
    for (lines,) in asked:
        for line in lines:
            taken[line["sku"]] += int(line["quantity"])
    return {sku: max(units - taken[sku], 0) for sku, units in shipped.items()}, where


async def _lock(session: AsyncSession, return_id: str) -> Row[Any]:
    row = (
        await session.execute(sa.select(returns).where(returns.c.id == return_id).with_for_update())
    ).first()
    if row is None:
        raise UnknownReturn(f"no return {return_id}", field="return_id")
    return row


async def _move(session: AsyncSession, row: Row[Any], status: str, now: datetime, **values: Any) -> None:
    await session.execute(
        sa.update(returns)
        .where(returns.c.id == row.id)
        .values(status=status, updated_at=now, history=[*row.history, _step(status, now)], **values)
    )


def _step(status: str, now: datetime) -> dict[str, str]:
    return {"status": status, "at": now.isoformat()}


def _view(row: Row[Any], currency: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "order_id": row.order_id,
        "status": row.status,
        "reason": row.reason,
        "note": row.note,
        "lines": row.lines,
        "label": row.label,
        "rejection_reason": row.rejection_reason,
        "currency": currency,
        "value": row.value,
        "return_shipping_fee": row.return_shipping_fee,
        "restocking_fee": row.restocking_fee,
        "tax_refunded": row.tax_refunded,
        "refund": row.refund,
        "exchange": None if row.exchange is None else {**row.exchange, "items": row.exchanges},
        "history": row.history,
        "requested_at": row.requested_at,
    }
