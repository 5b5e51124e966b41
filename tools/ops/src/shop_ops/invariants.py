"""The audit's decisions, free of I/O: each function takes rows and returns the findings they imply.

One function per invariant, so a check can be tested on rows written by hand and a new one added without
touching the others (its loader and registration live in ``shop_ops.audit``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shop_ops.durations import age
from shop_ops.rows import (
    DraftHold,
    FulfillmentOrderState,
    HoldLedger,
    OrderLedger,
    OrderState,
    PaymentLedger,
    PreorderCapUse,
    ShipmentGroupState,
    StepPayments,
    StockLevel,
    SucceededPayments,
    UnpaidHold,
    UnpublishedOutboxRow,
)

PAID_STATUSES = ("confirmed", "shipped", "delivered")
SHIPPED_FULFILLMENT_STATUSES = ("shipped", "delivered")


class Severity(enum.StrEnum):
    VIOLATION = "violation"
    WAITING = "waiting"
    """Not broken, but an operator should know: an order visibly waiting, with its reason and since when."""


@dataclass(frozen=True)
class Finding:
    message: str
    ids: dict[str, str] = field(default_factory=dict)
    severity: Severity = Severity.VIOLATION


def stock_levels_within_on_hand(levels: Iterable[StockLevel]) -> list[Finding]:
    """No negative quantities, and never more reserved than on hand."""
    findings = []
    for level in levels:
        ids = {"sku": level.sku, "location": level.location}
        for name in ("on_hand", "reserved", "safety_stock"):
            value = getattr(level, name)
            if value < 0:
                findings.append(Finding(f"{name} is negative ({value})", ids))
        if level.reserved > level.on_hand:
            findings.append(
                Finding(f"oversold: reserved {level.reserved} exceeds on hand {level.on_hand}", ids)
            )
    return findings


def reservations_match_stock(
    levels: Iterable[StockLevel], reserved_by_place: Mapping[tuple[str, str], int]
) -> list[Finding]:
    """The reservations held (status reserved) add up, per SKU and location, to the stock level's reserved."""
    recorded = {(level.sku, level.location): level.reserved for level in levels}
    findings = []
    for sku, location in sorted(set(recorded) | set(reserved_by_place)):
        held = reserved_by_place.get((sku, location), 0)
        ids = {"sku": sku, "location": location}
        if (sku, location) not in recorded:
            findings.append(Finding(f"{held} unit(s) reserved at a location with no stock level", ids))
        elif recorded[(sku, location)] != held:
            findings.append(
                Finding(
                    f"stock level says {recorded[(sku, location)]} reserved, reservations hold {held}",
                    ids,
                )
            )
    return findings


def preorders_within_cap(uses: Iterable[PreorderCapUse]) -> list[Finding]:
    """Pre-orders accepted (waiting or allocated) never hold more units than their policy's cap."""
    return [
        Finding(f"pre-orders accepted {use.accepted} exceed the cap {use.cap}", {"sku": use.sku})
        for use in uses
        if use.accepted > use.cap
    ]


def ledger_balances(orders: Iterable[OrderLedger], payments: Iterable[PaymentLedger]) -> list[Finding]:
    """Per order captured minus refunded is never negative, in one currency; no payment refunded beyond it."""
    findings = []
    for order in orders:
        ids = {"order": order.order_id}
        if len(order.currencies) > 1:
            findings.append(Finding(f"ledger mixes currencies {', '.join(order.currencies)}", ids))
        if order.net < 0:
            findings.append(
                Finding(f"refunded {order.refunded} exceeds captured {order.captured} (net {order.net})", ids)
            )
    for payment in payments:
        if payment.refunded > payment.captured:
            findings.append(
                Finding(
                    f"payment refunded {payment.refunded} exceeds its capture {payment.captured}",
                    {"order": payment.order_id, "payment": str(payment.payment_id)},
                )
            )
    return findings


def one_success_per_step(steps: Iterable[StepPayments]) -> list[Finding]:
    """No order is charged twice for the same step."""
    return [
        Finding(
            f"step {step.step!r} charged {len(step.payment_ids)} times",
            {
                "order": step.order_id,
                "step": step.step,
                "payments": ",".join(str(payment_id) for payment_id in step.payment_ids),
            },
        )
        for step in steps
        if len(step.payment_ids) > 1
    ]


