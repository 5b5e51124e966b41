"""Placing an order at checkout and the saga's next step: stock reserved (take the payment) or refused (reject,
or cancel and refund an order whose capture went ahead on its hold at checkout)."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shop_contracts.money import Money
from shop_contracts.values import (
    Customer,
    LocatedLine,
    PreorderLine,
)
from shop_orders.cancellation import handlers as cancellation
from shop_orders.cancellation.repository import Cancellations
from shop_orders.checkout.holds import StockHolds, refusal
from shop_orders.core.domain import (
    ACCEPTED,
    STOCK_LOST_REASON,
    OrderStatus,
    can_move,
)
from shop_orders.core.errors import IdempotencyKeyReused, NotCancellable
from shop_orders.core.groups import reject_order, store
from shop_orders.core.jobs import schedule_promise_check
from shop_orders.core.metrics import ORDERS_PLACED, ORDERS_REJECTED, count_confirmed
from shop_orders.core.order import Order
from shop_orders.core.pricing import (
    SAME_DAY,
    CheckoutLine,
    PricedCheckout,
    SameDayArea,
    TaxTable,
    checkout_fingerprint,
    discount_for,
    order_tax,
    price_checkout,
    same_day_locations,
)
from shop_orders.core.repository import CheckoutFacts, KnownCheckout, Orders, SqlOrders
from shop_runtime.database import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkout:
    """A storefront's checkout request, as orders needs it."""

    idempotency_key: str
    email: str
    locale: str
    currency: str
    lines: list[CheckoutLine]
    shipping_address: dict[str, Any]
    shipping_method: str
    payment_token: str
    request: dict[str, Any]
    """The request body as received, to recognise a retry of the same checkout."""
    discount_code: str | None = None
    customer_id: str | None = None
    """The signed-in customer's account; None for a guest."""
    customer_segments: tuple[str, ...] = ()
    """The account's segments: catalog opens a pre-order's early access by them (a guest has none)."""
    stock_at_locations: dict[str, dict[str, int]] | None = None
    """Available units by location and SKU as catalog showed them at checkout (for same-day delivery)."""


@dataclass(frozen=True)
class PlacedOrder:
    order_id: str
    status: str
    created: bool


class CheckoutReads(Protocol):
    """What a checkout reads before it decides: ``SqlCheckoutReads`` reads outside the unit of work's transaction
    (the HTTP route's), ``OrdersReads`` through the handler's ``Orders``."""

    async def checkout_facts(self, idempotency_key: str, skus: list[str]) -> CheckoutFacts:
        """The order this Idempotency-Key placed, if any, and orders' copy of the variants of ``skus``."""
        ...


class OrdersReads:
    """A checkout's reads through ``Orders`` (in the unit of work's transaction): two reads."""

    def __init__(self, orders: Orders) -> None:
        self._orders = orders

    async def checkout_facts(self, idempotency_key: str, skus: list[str]) -> CheckoutFacts:
        existing = await self._orders.with_idempotency_key(idempotency_key)
        if existing is not None:
            known = KnownCheckout(
                order_id=existing.id,
                status=existing.status.value,
                request_fingerprint=existing.request_fingerprint,
            )
            return CheckoutFacts(known=known, variants={})
        return CheckoutFacts(known=None, variants=await self._orders.variants(skus))


CHECKOUT_ORDER_IDS = uuid.UUID("5b1d0f0e-8f7c-4b8e-9a61-3c2f4d7e9a10")
"""The namespace of the order ids checkouts make from their Idempotency-Key and body (``order_id_for``)."""


def order_id_for(idempotency_key: str, fingerprint: str) -> str:
    """The order id a checkout holds and stores under: the same for the same key and body.

    A retry that overtakes the first attempt (the storefront gave up waiting and sent the key again while the
    first was still being stored) then holds under the first's id, and catalog answers it what it held for the
    first, instead of holding the units a second time under an id no order will ever claim (given back only when
    the hold expires). A key sent again with another body gets another id, so one order never claims another's
    hold.
    """
    return str(uuid.uuid5(CHECKOUT_ORDER_IDS, f"{idempotency_key}\n{fingerprint}"))


@dataclass(frozen=True)
class PricedOrder:
    """A new checkout priced from orders' copy of the catalog, before anything is written or held."""

    order_id: str
    fingerprint: str
    priced: PricedCheckout
    same_day_from: list[str] | None


