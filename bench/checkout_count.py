"""``python -m bench.checkout_count [--checkouts N]``: the statements and round trips of orders' checkout, exact.

The checkout's steps as ``POST /orders`` runs them for a guest, in this process on a test database (``SHOP_TEST_RUN``'s
orders database with the suffix ``_checkout_count``): the checkout's read on its autocommit engine
(``SqlCheckoutReads``), then ``store_order`` in a unit of work committed as the route commits it, with catalog's
hold answered in process (held). Counted on both engines: each statement SQLAlchemy executes, and each write to a
PostgreSQL connection's socket (a round trip: BEGIN, the statements, COMMIT or ROLLBACK, a statement prepared the
first time on a connection). Three kinds: a placed checkout, a retry of its key (answered from the read), and a
placed checkout that redeems a discount code (its row locked first, so the order's statement is not the first).
The figures do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from shop_contracts.catalog import StockReserved
from shop_contracts.values import LocatedLine
from shop_orders.bootstrap import DEFINITION
from shop_orders.checkout import handlers
from shop_orders.checkout.holds import Shortage
from shop_orders.core.pricing import CheckoutLine
from shop_orders.core.repository import SqlCheckoutReads
from shop_orders.core.tables import catalog_variants, discount_codes
from shop_orders.settings import OrdersSettings
from shop_runtime.http import committed
from tests.support import infra

ADDRESS = {"name": "김민수", "line1": "테헤란로 1", "city": "Seoul", "postal_code": "06236", "country": "KR"}
KINDS = ("placed", "retried key", "placed with a discount code")


class Held:
    """Catalog's hold, answered in process as ``CatalogHolds`` reads catalog's 201: every line held at one
    location, so the order is stored ``reserved`` with its capture asked for (the hold's answer recorded)."""

    async def hold(
        self,
        *,
        order_id: str,
        lines: Sequence[CheckoutLine],
        customer_email: str,
        customer_segments: Sequence[str],
        only_at_one_of: list[str] | None,
    ) -> StockReserved | list[Shortage] | None:
        return StockReserved(
            order_id=order_id,
            lines=[LocatedLine(sku=line.sku, quantity=line.quantity, location="seoul-1") for line in lines],
        )


class Tally:
    def __init__(self) -> None:
        self.kind: str | None = None
        self.statements: Counter[str] = Counter()
        self.round_trips: Counter[str] = Counter()
        self.texts: Counter[tuple[str, str]] = Counter()

    def watch(self, engine: AsyncEngine) -> None:
        def count_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if self.kind is not None:
                self.statements[self.kind] += 1
                self.texts[(self.kind, " ".join(statement.split())[:120])] += 1

        def count_round_trips(dbapi_connection: Any, _record: Any) -> None:
            transport = dbapi_connection.driver_connection._transport
            write = transport.write

            def counted_write(data: Any) -> None:
                if self.kind is not None:
                    self.round_trips[self.kind] += 1
                write(data)

            transport.write = counted_write

        event.listen(engine.sync_engine, "before_cursor_execute", count_statement)
        event.listen(engine.sync_engine, "connect", count_round_trips)


async def count(checkouts: int) -> Tally:
    settings = cast(OrdersSettings, infra.service_settings(DEFINITION, suffix="_checkout_count"))
    await infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    reads = SqlCheckoutReads.connect(settings.database_url, pool_size=2)
    tally = Tally()
    tally.watch(database.engine)
    tally.watch(reads.engine)
    sku = f"COUNT-{uuid.uuid4().hex[:8].upper()}"
    async with database.engine.begin() as connection:
        await connection.execute(
            sa.insert(catalog_variants).values(
                sku=sku,
                product_id="p",
                variant_id="v",
                title="Tee",
                options={},
                prices={"KRW": 39000},
                version=1,
            )
        )

    async def checkout(key: str, email: str, discount_code: str | None = None) -> handlers.PlacedOrder:
        request = {"key": key, "code": discount_code}
        order = handlers.Checkout(
            idempotency_key=key,
            email=email,
            locale="ko",
            currency="KRW",
            lines=[CheckoutLine(sku, 1)],
            shipping_address=ADDRESS,
            shipping_method="standard",
            payment_token="tok_visa",
            request=request,
            discount_code=discount_code,
        )
        now = datetime.now(UTC)
        decided = await handlers.price_order(
            order, reads=reads, shipping_rates=settings.shipping_rates, now=now
        )
        if isinstance(decided, handlers.PlacedOrder):
            return decided
        async with database.unit_of_work() as uow:
            stored = handlers.store_order(
                uow, decided, checkout=order, now=now, taxes=settings.tax_table(), holds=Held()
            )
            return await committed(uow, stored)

    async def issue_code(for_order: str, email: str) -> str:
        code = f"CODE-{uuid.uuid4().hex[:10].upper()}"
        async with database.engine.begin() as connection:
            await connection.execute(
                sa.insert(discount_codes).values(
                    code=code,
                    email=email,
                    issued_for_order=for_order,
                    kind="percent",
                    percent_off=10,
                    expires_at=datetime.now(UTC) + timedelta(days=30),
                )
            )
        return code

    try:
        for index in range(-2, checkouts):  # the first two warm up: statements prepared on each connection
            email = f"buyer-{index}@example.com"
            key = f"count-{uuid.uuid4()}"
            tally.kind = "placed" if index >= 0 else None
            placed = await checkout(key, email)
            tally.kind = "retried key" if index >= 0 else None
            again = await checkout(key, email)
            tally.kind = None
            if not placed.created or again.created or again.order_id != placed.order_id:
                raise RuntimeError(f"a retried key was not answered with its order: {placed}, {again}")
            code = await issue_code(placed.order_id, email)
            tally.kind = "placed with a discount code" if index >= 0 else None
            discounted = await checkout(f"count-{uuid.uuid4()}", email, discount_code=code)
            tally.kind = None
            if not discounted.created:
                raise RuntimeError("a checkout with a discount code placed no order")
    finally:
        tally.kind = None
        await reads.close()
        await database.dispose()
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.checkout_count",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkouts", type=int, default=20, help="checkouts counted of each kind")
    arguments = parser.parse_args()
    tally = asyncio.run(count(arguments.checkouts))
    for kind in KINDS:
        print(
            f"{kind}: {tally.statements[kind] / arguments.checkouts:.1f} statements, "
            f"{tally.round_trips[kind] / arguments.checkouts:.1f} round trips per checkout"
        )
        for (of, text), times in sorted(tally.texts.items()):
            if of == kind:
                print(f"  {times / arguments.checkouts:.1f}x {text}")


if __name__ == "__main__":
    main()
