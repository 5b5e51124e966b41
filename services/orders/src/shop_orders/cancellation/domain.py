"""Cancellation's rules, free of I/O: what may be cancelled, what is refunded and kept, and the win-back outcome."""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shop_contracts import catalog as catalog_contracts
from shop_contracts import fulfillment as fulfillment_contracts
from shop_contracts import orders as contracts
from shop_contracts.money import Money
from shop_contracts.values import Address, LocatedLine
from shop_orders.core.domain import (
    GONE,
    NOT_YET_WITH_THE_WAREHOUSE,
    SHOP_BROKE_ITS_PROMISE,
    WITH_THE_WAREHOUSE,
    GroupStatus,
    OrderStatus,
)
from shop_orders.core.errors import NotCancellable
from shop_orders.core.order import Order
from shop_orders.core.parts import policy_of
from shop_orders.core.pricing import discount_share, tax_share


@dataclass(frozen=True)
class CancellationPlan:
    """What cancelling an order does to each of its shipment groups."""

    cancel_now: list[str]
    """Groups whose stock or places are released right away."""
    ask_fulfillment: list[str]
    """Groups with the warehouse: fulfillment cancels them unless they were packed meanwhile."""
    kept: list[str]
    """Groups that shipped; the order keeps them and the customer pays for them."""


def plan_cancellation(
    status: OrderStatus, groups: list[tuple[str, GroupStatus]], *, waiting_units: int
) -> CancellationPlan:
    """Decide how an order in ``status`` is cancelled, or refuse (a return is the way for what left).

    ``waiting_units`` are pre-order units not yet allocated to any group (their places are released).
    """
    if status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
        raise NotCancellable(f"an order that is {status} cannot be cancelled", field="order_id")
    if status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.PARTIALLY_FULFILLED):
        raise NotCancellable(
            f"this order is {status.replace('_', ' ')}: request a return instead", field="order_id"
        )
    packed = [group_id for group_id, group_status in groups if group_status is GroupStatus.PACKED]
    if packed:
        raise NotCancellable(
            "the warehouse has already packed part of this order: request a return instead", field="order_id"
        )
    plan = CancellationPlan(
        cancel_now=[g for g, s in groups if s in NOT_YET_WITH_THE_WAREHOUSE],
        ask_fulfillment=[g for g, s in groups if s in WITH_THE_WAREHOUSE],
        kept=[g for g, s in groups if s in GONE],
    )
    nothing_left = not plan.cancel_now and not plan.ask_fulfillment and waiting_units == 0
    if nothing_left and status not in (OrderStatus.PENDING, OrderStatus.RESERVED):
        raise NotCancellable(
            "everything in this order has shipped: request a return instead", field="order_id"
        )
    return plan


def refund_for_cancellation(
    *,
    captured: Money,
    refunded: Money,
    kept_value: Money,
    subtotal: Money,
    discount: Money,
    shipping: Money,
    kept_deposits: Money,
    tax_added: Money | None = None,
) -> Money:
    """What goes back when an order is cancelled except what it keeps (``kept_value`` at unit prices).

    The customer owes the kept units less their share of the order's discount, shipping when anything
    ships, and the non-refundable deposits of cancelled pre-order units; never more than was paid. Where tax
    came on top (``tax_added``), they owe the tax share of what they keep, and the rest of the tax goes back.
    """
    zero = Money.zero(captured.currency)
    owed = kept_deposits
    if kept_value > zero:
        owed += kept_value - discount_share(discount=discount, subtotal=subtotal, part=kept_value) + shipping
    if tax_added is not None and tax_added > zero and owed > zero:
        taxable = subtotal - discount + shipping
        owed += tax_added - tax_share(tax=tax_added, taxable=taxable, part=taxable - owed)
    return max(captured - refunded - owed, zero)


def kept_deposit(*, paid_now: Money, quantity: int, cancelled_units: int) -> Money:
    """The non-refundable deposit kept for ``cancelled_units`` of a pre-order line, rounded down."""
    if quantity <= 0:
        return Money.zero(paid_now.currency)
    return paid_now.share(cancelled_units, quantity, rounding="down")


class WinBack(enum.StrEnum):
    SAVED = "saved"
    LOST = "lost"
    OPEN = "open"


def win_back_outcome(
    *,
    cancelled_at: datetime,
    reordered_at: datetime | None,
    now: datetime,
    within: timedelta,
    used_offer_code: bool = False,
) -> WinBack:
    """Saved when the customer used the offer's code, or the same customer (account, or a guest's email) ordered
    again within ``within`` of cancelling; lost once that passed without either; open until then."""
    if used_offer_code:
        return WinBack.SAVED
    if reordered_at is not None and cancelled_at <= reordered_at <= cancelled_at + within:
        return WinBack.SAVED
    if now >= cancelled_at + within:
        return WinBack.LOST
    return WinBack.OPEN


