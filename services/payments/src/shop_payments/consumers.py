"""What payments subscribes to: each consumer translates a contract into a handler call, nothing more.

Consumers take the PSP as a keyword; ``bootstrap`` binds it, so ``SUBSCRIPTIONS`` stays one plain dict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from shop_contracts import Message
from shop_contracts import payments as contracts
from shop_contracts.money import Money
from shop_payments import handlers
from shop_payments.psp import PaymentServiceProvider
from shop_runtime.database import UnitOfWork

PaymentsConsumer = Callable[..., Awaitable[None]]
"""``(message, uow, *, psp)``: the runtime's consumer signature plus the PSP the bootstrap binds."""


async def on_capture_payment(
    message: contracts.CapturePayment, uow: UnitOfWork, *, psp: PaymentServiceProvider
) -> None:
    await handlers.capture_payment(
        uow,
        psp=psp,
        order_id=message.order_id,
        step=message.step,
        amount=Money(message.amount, message.currency),
        payment_token=message.payment_token,
        save_method=message.save_method,
        balance_later=message.balance_later,
        bank_transfer_reference=message.bank_transfer_reference,
    )


async def on_charge_balance(
    message: contracts.ChargeBalance, uow: UnitOfWork, *, psp: PaymentServiceProvider
) -> None:
    await handlers.charge_balance(
        uow,
        psp=psp,
        order_id=message.order_id,
        group_id=message.group_id,
        amount=Money(message.amount, message.currency),
        attempt=message.attempt,
        # Older producers do not number their asks: when orders made it (the envelope's time) tells instead.
        asked_at=uow.causation.time if uow.causation else None,
    )


async def on_issue_refund(
    message: contracts.IssueRefund, uow: UnitOfWork, *, psp: PaymentServiceProvider
) -> None:
    await handlers.refund_as_asked(
        uow,
        psp=psp,
        order_id=message.order_id,
        amount=message.amount,
        currency=message.currency,
        reason=message.reason,
        idempotency_key=message.idempotency_key,
    )


SUBSCRIPTIONS: Mapping[type[Message], PaymentsConsumer] = {
    contracts.CapturePayment: on_capture_payment,
    contracts.ChargeBalance: on_charge_balance,
    contracts.IssueRefund: on_issue_refund,
}