def paid_orders_fully_captured(
    orders: Iterable[OrderState], succeeded: Mapping[str, SucceededPayments]
) -> list[Finding]:
    """A confirmed, shipped or delivered order has successful payments equal to its total, in its currency.

    An order on payment terms still awaiting payment (``awaiting_payment`` or ``overdue``) may have none yet;
    once it shows ``paid`` it is held to its total like any other.

    An order with pre-order lines (``charged_now`` set) owes at least what checkout charges and never more
    than its total: its balance is charged later.
    """
    findings = []
    for order in orders:
        if order.status not in PAID_STATUSES:
            continue
        ids = {"order": order.order_id}
        paid = succeeded.get(order.order_id)
        due = order.due_at_checkout
        if order.awaiting_payment_on_terms:
            # Completed from a draft on net or on-fulfillment terms: it may confirm and ship before it is
            # paid (``orders_awaiting_payment`` shows it once overdue); it still never takes more than its total.
            if paid is not None and paid.amount > order.total:
                findings.append(
                    Finding(f"{order.status} with {paid.amount} paid, above its total {order.total}", ids)
                )
            continue
        if paid is None:
            if due > 0:
                findings.append(Finding(f"{order.status} but no successful payment (due {due})", ids))
            continue
        if paid.currencies != (order.currency,):
            findings.append(
                Finding(f"paid in {', '.join(paid.currencies)} but the order is in {order.currency}", ids)
            )
        if order.charged_now is None or order.charged_now == order.total:
            if paid.amount != order.total:
                findings.append(
                    Finding(f"{order.status} with {paid.amount} paid but a total of {order.total}", ids)
                )
        elif paid.amount > order.total:
            findings.append(
                Finding(f"{order.status} with {paid.amount} paid, above its total {order.total}", ids)
            )
        elif paid.amount < due:
            findings.append(
                Finding(f"{order.status} with {paid.amount} paid, less than the {due} due at checkout", ids)
            )
    return findings


def rejected_orders_not_charged(
    orders: Iterable[OrderState], ledgers: Mapping[str, OrderLedger]
) -> list[Finding]:
    """A rejected order keeps nothing of the customer's money."""
    findings = []
    for order in orders:
        ledger = ledgers.get(order.order_id)
        if order.status == "rejected" and ledger is not None and ledger.net != 0:
            findings.append(
                Finding(
                    f"rejected but {ledger.net} still captured "
                    f"(captured {ledger.captured}, refunded {ledger.refunded})",
                    {"order": order.order_id},
                )
            )
    return findings


def services_agree_on_state(
    orders: Iterable[OrderState],
    fulfillment_orders: Iterable[FulfillmentOrderState],
    *,
    now: datetime,
    fulfillment_grace: timedelta,
) -> list[Finding]:
    """Orders and fulfillment tell the same story of each order.

    Shipped or delivered in orders: fulfillment has the order's shipments, every one shipped (delivered for
    a delivered order). Confirmed: fulfillment has a fulfillment order, unless confirmed within the grace
    period (the command may be in flight) or its pre-order units still wait for stock or a balance (a balance
    charged before the goods arrived included): that is waiting, not disagreement. Pending, reserved or
    rejected: fulfillment has nothing.
    """
    by_order: dict[str, list[FulfillmentOrderState]] = {}
    for fulfillment in fulfillment_orders:
        if fulfillment.status != "cancelled":  # stopped before it was packed: it tells no story of its own
            by_order.setdefault(fulfillment.order_id, []).append(fulfillment)
    known: set[str] = set()
    findings = []
    for order in orders:
        known.add(order.order_id)
        shipments = by_order.get(order.order_id, [])
        ids = {"order": order.order_id}
        statuses = ", ".join(f"{s.fulfillment_id}={s.status}" for s in shipments) or "none"
        if order.status in ("shipped", "partially_fulfilled", "delivered"):
            required = ("delivered",) if order.status == "delivered" else SHIPPED_FULFILLMENT_STATUSES
            if not shipments or any(s.status not in required for s in shipments):
                findings.append(Finding(f"{order.status} in orders, fulfillment orders: {statuses}", ids))
        elif order.status == "confirmed":
            if not shipments and order.waiting_preorder:
                continue  # nothing may ship yet: paid_orders_progressing shows it as waiting
            if not shipments and now - order.since > fulfillment_grace:
                findings.append(
                    Finding(
                        f"confirmed {age(now - order.since)} ago and fulfillment has no fulfillment order",
                        ids,
                    )
                )
        elif shipments:
            findings.append(Finding(f"{order.status} in orders, fulfillment orders: {statuses}", ids))
    for order_id in sorted(set(by_order) - known):
        for shipment in by_order[order_id]:
            findings.append(
                Finding(
                    "fulfillment order for an order that orders does not know",
                    {"order": order_id, "fulfillment": str(shipment.fulfillment_id)},
                )
            )
    return findings