OfferKind = Literal["percent", "fixed_amount", "free_shipping", "link"]
CODE_KINDS: frozenset[str] = frozenset({"percent", "fixed_amount", "free_shipping"})


@dataclass(frozen=True)
class WinBackOffer:
    """What a reason's win-back offer is: a single-use code (a percent off, an amount off per currency, free
    shipping) valid ``valid_days``, or a link with no code."""

    kind: OfferKind
    percent_off: int | None = None
    amount_off: Mapping[str, int] = field(default_factory=dict)
    link: str | None = None
    valid_days: int = 30

    @property
    def gives_a_code(self) -> bool:
        return self.kind in CODE_KINDS

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "percent_off": self.percent_off,
            "amount_off": dict(self.amount_off),
            "link": self.link,
            "valid_days": self.valid_days,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> WinBackOffer:
        return cls(
            kind=value["kind"],
            percent_off=value.get("percent_off"),
            amount_off=dict(value.get("amount_off") or {}),
            link=value.get("link"),
            valid_days=int(value.get("valid_days") or 30),
        )


@dataclass(frozen=True)
class WinBackCode:
    """A single-use code issued after a cancellation, for the customer who cancelled."""

    code: str
    kind: str
    expires_at: datetime
    percent_off: int | None = None
    amount_off: int | None = None
    currency: str | None = None


def code_terms(offer: WinBackOffer, *, currency: str) -> tuple[int | None, int | None, str | None] | None:
    """The percent, amount and currency of the code ``offer`` gives an order in ``currency``; None when it gives
    none (a link, or an amount with no figure in that currency)."""
    if offer.kind == "percent":
        return offer.percent_off, None, None
    if offer.kind == "fixed_amount":
        amount = offer.amount_off.get(currency)
        return (None, amount, currency) if amount else None
    if offer.kind == "free_shipping":
        return None, None, None
    return None


def told_offer(
    offer: WinBackOffer | None, code: WinBackCode | None, *, skus: Sequence[str]
) -> contracts.WinBackOffer | None:
    """The offer as the customer is told it: the code issued, or the link (similar products name the SKUs)."""
    if code is not None:
        return contracts.WinBackOffer(
            kind=code.kind,
            code=code.code,
            percent_off=code.percent_off,
            amount_off=None
            if code.amount_off is None or code.currency is None
            else Money(code.amount_off, code.currency),
            expires_at=code.expires_at,
            marketing=True,
        )
    if offer is not None and offer.kind == "link" and offer.link in ("size_guide", "similar_products"):
        return contracts.WinBackOffer(
            kind="link",
            link=offer.link,
            skus=list(skus) if offer.link == "similar_products" else [],
            marketing=False,
        )
    return None


FEEDBACK_PURPOSE = "feedback"
MAX_FEEDBACK_COMMENT = 2000
FEEDBACK_SCORES = range(1, 6)


def feedback_token(secret: str, order_id: str, *, issued_at: int) -> str:
    """The token of a cancellation email's feedback link: ``<unix seconds>.<hex HMAC-SHA256>`` over the purpose,
    the order and the time, so it opens the feedback of that one order only and expires."""
    return f"{issued_at}.{_feedback_digest(secret, order_id, issued_at)}"


def _feedback_digest(secret: str, order_id: str, issued_at: int) -> str:
    signed = f"{FEEDBACK_PURPOSE}:{order_id}:{issued_at}".encode()
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


