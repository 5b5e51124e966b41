"""What payments subscribes to: each consumer translates a contract into a handler call, nothing more.

Consumers take the PSP and the hold policy as keywords; ``bootstrap`` binds them, so ``SUBSCRIPTIONS`` stays
one plain dict. Orders' confirmations and fulfillment's shipments and deliveries matter to held orders only
(captured at shipment); for any other order they change nothing, and ``PROBES`` says so before they are claimed
(``shop_runtime.consumer.Probed``; why that stays exactly once: ``hold_handlers.order_is_held``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from shop_contracts import Message, fulfillment
from shop_contracts import orders as orders_contracts
from shop_contracts import payments as contracts
from shop_contracts.values import LocatedLine
from shop_payments import handlers, hold_dunning, hold_handlers, refunds, subscription_charges
from shop_payments.hold_handlers import HoldPolicy
from shop_payments.holds import OrderTerms, ShipmentFact
from shop_payments.psp import PaymentServiceProvider
from shop_runtime.consumer import MessageProbe
from shop_runtime.database import UnitOfWork

PaymentsConsumer = Callable[..., Awaitable[None]]
"""``(message, uow, *, psp, policy)``: the runtime's consumer signature plus what the bootstrap binds."""


async def on_capture_payment(
    message: contracts.CapturePayment, uow: UnitOfWork, *, psp: PaymentServiceProvider, policy: HoldPolicy
) -> None:
    await handlers.capture_payment(
        uow,
        psp=psp,
        order_id=message.order_id,
        step=message.step,
        amount=message.amount,
        payment_token=message.payment_token,
        save_method=message.save_method,
        balance_later=message.balance_later,
        bank_transfer_reference=message.bank_transfer_reference,
        policy=policy,
    )


async def on_charge_balance(
    message: contracts.ChargeBalance, uow: UnitOfWork, *, psp: PaymentServiceProvider, policy: HoldPolicy
) -> None:
    await handlers.charge_balance(
        uow,
        psp=psp,
        order_id=message.order_id,
        group_id=message.group_id,
        amount=message.amount,
        attempt=message.attempt,
        # Older producers do not number their asks: when orders made it (the envelope's time) tells instead.
        asked_at=uow.causation.time if uow.causation else None,
    )


async def on_issue_refund(
    message: contracts.IssueRefund, uow: UnitOfWork, *, psp: PaymentServiceProvider, policy: HoldPolicy
) -> None:
    await refunds.refund_as_asked(
        uow,
        psp=psp,
        order_id=message.order_id,
        amount=message.amount,
        reason=message.reason,
        idempotency_key=message.idempotency_key,
    )


async def on_order_confirmed(
    message: orders_contracts.OrderConfirmed,
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    policy: HoldPolicy,
) -> None:
    def terms() -> OrderTerms:
        units: Counter[str] = Counter()
        for line in message.lines:
            units[line.sku] += line.quantity
        return OrderTerms(
            order_id=message.order_id,
            currency=message.currency,
            subtotal=message.subtotal.amount,
            total=message.total.amount,
            units=dict(units),
            prices={line.sku: line.unit_price.amount for line in message.lines},
            has_preorder_lines=bool(message.preorder_lines),
            customer_email=message.customer.email,
            customer_locale=message.customer.locale,
        )

    await hold_handlers.record_confirmation(uow, psp=psp, order_id=message.order_id, terms=terms)


def _units(lines: list[LocatedLine]) -> dict[str, int]:
    units: Counter[str] = Counter()
    for line in lines:
        units[line.sku] += line.quantity
    return dict(units)


async def on_shipment_shipped(
    message: fulfillment.ShipmentShipped, uow: UnitOfWork, *, psp: PaymentServiceProvider, policy: HoldPolicy
) -> None:
    await hold_handlers.record_shipment(
        uow,
        psp=psp,
        order_id=message.order_id,
        shipment=lambda: ShipmentFact(
            shipment_id=message.group_id or message.fulfillment_id,
            shipped=_units(message.lines),
            short=_units(message.short_lines),
        ),
    )


async def on_shipment_delivered(
    message: fulfillment.ShipmentDelivered,
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    policy: HoldPolicy,
) -> None:
    """A delivery handled before its shipment carries the shipment: it is recorded from it."""
    shipment = message.shipment
    if shipment is None:
        return
    await hold_handlers.record_shipment(
        uow,
        psp=psp,
        order_id=message.order_id,
        shipment=lambda: ShipmentFact(
            shipment_id=message.group_id or message.fulfillment_id,
            shipped=_units(shipment.lines),
            short=_units(shipment.short_lines),
        ),
    )


async def on_payment_method_updated(
    message: contracts.PaymentMethodUpdated,
    uow: UnitOfWork,
    *,
    psp: PaymentServiceProvider,
    policy: HoldPolicy,
) -> None:
    await hold_dunning.charge_again(uow, psp=psp, policy=policy, order_id=message.order_id)


async def order_is_held(
    message: orders_contracts.OrderConfirmed | fulfillment.ShipmentShipped | fulfillment.ShipmentDelivered,
    session: AsyncSession,
) -> bool:
    return await hold_handlers.order_is_held(session, order_id=message.order_id)


async def delivery_carries_shipment_of_held_order(
    message: fulfillment.ShipmentDelivered, session: AsyncSession
) -> bool:
    """A delivery without its shipment changes nothing, held order or not (``on_shipment_delivered``)."""
    return message.shipment is not None and await order_is_held(message, session)


SUBSCRIPTIONS: Mapping[type[Message], PaymentsConsumer] = {
    contracts.CapturePayment: on_capture_payment,
    contracts.ChargeBalance: on_charge_balance,
    contracts.IssueRefund: on_issue_refund,
    orders_contracts.OrderConfirmed: on_order_confirmed,
    fulfillment.ShipmentShipped: on_shipment_shipped,
    fulfillment.ShipmentDelivered: on_shipment_delivered,
    contracts.PaymentMethodUpdated: on_payment_method_updated,
    contracts.ChargeSubscriptionCycle: subscription_charges.on_charge_subscription_cycle,
}

PROBES: Mapping[type[Message], MessageProbe] = {
    orders_contracts.OrderConfirmed: order_is_held,
    fulfillment.ShipmentShipped: order_is_held,
    fulfillment.ShipmentDelivered: delivery_carries_shipment_of_held_order,
}
"""The subscriptions whose message is looked at before it is claimed: False acks it unclaimed, as a no-op."""