async def place_order(
    uow: UnitOfWork,
    *,
    checkout: Checkout,
    shipping_rates: dict[str, dict[str, int]],
    now: datetime,
    free_shipping_over: dict[str, int] | None = None,
    taxes: TaxTable | None = None,
    same_day_areas: dict[str, list[SameDayArea]] | None = None,
    orders: Orders | None = None,
    holds: StockHolds | None = None,
    reads: CheckoutReads | None = None,
) -> PlacedOrder:
    """Store a pending order priced from orders' own view of the catalog, its units held in catalog: ``price_order``
    then ``store_order`` in ``uow`` (``reads``, by default, through ``orders`` in the same transaction)."""
    orders = orders or SqlOrders(uow.session, unit_of_work=uow)
    decided = await price_order(
        checkout,
        reads=reads or OrdersReads(orders),
        shipping_rates=shipping_rates,
        now=now,
        free_shipping_over=free_shipping_over,
        same_day_areas=same_day_areas,
    )
    if isinstance(decided, PlacedOrder):
        return decided
    return await store_order(
        uow, decided, checkout=checkout, now=now, taxes=taxes, orders=orders, holds=holds
    )


async def price_order(
    checkout: Checkout,
    *,
    reads: CheckoutReads,
    shipping_rates: dict[str, dict[str, int]],
    now: datetime,
    free_shipping_over: dict[str, int] | None = None,
    same_day_areas: dict[str, list[SameDayArea]] | None = None,
) -> PricedOrder | PlacedOrder:
    """What a checkout decides from reads alone: the order its Idempotency-Key already placed (a retry), or the
    new order priced. Raises the refusal orders' copy already knows (a sold-out or unknown SKU, a key reused
    for another checkout), so a checkout refused here writes nothing and needs no unit of work."""
    fingerprint = checkout_fingerprint(checkout.request)
    facts = await reads.checkout_facts(checkout.idempotency_key, [line.sku for line in checkout.lines])
    if facts.known is not None:
        if facts.known.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different checkout; use a new key for a new order",
                field="header:Idempotency-Key",
            )
        return PlacedOrder(order_id=facts.known.order_id, status=facts.known.status, created=False)
    variants = facts.variants
    priced = price_checkout(
        currency=checkout.currency,
        lines=checkout.lines,
        variants=variants,
        shipping_method=checkout.shipping_method,
        shipping_rates=shipping_rates,
        now=now,
        free_shipping_over=free_shipping_over,
        segments=frozenset(checkout.customer_segments),
    )
    same_day_from = None
    if checkout.shipping_method == SAME_DAY:
        same_day_from = same_day_locations(
            address=checkout.shipping_address,
            lines=checkout.lines,
            areas=same_day_areas or {},
            preorder_skus={sku for sku, variant in variants.items() if variant.preorder_policy is not None},
            stock=checkout.stock_at_locations,
        )
    return PricedOrder(
        order_id=order_id_for(checkout.idempotency_key, fingerprint),
        fingerprint=fingerprint,
        priced=priced,
        same_day_from=same_day_from,
    )


async def store_order(
    uow: UnitOfWork,
    decided: PricedOrder,
    *,
    checkout: Checkout,
    now: datetime,
    taxes: TaxTable | None = None,
    orders: Orders | None = None,
    holds: StockHolds | None = None,
) -> PlacedOrder:
    """Redeem the discount code, hold the lines in catalog and store the priced order with its first message.

    With ``holds``, catalog holds the lines before the order is stored: a line it cannot cover refuses the
    checkout (nothing is stored), so a placed order has its units. Its answer is the order's reservation: the
    order is stored reserved, asking payments for the capture and catalog only to claim the hold (which answers
    only if it cannot). Needs no other service to be up: when catalog does not answer, the order is stored
    pending all the same and the saga's reserve decides. Nothing touches
    the unit of work before the order is written unless a discount code is redeemed, so no transaction is open
    while catalog holds the lines; the order's statement, with its messages, is then the whole transaction
    (``SqlOrders.add`` as the unit of work's last statement).
    """
    orders = orders or SqlOrders(uow.session, unit_of_work=uow)
    priced, same_day_from, fingerprint = decided.priced, decided.same_day_from, decided.fingerprint
    order_id = decided.order_id
    discount = Money.zero(priced.currency)
    if checkout.discount_code is not None:
        # Redeemed before the hold, its row locked until the order is stored: a refused code holds nothing.
        terms = await orders.redeem_discount_code(
            checkout.discount_code,
            order_id=order_id,
            now=now,
            customer_id=checkout.customer_id,
            email=checkout.email,
            currency=priced.currency,
        )
        discount = discount_for(
            subtotal=Money(priced.subtotal, priced.currency),
            percent_off=terms.percent_off,
            amount_off=Money(terms.amount_off, priced.currency),
        )
        if terms.free_shipping:
            priced = dataclasses.replace(priced, shipping=0)
    held = None
    if holds is not None:
        answer = await holds.hold(
            order_id=order_id,
            lines=checkout.lines,
            customer_email=checkout.email,
            customer_segments=checkout.customer_segments,
            only_at_one_of=same_day_from,
        )
        if isinstance(answer, list):
            raise refusal(answer)
        held = answer
    tax = order_tax(
        address=checkout.shipping_address,
        rates=taxes.rates if taxes else {},
        added_on_top_countries=taxes.added_on_top_countries if taxes else frozenset(),
        subtotal=Money(priced.subtotal, priced.currency),
        discount=discount,
        shipping=Money(priced.shipping, priced.currency),
    )
    order = Order.place(
        order_id,
        priced=priced,
        customer=Customer(email=checkout.email, locale=checkout.locale),
        shipping_address=checkout.shipping_address,
        shipping_method=checkout.shipping_method,
        payment_token=checkout.payment_token,
        idempotency_key=checkout.idempotency_key,
        request_fingerprint=fingerprint,
        customer_id=checkout.customer_id,
        customer_segments=checkout.customer_segments,
        discount=discount,
        discount_code=checkout.discount_code,
        tax=tax,
        only_at_one_of=same_day_from,
        now=now,
        claim_hold=held is not None,
    )
    if held is not None:
        # The lines were priced from the same copy of the catalog: a pre-order line carries its policy.
        for sku, promised in order.hold_stock(held.lines, held.preorder_lines, {}):
            await schedule_promise_check(uow, order_id=order_id, sku=sku, promised=promised)
    for message in order.take_messages():  # the saga starts here: its messages carry the order's id
        uow.publish(message, subject=order_id, correlation_id=order_id)
    await orders.add(order)  # last: the order's statement carries the messages published above
    uow.after_commit(ORDERS_PLACED.labels(priced.currency).inc)
    return PlacedOrder(order_id=order_id, status=order.status.value, created=True)


