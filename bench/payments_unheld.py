"""``python -m bench.payments_unheld [--orders N] [--rounds R]``: payments' CPU for the messages that change
nothing for an order captured at checkout (most orders): ``orders.order.confirmed``, ``shipment.shipped`` and
``shipment.delivered`` (the delivery carrying its shipment, as fulfillment sends it).

Payments runs in this process on its own database (suffix ``_unheld``), through its real dispatcher and
handlers, as ``bench.saga_sql`` runs it: each order is first paid at checkout (``payments.payment.capture``,
captured in full), then the three messages are dispatched one by one, as a consumer handles a message alone:
each probed first, which for these is all there is (one statement in autocommit, no inbox claim, no commit; a
tree without the probe runs the inbox claim, the handler and the commit). It prints this process's CPU
(``time.process_time``) per message of each type, the median of ``--rounds`` rounds of ``--orders`` orders. The
database's work is not in it (another process); the statements are what ``bench.saga_sql`` counts. Run it with
another tree's sources first on ``PYTHONPATH`` to compare (alternate the runs: the machine is shared). It never
passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from typing import Any, cast

from shop_contracts import Envelope, Message, fulfillment
from shop_contracts import orders as orders_contracts
from shop_contracts import payments as payments_contracts
from shop_contracts.money import Money
from shop_contracts.values import Address, Customer, LocatedLine, PricedLine
from shop_payments.bootstrap import DEFINITION as PAYMENTS
from shop_runtime.clock import SystemClock
from shop_runtime.consumer import Dispatcher
from shop_runtime.service import WorkerContext
from tests.support import infra

ADDRESS = Address(name="김민수", line1="테헤란로 1", city="Seoul", postal_code="06236", country="KR")
TYPES = ("orders.order.confirmed", "fulfillment.shipment.shipped", "fulfillment.shipment.delivered")


def _messages(order_id: str) -> list[Message]:
    price = Money(39_000, "KRW")
    line = PricedLine(sku="SHIRT-M", title="Linen shirt", quantity=1, unit_price=price, line_total=price)
    located = [LocatedLine(sku="SHIRT-M", quantity=1, location="seoul-1")]
    return [
        orders_contracts.OrderConfirmed(
            order_id=order_id,
            customer=Customer(email="buyer@example.com", locale="ko"),
            lines=[line],
            subtotal=price,
            shipping=Money(3_000, "KRW"),
            total=Money(42_000, "KRW"),
            shipping_address=ADDRESS,
        ),
        fulfillment.ShipmentShipped(
            fulfillment_id=f"f-{order_id}",
            order_id=order_id,
            location="seoul-1",
            lines=located,
            carrier="cj",
            tracking_number=f"T-{order_id}",
            group_id=f"g-{order_id}",
        ),
        fulfillment.ShipmentDelivered(
            fulfillment_id=f"f-{order_id}",
            order_id=order_id,
            group_id=f"g-{order_id}",
            shipment=fulfillment.Shipment(
                location="seoul-1", lines=located, carrier="cj", tracking_number=f"T-{order_id}"
            ),
        ),
    ]


def _envelope(message: Message, order_id: str) -> Envelope:
    return Envelope.wrap(message, subject=order_id, correlation_id=order_id)


async def measure(orders: int, rounds: int) -> dict[str, list[float]]:
    settings = infra.service_settings(PAYMENTS, suffix="_unheld")
    await infra.fresh_database(PAYMENTS, settings)
    database = PAYMENTS.database(settings)
    context = WorkerContext(settings=settings, database=database, broker=cast(Any, None), clock=SystemClock())
    dispatcher = Dispatcher(database, consumer="payments", subscriptions=PAYMENTS.subscriptions(context))
    per_round: dict[str, list[float]] = {kind: [] for kind in TYPES}
    try:
        for round_number in range(rounds + 1):  # the first round warms up
            spent = dict.fromkeys(TYPES, 0.0)
            for index in range(orders):
                order_id = f"unheld-{round_number}-{index}-{uuid.uuid4().hex[:6]}"
                capture = payments_contracts.CapturePayment(
                    order_id=order_id, step="full", amount=Money(42_000, "KRW"), payment_token="tok_visa"
                )
                await dispatcher.dispatch(_envelope(capture, order_id))
                for kind, message in zip(TYPES, _messages(order_id), strict=True):
                    envelope = _envelope(message, order_id)
                    started = time.process_time()
                    await dispatcher.dispatch(envelope)
                    spent[kind] += time.process_time() - started
            if round_number:
                for kind in TYPES:
                    per_round[kind].append(spent[kind] / orders * 1000)
    finally:
        await database.dispose()
    return per_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200, help="orders a round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds measured (after one that warms up)")
    arguments = parser.parse_args()
    per_round = asyncio.run(measure(arguments.orders, arguments.rounds))
    print(
        f"payments' CPU ms per message, order captured at checkout ({arguments.orders} orders x {arguments.rounds}):"
    )
    for kind, figures in per_round.items():
        rounds = ", ".join(f"{figure:.3f}" for figure in figures)
        print(f"  {kind}: median {statistics.median(figures):.3f} ({rounds})")
    total = [sum(figures) for figures in zip(*per_round.values(), strict=True)]
    print(f"  the three: median {statistics.median(total):.3f}")


if __name__ == "__main__":
    main()