SHIPPED_ORDER_STATUSES = ("shipped", "partially_fulfilled", "delivered")


def groups_follow_their_facts(groups: Iterable[ShipmentGroupState]) -> list[Finding]:
    """A group shows shipped or delivered only with its shipment recorded (and delivered only with its delivery),
    a recorded shipment has its stock committed, and no group is behind its order: every group of a delivered
    order is delivered, every group of a shipped one has left (cancelled groups and exchanges aside)."""
    findings = []
    for group in groups:
        ids = {"order": group.order_id, "group": group.group_id}
        if group.status in ("shipped", "delivered") and group.shipped_at is None:
            findings.append(Finding(f"group is {group.status} with no shipment recorded", ids))
        if group.status == "delivered" and group.delivered_at is None:
            findings.append(Finding("group is delivered with no delivery recorded", ids))
        if group.shipped_at is not None and group.stock_committed_at is None:
            findings.append(Finding("shipment recorded but its stock never committed", ids))
        if group.status == "cancelled" or group.kind == "exchange":
            continue
        if group.order_status == "delivered" and group.status != "delivered":
            findings.append(Finding(f"order is delivered, its group is {group.status}", ids))
        elif group.order_status in SHIPPED_ORDER_STATUSES and group.status not in ("shipped", "delivered"):
            findings.append(Finding(f"order is {group.order_status}, its group is {group.status}", ids))
    return findings


def cancelled_groups_stopped(
    groups: Iterable[ShipmentGroupState], fulfillment_orders: Iterable[FulfillmentOrderState]
) -> list[Finding]:
    """A group orders cancelled has no fulfillment order still at work (picking, packing or gone)."""
    live = {
        (fulfillment.order_id, fulfillment.group_key): fulfillment
        for fulfillment in fulfillment_orders
        if fulfillment.status != "cancelled"
    }
    findings = []
    for group in groups:
        fulfillment = live.get((group.order_id, group.group_id))
        if group.status == "cancelled" and fulfillment is not None:
            findings.append(
                Finding(
                    f"group is cancelled, its fulfillment order is {fulfillment.status}",
                    {
                        "order": group.order_id,
                        "group": group.group_id,
                        "fulfillment": str(fulfillment.fulfillment_id),
                    },
                )
            )
    return findings


def stock_committed_once(
    shipped: Mapping[str, Mapping[tuple[str, str], int]],
    committed: Mapping[str, Mapping[tuple[str, str], int]],
    *,
    in_flight: set[str],
) -> list[Finding]:
    """What catalog took off hand for an order is what its recorded shipments (and short picks) took: every
    unit once, never twice, never left reserved. An order that asked lately may still have its commit on the
    way: less committed than shipped is not a finding for it yet; more always is."""
    findings = []
    for order_id in sorted(set(shipped) | set(committed)):
        asked, taken = shipped.get(order_id, {}), committed.get(order_id, {})
        for sku, location in sorted(set(asked) | set(taken)):
            wanted, got = asked.get((sku, location), 0), taken.get((sku, location), 0)
            if got > wanted or (got < wanted and order_id not in in_flight):
                findings.append(
                    Finding(
                        f"catalog committed {got} unit(s), orders' shipments took {wanted}",
                        {"order": order_id, "sku": sku, "location": location},
                    )
                )
    return findings


def outbox_published(
    rows: Iterable[UnpublishedOutboxRow], *, now: datetime, max_age: timedelta
) -> list[Finding]:
    """Every committed outgoing message is published within ``max_age``."""
    return [
        Finding(
            f"{row.message_type} unpublished for {age(now - row.created_at)}",
            {"service": row.service, "outbox_row": str(row.row_id), "message": str(row.message_id)},
        )
        for row in rows
        if now - row.created_at > max_age
    ]