async def take_payment_for_reserved_stock(
    uow: UnitOfWork,
    *,
    order_id: str,
    lines: list[LocatedLine],
    preorder_lines: list[PreorderLine],
    orders: Orders | None = None,
) -> bool:
    """Stock is held and pre-orders have their places: charge what is due now and save the card for later.

    False when no order has this id: catalog answered a draft's hold (a draft's reservation id is never an
    order's until the draft completes into that order)."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get_if_any(order_id)
    if order is None:
        return False
    if order.status is OrderStatus.CANCELLED:
        order.release_late_reservation()
    elif can_move(order.status, OrderStatus.RESERVED):
        waiting = [line.sku for line in preorder_lines]
        current = await orders.variants(waiting) if waiting else {}
        for sku, promised in order.hold_stock(lines, preorder_lines, current):
            await schedule_promise_check(uow, order_id=order_id, sku=sku, promised=promised)
        if order.status is OrderStatus.CONFIRMED:  # nothing to charge: on payment terms, or paid before
            units = sum(line.quantity for line in order.lines if line.kind == "preorder")
            count_confirmed(uow, currency=order.currency, preorder_units=units)
    await store(uow, order, orders)
    return True


async def reject_for_missing_stock(
    uow: UnitOfWork,
    *,
    order_id: str,
    detail: str,
    now: datetime,
    orders: Orders | None = None,
    cancellations: Cancellations | None = None,
) -> bool:
    """Not enough stock, or no pre-order place: reject. False when no order has this id (catalog refused a
    draft's hold).

    An order placed with a hold at checkout asked for its capture at once, so the refusal (its hold expired
    before the reserve claimed it) may come after the payment: still reserved, it is rejected and a payment that
    succeeds later is refunded (``payment.handlers.confirm_paid_order``); confirmed, it is cancelled by the shop
    and everything it paid is refunded, so no money is kept for units that are not there."""
    orders = orders or SqlOrders(uow.session)
    order = await orders.get_if_any(order_id)
    if order is None:
        return False
    if can_move(order.status, OrderStatus.REJECTED):
        await reject_order(uow, order, reason="out_of_stock", detail=detail, orders=orders)
        uow.after_commit(ORDERS_REJECTED.labels("out_of_stock").inc)
    elif order.status in ACCEPTED:
        try:
            await cancellation.cancel_order(
                uow,
                order_id=order_id,
                reason=STOCK_LOST_REASON,
                note=detail,
                now=now,
                cancelled_by="shop",
                orders=orders,
                cancellations=cancellations,
            )
        except NotCancellable:
            # Packed or shipped from units catalog gave back: only a person can settle it now.
            log.error("catalog refused the stock of order %s after it was packed: %s", order_id, detail)
            order.record("stock_refused_after_packing", detail=detail)
            await store(uow, order, orders)
    return True
