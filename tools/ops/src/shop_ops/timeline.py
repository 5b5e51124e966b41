"""One order across every service: its rows in each database merged into one timeline, and its saga step."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shop_catalog import tables as catalog
from shop_fulfillment import tables as fulfillment
from shop_notifications import tables as notifications
from shop_ops import queries
from shop_ops.databases import DatabaseUnavailable, Snapshots
from shop_ops.deadlines import saga_step
from shop_ops.rows import OrderState
from shop_orders.core import tables as orders
from shop_payments import tables as payments

SERVICE_ORDER = ("orders", "catalog", "payments", "fulfillment", "notifications")
"""Ties in time print in saga order."""


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    service: str
    event: str
    detail: str = ""


@dataclass(frozen=True)
class OrderView:
    order_id: str
    order: OrderState | None
    step: str
    entries: list[TimelineEntry]
    unavailable: dict[str, str] = field(default_factory=dict)
    trace_ids: list[str] = field(default_factory=list)
    """The traces the order's messages ran in (normally one), oldest first: look them up in Jaeger."""

    @property
    def found(self) -> bool:
        return self.order is not None or bool(self.entries)


def merge_timeline(entries: Iterable[TimelineEntry]) -> list[TimelineEntry]:
    """Every service's entries in one order: by time, then by saga order for entries at the same instant."""
    return sorted(entries, key=lambda entry: (entry.at, SERVICE_ORDER.index(entry.service)))


def _reason(error: Exception) -> str:
    if isinstance(error, DatabaseUnavailable):
        return str(error)
    return f"{type(error).__name__}: {error}".splitlines()[0]


def _details(values: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in values.items() if value not in (None, "", {}))


async def _orders_entries(snapshots: Snapshots, order_id: str) -> list[TimelineEntry]:
    table = orders.order_timeline
    rows = await snapshots.connection("orders").execute(
        sa.select(table.c.at, table.c.event, table.c.detail).where(table.c.order_id == order_id)
    )
    return [TimelineEntry(at, "orders", event, _details(dict(detail or {}))) for at, event, detail in rows]


async def _catalog_entries(snapshots: Snapshots, order_id: str) -> list[TimelineEntry]:
    table = catalog.reservations
    rows = await snapshots.connection("catalog").execute(
        sa.select(table.c.updated_at, table.c.status, table.c.sku, table.c.location, table.c.quantity).where(
            table.c.order_id == order_id
        )
    )
    return [
        TimelineEntry(
            at, "catalog", f"reservation {status}", _details({"sku": sku, "location": loc, "qty": qty})
        )
        for at, status, sku, loc, qty in rows
    ]


async def _payments_entries(snapshots: Snapshots, order_id: str) -> list[TimelineEntry]:
    connection = snapshots.connection("payments")
    table = payments.payments
    columns = (
        "id",
        "step",
        "amount",
        "currency",
        "status",
        "decline_code",
        "card_brand",
        "card_last4",
        "created_at",
    )
    rows = await connection.execute(
        sa.select(*(table.c[name] for name in columns)).where(table.c.order_id == order_id)
    )
    entries = [
        TimelineEntry(
            row.created_at,
            "payments",
            f"payment {row.status}",
            _details(
                {
                    "step": row.step,
                    "amount": f"{row.amount} {row.currency}",
                    "payment": row.id,
                    "card": f"{row.card_brand} {row.card_last4}" if row.card_brand else None,
                    "decline": row.decline_code,
                }
            ),
        )
        for row in rows
    ]
    ledger = payments.ledger_entries
    rows = await connection.execute(
        sa.select(
            ledger.c.created_at, ledger.c.kind, ledger.c.amount, ledger.c.currency, ledger.c.payment_id
        ).where(ledger.c.order_id == order_id, ledger.c.kind != "capture")
    )
    # Captures are the payments above; refunds (when they exist) are ledger entries of their own.
    entries += [
        TimelineEntry(
            at, "payments", f"ledger {kind}", _details({"amount": f"{amount} {cur}", "payment": pid})
        )
        for at, kind, amount, cur, pid in rows
    ]
    return entries


