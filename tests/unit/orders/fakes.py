"""Orders in memory for handler tests, and an order as checkout places it, held and paid through the real
handlers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from shop_contracts.money import Money
from shop_contracts.values import LocatedLine
from shop_orders.checkout import handlers as checkout
from shop_orders.core.domain import CatalogVariant, OrderStatus
from shop_orders.core.errors import UnknownOrder
from shop_orders.core.order import ORDER_MONEY, Order
from shop_orders.core.parts import LINE_MONEY, OrderLine
from shop_orders.core.pricing import CodeTerms
from shop_orders.payment import handlers as payment
from tests.support.fakes import FakeUnitOfWork

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
ADDRESS = {"name": "김민수", "line1": "테헤란로 1", "city": "Seoul", "postal_code": "06236", "country": "KR"}


class FakeOrders:
    """Orders in memory. Like the database, each load is a fresh copy: what a handler changes is kept only
    when it saves, and the events it recorded go to the timeline."""

    def __init__(self, *orders: Order) -> None:
        self.stored = {order.id: order for order in orders}
        self.timeline: list[tuple[str, str, dict[str, Any]]] = []
        self.freed_codes: list[str] = []
        self.catalog: dict[str, CatalogVariant] = {}
        self.codes: dict[str, CodeTerms] = {}
        """Discount codes and what each takes off."""
        self.redeemed: list[tuple[str, str]] = []
        self.redeemed_by: list[tuple[str | None, str | None]] = []
        """The customer id and email each code was redeemed for."""

    async def get(self, order_id: str) -> Order:
        order = await self.get_if_any(order_id)
        if order is None:
            raise UnknownOrder(f"no order {order_id}", field="order_id")
        return order

    async def get_if_any(self, order_id: str) -> Order | None:
        order = self.stored.get(order_id)
        return None if order is None else copy.deepcopy(order)

    async def save(self, order: Order) -> None:
        self.timeline += [(order.id, event, detail) for event, detail in order.timeline]
        order.timeline = []
        for entity in (order, *order.lines, *order.groups):
            entity.mark_saved()
        for group in order.groups:
            group.new = False
        kept = copy.deepcopy(order)
        kept.messages = []
        self.stored[order.id] = kept

    async def add(self, order: Order) -> None:
        assert order.id not in self.stored
        await self.save(order)

    async def with_idempotency_key(self, key: str) -> Order | None:
        found = [order for order in self.stored.values() if order.idempotency_key == key]
        return copy.deepcopy(found[0]) if found else None

    async def redeem_discount_code(
        self,
        code: str,
        *,
        order_id: str,
        now: datetime,
        customer_id: str | None = None,
        email: str | None = None,
        currency: str | None = None,
    ) -> CodeTerms:
        self.redeemed.append((code, order_id))
        self.redeemed_by.append((customer_id, email))
        return self.codes[code]

    async def variants(self, skus: list[str]) -> dict[str, CatalogVariant]:
        return {sku: self.catalog[sku] for sku in skus if sku in self.catalog}

    async def free_discount_code(self, order_id: str) -> None:
        self.freed_codes.append(order_id)

    def events_of(self, order_id: str) -> list[str]:
        return [event for about, event, _ in self.timeline if about == order_id]


def KRW(amount: int) -> Money:
    return Money(amount, "KRW")


def _money(values: dict[str, Any], fields: frozenset[str], currency: str) -> dict[str, Any]:
    """``values`` with the whole numbers given for money fields as Money in ``currency``, none missing."""
    given = {name: 0 for name in fields} | values
    return {
        name: Money(value, currency) if name in fields and isinstance(value, int) else value
        for name, value in given.items()
    }


def order_line(*, currency: str = "KRW", **values: Any) -> OrderLine:
    """A line of an order, its amounts given as whole numbers in ``currency`` (or as Money); nothing paid now
    and no balance unless given."""
    return OrderLine(**_money(values, LINE_MONEY, currency))


def placed(order_id: str = "o-1", **columns: Any) -> Order:
    """A pending order for two T-shirts and a cap, shipped for 3,000 won. Amounts given as whole numbers are in
    the order's currency."""
    lines = [
        order_line(order_id=order_id, position=0, sku="TEE-M", title="Tee", quantity=2, unit_price=15000,
                   line_total=30000),
        order_line(order_id=order_id, position=1, sku="CAP", title="Cap", quantity=1, unit_price=8000,
                   line_total=8000),
    ]  # fmt: skip
    values: dict[str, Any] = {
        "id": order_id,
        "status": OrderStatus.PENDING,
        "email": "minsu@example.com",
        "locale": "ko",
        "currency": "KRW",
        "subtotal": 38000,
        "shipping": 3000,
        "total": 41000,
        "shipping_address": ADDRESS,
        "shipping_method": "standard",
        "idempotency_key": f"key-{order_id}",
        "request_fingerprint": "fp",
        "created_at": NOW,
        "updated_at": NOW,
        "payment_token": "tok_visa",
        "lines": lines,
    }
    values |= columns
    optional = {"charged_now", "payment_due_amount"}
    money = _money(values, ORDER_MONEY - optional, values["currency"])
    money |= {
        name: Money(value, values["currency"])
        for name, value in values.items()
        if name in optional and isinstance(value, int)
    }
    return Order(**money)


HELD = [
    LocatedLine(sku="TEE-M", quantity=2, location="seoul-1"),
    LocatedLine(sku="CAP", quantity=1, location="busan-1"),
]


async def held(orders: FakeOrders, order_id: str = "o-1") -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    assert await checkout.take_payment_for_reserved_stock(
        uow, order_id=order_id, lines=HELD, preorder_lines=[], orders=orders
    )
    return uow


async def paid(
    orders: FakeOrders, order_id: str = "o-1", amount: int | Money = 41000, *, held: bool = False
) -> FakeUnitOfWork:
    """Payments' answer to checkout: captured, or (``held``) authorised as a card hold captured at shipment."""
    uow = FakeUnitOfWork()
    await payment.confirm_paid_order(
        uow,
        order_id=order_id,
        payment_id="pay-1",
        amount=KRW(amount) if isinstance(amount, int) else amount,
        now=NOW,
        balance_notice=timedelta(days=3),
        held=held,
        orders=orders,
    )
    return uow