class FeedbackTokenRefused(ValueError):
    """A feedback token that proves nothing: ``code`` says why, ``status`` how HTTP answers."""

    def __init__(self, message: str, *, code: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def check_feedback_token(secret: str, order_id: str, token: str, *, now: datetime, valid: timedelta) -> None:
    """Raise why ``token`` does not open ``order_id``'s feedback: malformed, not signed for it, or expired."""
    issued, _, digest = token.strip().partition(".")
    if not issued.isdigit() or len(digest) != 64:
        raise FeedbackTokenRefused(
            "the token is not one from a cancellation email: copy the whole link",
            code="malformed_token",
            status=400,
        )
    if not hmac.compare_digest(_feedback_digest(secret, order_id, int(issued)), digest):
        raise FeedbackTokenRefused(
            "the token does not open this order's feedback: it was changed, cut short or is another order's",
            code="invalid_token",
            status=401,
        )
    if now.timestamp() > int(issued) + valid.total_seconds():
        raise FeedbackTokenRefused(
            f"the feedback link has expired (links work for {valid.days} days)",
            code="expired_token",
            status=401,
        )


@dataclass(frozen=True)
class CancellationResult:
    """The answer to a cancel request; asking again answers the same."""

    order_id: str
    status: str
    """cancelled, partially_cancelled, requested (the warehouse is being asked) or refused."""
    reason: str
    refund: int
    refused_because: str | None = None


# --- the steps of a cancellation on the order aggregate ------------------------------------------------------


def ask_fulfillment_to_stop(order: Order, group_ids: Sequence[str], *, reason: str) -> None:
    """Ask fulfillment to stop each group the warehouse has but has not packed yet."""
    for group_id in group_ids:
        group = order.group(group_id)
        assert group is not None
        order.send(
            fulfillment_contracts.CancelFulfillmentOrder(
                order_id=order.id,
                group_id=group_id,
                location=group.location,
                lines=[LocatedLine.model_validate(line) for line in group.lines],
                shipping_address=Address.model_validate(order.shipping_address),
                reason=reason,
            )
        )


def waiting_preorder_units(order: Order) -> int:
    """Pre-ordered units neither allocated nor refunded: their places in the queue go with a cancellation."""
    waiting = sum(
        line.quantity - line.units_allocated - line.quantity_refunded
        for line in order.lines
        if line.kind == "preorder"
    )
    return max(waiting, 0)


@dataclass(frozen=True)
class Cancelled:
    """What finishing a cancellation did to the order."""

    refund: Money
    kept_deposits: Money
    partial: bool
    """Some groups are kept (shipped, or the warehouse would not stop them): the rest is cancelled."""
    dropped: list[str]
    """The groups cancelled now: their pending jobs (balance charges, reminders, dunning) go."""


def finish_cancellation(order: Order, *, reason: str, asked: Collection[str]) -> Cancelled:
    """Cancel every group not kept, give its stock and places back, and refund all but what is kept (what
    shipped, and a non-refundable deposit unless the shop broke its promise)."""
    released: list[LocatedLine] = []
    dropped: list[str] = []
    for group in order.groups:
        if group.status in NOT_YET_WITH_THE_WAREHOUSE:
            group.status = GroupStatus.CANCELLED
            dropped.append(group.id)
            released.extend(LocatedLine.model_validate(line) for line in group.lines)
        elif group.status is GroupStatus.CANCELLED and group.id in asked:
            released.extend(LocatedLine.model_validate(line) for line in group.lines)
    kept_groups = [group for group in order.groups if group.status is not GroupStatus.CANCELLED]
    kept_units: Counter[str] = Counter()
    for group in kept_groups:
        for kept in group.lines:
            kept_units[kept["sku"]] += int(kept["quantity"])
    kept_value = kept_deposits = order.zero()
    for line in order.lines:
        cancelled_units = line.quantity - line.quantity_refunded - kept_units[line.sku]
        kept_value += line.unit_price * kept_units[line.sku]
        policy = policy_of(line) if line.kind == "preorder" else None
        if (
            policy is not None
            and policy.payment_mode == "deposit"
            and not policy.deposit_refundable
            and reason not in SHOP_BROKE_ITS_PROMISE
        ):
            kept_deposits += kept_deposit(
                paid_now=line.paid_now, quantity=line.quantity, cancelled_units=cancelled_units
            )
        if cancelled_units > 0:
            line.quantity_refunded += cancelled_units
    refund = refund_for_cancellation(
        captured=order.captured,
        refunded=order.refund_requested,
        kept_value=kept_value,
        subtotal=order.subtotal,
        discount=order.discount,
        shipping=order.shipping,
        kept_deposits=kept_deposits,
        tax_added=order.tax_added,
    )
    partial = bool(kept_groups)
    if partial:
        order.send(
            catalog_contracts.ReleaseStock(
                order_id=order.id,
                reason=reason,
                lines=[line for line in released if line.quantity > 0],
                release_id=f"cancel:{order.id}",  # an order is cancelled once: one partial release
            )
        )
        order.move_on_if_all_left()
    else:
        order.move_to(OrderStatus.CANCELLED, reason=reason)
        order.send(catalog_contracts.ReleaseStock(order_id=order.id, reason=reason))
    order.request_refund(refund, key=f"cancel:{order.id}", reason=reason)
    return Cancelled(refund=refund, kept_deposits=kept_deposits, partial=partial, dropped=dropped)


def announce_cancellation(
    order: Order,
    cancelled: Cancelled,
    *,
    reason: str,
    note: str | None,
    cancelled_by: str,
    code: WinBackCode | None,
    offer: WinBackOffer | None = None,
    feedback: str | None = None,
) -> None:
    """Record the cancellation on the timeline and tell the customer, with the win-back offer for the reason (the
    code issued, or a link) and the token of the feedback link when one was given."""
    order.record(
        "partially_cancelled" if cancelled.partial else "cancelled",
        reason=reason,
        refund=cancelled.refund.amount,
        kept=cancelled.kept_deposits.amount,
        discount_code=code.code if code else None,
    )
    order.send(
        contracts.OrderCancelled(
            order_id=order.id,
            customer=order.customer,
            reason=reason,
            refund=cancelled.refund,
            note=note,
            cancelled_by=cancelled_by,
            partial=cancelled.partial,
            held=order.payment_held,
            discount_code=code.code if code else None,
            discount_percent=code.percent_off if code else None,
            discount_expires_at=code.expires_at if code else None,
            offer=told_offer(offer, code, skus=[line.sku for line in order.lines]),
            feedback_token=feedback,
        )
    )