async def _fulfillment_entries(snapshots: Snapshots, order_id: str) -> tuple[list[TimelineEntry], list[str]]:
    connection = snapshots.connection("fulfillment")
    table = fulfillment.fulfillment_orders
    events = fulfillment.fulfillment_events
    shipments = list(
        await connection.execute(
            sa.select(table.c.id, table.c.location, table.c.status, table.c.created_at).where(
                table.c.order_id == order_id
            )
        )
    )
    entries = [
        TimelineEntry(
            created, "fulfillment", "fulfillment order created", _details({"id": fid, "location": loc})
        )
        for fid, loc, _, created in shipments
    ]
    if shipments:
        rows = await connection.execute(
            sa.select(
                events.c.at,
                events.c.type,
                events.c.fulfillment_id,
                events.c.carrier,
                events.c.tracking_number,
            ).where(events.c.fulfillment_id.in_([shipment.id for shipment in shipments]))
        )
        entries += [
            TimelineEntry(
                at, "fulfillment", kind, _details({"id": fid, "carrier": carrier, "tracking": tracking})
            )
            for at, kind, fid, carrier, tracking in rows
        ]
    return entries, [shipment.status for shipment in shipments]


async def _notifications_entries(snapshots: Snapshots, order_id: str) -> list[TimelineEntry]:
    table = notifications.notifications
    rows = await snapshots.connection("notifications").execute(
        sa.select(
            table.c.created_at,
            table.c.sent_at,
            table.c.template,
            table.c.channel,
            table.c.status,
            table.c.last_error,
            table.c.superseded_by,
            table.c.suppressed_reason,
        ).where(table.c.order_id == order_id)
    )
    entries = []
    for created, sent, template, channel, status, error, superseded_by, suppressed_reason in rows:
        if status == "suppressed":  # the recipient turned this kind of message off: never sent
            entries.append(
                TimelineEntry(
                    created,
                    "notifications",
                    f"{template} {channel} not sent",
                    f"suppressed: {suppressed_reason}",
                )
            )
            continue
        if status == "superseded":  # a later step was told first: this one is never sent
            entries.append(
                TimelineEntry(
                    created,
                    "notifications",
                    f"{template} {channel} not sent",
                    f"superseded by {superseded_by}",
                )
            )
            continue
        entries.append(TimelineEntry(created, "notifications", f"{template} {channel} queued"))
        if sent is not None:
            entries.append(TimelineEntry(sent, "notifications", f"{template} {channel} sent"))
        elif status == "failed":
            entries.append(
                TimelineEntry(created, "notifications", f"{template} {channel} failed", error or "")
            )
    return entries


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C ``traceparent`` header (``00-<trace id>-<span id>-<flags>``); None if malformed."""
    parts = (traceparent or "").split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or parts[1] == "0" * 32:
        return None
    try:
        int(parts[1], 16)
    except ValueError:
        return None
    return parts[1]


async def _trace_ids(snapshots: Snapshots, order_id: str) -> list[str]:
    """From the trace context orders stored with each message it sent about the order (its outbox)."""
    table = orders.outbox
    rows = await snapshots.connection("orders").execute(
        sa.select(table.c.headers["traceparent"].astext)
        .where(table.c.headers["correlation_id"].astext == order_id)
        .order_by(table.c.id)
    )
    trace_ids = (trace_id_of(traceparent) for (traceparent,) in rows)
    return list(dict.fromkeys(trace_id for trace_id in trace_ids if trace_id is not None))


async def order_view(snapshots: Snapshots, order_id: str) -> OrderView:
    """Read ``order_id`` from every database; a database that cannot be read is named, not fatal."""
    unavailable: dict[str, str] = {}
    entries: list[TimelineEntry] = []
    order: OrderState | None = None
    shipment_statuses: list[str] = []
    try:
        order = await queries.order_state(snapshots.connection("orders"), order_id)
        recorded = await _orders_entries(snapshots, order_id)
        if order is not None and not recorded:  # an order with no timeline still shows when it was placed
            entries.append(
                TimelineEntry(
                    order.created_at, "orders", "order created", f"total={order.total} {order.currency}"
                )
            )
        entries += recorded
        trace_ids = await _trace_ids(snapshots, order_id)
    except Exception as error:  # one unreadable service must not hide the others
        unavailable["orders"] = _reason(error)
        trace_ids = []
    for service, load in (
        ("catalog", _catalog_entries),
        ("payments", _payments_entries),
        ("notifications", _notifications_entries),
    ):
        try:
            entries += await load(snapshots, order_id)
        except Exception as error:  # one unreadable service must not hide the others
            unavailable[service] = _reason(error)
    try:
        found, shipment_statuses = await _fulfillment_entries(snapshots, order_id)
        entries += found
    except Exception as error:  # one unreadable service must not hide the others
        unavailable["fulfillment"] = _reason(error)
    step = saga_step(
        order.status if order else None, shipment_statuses, order.status_reason if order else None
    )
    return OrderView(order_id, order, step, merge_timeline(entries), unavailable, trace_ids)
