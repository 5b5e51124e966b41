"""A pre-order as checkout places it and catalog and payments answer it, through orders' real handlers, with the
order in a ``FakeOrders`` and its jobs in a ``FakeJobs``; and a job or a message handled in a transaction of its
own, as the scheduler and the dispatcher do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from shop_contracts import payments as payment_contracts
from shop_contracts.values import PreorderLine, PreorderPolicy
from shop_orders.checkout import handlers as checkout
from shop_orders.core.order import Order
from shop_orders.payment import handlers as payment
from tests.support.fakes import FakeJobs, FakeUnitOfWork
from tests.unit.orders.fakes import NOW, FakeOrders, order_line, placed

NOTICE = timedelta(days=3)
"""How long before a balance is charged the customer is reminded of it (orders' ``balance_notice_hours``)."""
EXPECTED = date(2027, 2, 10)
BALANCE_AT = datetime(2027, 2, 1, tzinfo=UTC)
ON_READY = PreorderPolicy(
    payment_mode="deposit", deposit_percent=20, balance_due="on_ready", expected_ship_date=EXPECTED
)
BY_THE_CLOCK = PreorderPolicy(
    payment_mode="deposit",
    deposit_percent=20,
    balance_due="at",
    balance_due_at=BALANCE_AT,
    expected_ship_date=EXPECTED,
)


def preorder(policy: PreorderPolicy, *, quantity: int = 1) -> Order:
    """A pending order for ``quantity`` figures at 60,000 won, sold under ``policy``, shipped for 3,000."""
    line = order_line(
        order_id="o-1", position=0, sku="FIG", title="Figure", quantity=quantity, unit_price=60000,
        line_total=60000 * quantity, preorder_policy=policy.model_dump(mode="json"),
    )  # fmt: skip
    return placed(lines=[line], subtotal=60000 * quantity, total=60000 * quantity + 3000)


Step = Callable[[FakeUnitOfWork], Awaitable[object]]


async def step(jobs: FakeJobs, handler: Step) -> FakeUnitOfWork:
    """Run one handler in a unit of work of its own over the shared schedule; what it published is kept."""
    uow = FakeUnitOfWork(jobs)
    await handler(uow)
    return uow


async def confirmed(
    orders: FakeOrders, jobs: FakeJobs, *, expected: date | None = EXPECTED, now: datetime = NOW
) -> int:
    """Catalog gives the order's figures a place in the queue and payments captures what is due now; what
    was captured."""
    held = await step(
        jobs,
        lambda uow: checkout.take_payment_for_reserved_stock(
            uow,
            order_id="o-1",
            lines=[],
            preorder_lines=[
                PreorderLine(
                    sku="FIG",
                    quantity=orders.stored["o-1"].line("FIG").quantity,
                    queue_position=3,
                    expected_ship_date=expected,
                )
            ],
            orders=orders,
        ),
    )
    [capture] = held.of_type(payment_contracts.CapturePayment)
    await step(
        jobs,
        lambda uow: payment.confirm_paid_order(
            uow,
            order_id="o-1",
            payment_id="pay-1",
            amount=capture.amount,
            now=now,
            balance_notice=NOTICE,
            orders=orders,
        ),
    )
    return capture.amount.amount