def paid_orders_progressing(
    orders: Iterable[OrderState],
    fulfillment_orders: Iterable[FulfillmentOrderState],
    *,
    now: datetime,
    waiting_after: timedelta,
) -> list[Finding]:
    """A paid order ends shipped (or refunded); one confirmed for long without shipping is shown as waiting."""
    by_order: dict[str, list[str]] = {}
    for fulfillment in fulfillment_orders:
        by_order.setdefault(fulfillment.order_id, []).append(fulfillment.status)
    return [
        Finding(
            f"paid and confirmed {age(now - order.since)} ago, not shipped yet "
            f"(fulfillment: {', '.join(by_order.get(order.order_id, [])) or 'none'})"
            + ("; pre-order units wait for stock or their balance" if order.waiting_preorder else ""),
            {"order": order.order_id, "since": order.since.isoformat(timespec="seconds")},
            Severity.WAITING,
        )
        for order in orders
        if order.status == "confirmed" and now - order.since > waiting_after
    ]


def orders_awaiting_payment(orders: Iterable[OrderState], *, now: datetime) -> list[Finding]:
    """An order on payment terms past its due date unpaid is shown as waiting, with the date it was due."""
    return [
        Finding(
            f"{order.status} on {order.payment_terms} terms, payment overdue since {order.payment_due_date}",
            {"order": order.order_id, "since": order.payment_due_date.isoformat()},
            Severity.WAITING,
        )
        for order in orders
        if order.awaiting_payment_on_terms
        and order.payment_due_date is not None
        and (order.payment_status == "overdue" or order.payment_due_date < now.date())
    ]


DRAFT_HOLDING = ("requested", "held")


def drafts_hold_only_what_they_want(
    drafts: Iterable[DraftHold], held: Mapping[str, int], *, now: datetime, grace: timedelta
) -> list[Finding]:
    """Catalog holds no units under a draft's reservation the draft gave up: an earlier one (lines changed), or
    the current one once it lapsed or the draft was deleted or expired (``carried_over`` belongs to the order).
    A release may still be in flight for ``grace`` after the draft changed."""
    findings = []
    for draft in drafts:
        if now - draft.updated_at <= grace:
            continue
        given_up = list(draft.earlier_reservations)
        keeps = draft.status == "open" and draft.reservation_status in DRAFT_HOLDING
        if draft.reservation_id is not None and not keeps and draft.reservation_status != "carried_over":
            given_up.append(draft.reservation_id)
        for reservation_id in given_up:
            if held.get(reservation_id):
                findings.append(
                    Finding(
                        f"draft {draft.status} (reservation {draft.reservation_status}) but catalog still holds "
                        f"{held[reservation_id]} unit(s) under {reservation_id}",
                        {"draft": draft.draft_id, "reservation": reservation_id},
                    )
                )
    return findings


def holds_within_authorised(holds: Iterable[HoldLedger]) -> list[Finding]:
    """A card hold's captures, releases and lapse never add up to more than it authorised, and nothing is
    captured of it once it lapsed or was released to nothing."""
    findings = []
    for hold in holds:
        ids = {"order": hold.order_id, "authorization": str(hold.authorization_id)}
        authorised = hold.total("authorization")
        captured, voided, expired = hold.total("capture"), hold.total("void"), hold.total("expiry")
        if captured + voided + expired > authorised:
            findings.append(
                Finding(
                    f"hold captured {captured} + voided {voided} + expired {expired} exceed authorised {authorised}",
                    ids,
                )
            )
        taken = 0
        closed_by: str | None = None
        for movement in hold.movements:
            if movement.kind == "capture" and closed_by is not None:
                findings.append(Finding(f"captured {movement.amount} after the hold was {closed_by}", ids))
            if movement.kind in ("capture", "void", "expiry"):
                taken += movement.amount
            if movement.kind == "expiry":
                closed_by = "expired"
            elif movement.kind == "void" and authorised and taken >= authorised:
                closed_by = "voided"
    return findings


def holds_paid(unpaid: Iterable[UnpaidHold], *, now: datetime) -> list[Finding]:
    """An order whose hold lapsed and whose off-session charges failed waits for an operator (info): one finding
    per order, however often dunning tried, with the last decline and how long it has waited since the first."""
    attempts: dict[str, list[UnpaidHold]] = {}
    for hold in sorted(unpaid, key=lambda hold: hold.since):
        attempts.setdefault(hold.order_id, []).append(hold)
    findings = []
    for order_id, tried in attempts.items():
        first, last = tried[0], tried[-1]
        times = f", tried {len(tried)} times" if len(tried) > 1 else ""
        findings.append(
            Finding(
                f"hold lapsed and the off-session charge of {last.amount} {last.currency} failed "
                f"({last.decline_code}{times}) {age(now - first.since)} ago",
                {"order": order_id},
                Severity.WAITING,
            )
        )
    return findings
