"""Orders' business counters, counted once the unit of work committed (the order-flow dashboard reads them)."""

from __future__ import annotations

from shop_runtime.database import UnitOfWork
from shop_runtime.metrics import business_counter

# Business counters, counted once the unit of work committed (the order-flow dashboard reads them).
ORDERS_PLACED = business_counter("shop_orders_placed", "Orders placed at checkout", ["currency"])


ORDERS_CONFIRMED = business_counter(
    "shop_orders_confirmed",
    "Orders confirmed: checkout paid, or (with nothing to charge) a draft on payment terms or a subscription's "
    "cycle charged before its order was placed",
    ["currency"],
)


ORDERS_REJECTED = business_counter("shop_orders_rejected", "Orders rejected", ["reason"])


ORDERS_CANCELLED = business_counter("shop_orders_cancelled", "Orders cancelled", ["reason"])


CHARGED_AT_CHECKOUT = business_counter(
    "shop_orders_charged_at_checkout_minor_units", "Money taken at checkout, in minor units", ["currency"]
)


PREORDER_UNITS = business_counter("shop_preorder_units", "Units accepted as pre-orders (in confirmed orders)")

STOCK_HOLDS = business_counter(
    "shop_orders_stock_holds",
    "Checkouts' holds in catalog by outcome: held, refused (answered 409), unanswered (the saga decides)",
    ["outcome"],
)


def count_confirmed(uow: UnitOfWork, *, currency: str, preorder_units: int) -> None:
    """Once ``uow`` commits: one order more confirmed, with its units accepted as pre-orders."""
    uow.after_commit(ORDERS_CONFIRMED.labels(currency).inc)
    uow.after_commit(lambda: PREORDER_UNITS.inc(preorder_units))
