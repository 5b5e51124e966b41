"""What orders subscribes to: the outcome of every saga step; each consumer only translates and calls."""

from __future__ import annotations

import functools
from datetime import timedelta

from shop_contracts import catalog, fulfillment, notifications, payments
from shop_orders.cancellation import handlers as cancellation
from shop_orders.checkout import handlers as checkout
from shop_orders.core import groups
from shop_orders.core import jobs as job_kinds
from shop_orders.drafts import reservations
from shop_orders.payment import balances, terms
from shop_orders.payment import handlers as payment
from shop_orders.preorders import handlers as preorders
from shop_orders.promises import handlers as promises
from shop_orders.returns import handlers as returns
from shop_orders.settings import OrdersSettings
from shop_orders.shipping import handlers as shipments
from shop_orders.subscriptions import handlers as subscriptions_handlers
from shop_orders.subscriptions import jobs as subscription_jobs
from shop_orders.subscriptions.api import settings_of as subscription_settings
from shop_orders.variants import handlers as variants
from shop_runtime.clock import Clock
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import UnitOfWork
from shop_runtime.scheduling import Jobs


async def on_variant_updated(message: catalog.VariantUpdated, uow: UnitOfWork) -> None:
    await variants.upsert_catalog_variant(
        uow,
        sku=message.sku,
        product_id=message.product_id,
        variant_id=message.variant_id,
        title=message.title,
        options=message.options,
        prices={price.currency: price.amount for price in message.prices},
        version=message.version,
        sellable=message.sellable,
    )


async def on_preorder_policy_updated(message: catalog.PreorderPolicyUpdated, uow: UnitOfWork) -> None:
    await variants.upsert_preorder_policy(
        uow, sku=message.sku, policy=message.policy, version=message.version
    )


async def on_stock_availability_changed(message: catalog.StockAvailabilityChanged, uow: UnitOfWork) -> None:
    await variants.record_availability(
        uow,
        sku=message.sku,
        in_stock_units=message.in_stock_units,
        preorder_units_left=message.preorder_units_left,
        policy_version=message.policy_version,
        version=message.version,
    )


async def on_stock_reserved(message: catalog.StockReserved, uow: UnitOfWork) -> None:
    if message.exchange_id is not None:
        await returns.exchange_reserved(uow, return_id=message.exchange_id, lines=message.lines)
        return
    if not await checkout.take_payment_for_reserved_stock(
        uow, order_id=message.order_id, lines=message.lines, preorder_lines=message.preorder_lines
    ):
        await reservations.record_reservation(
            uow,
            reservation_id=message.order_id,
            lines=message.lines,
            preorder_places=len(message.preorder_lines),
        )


async def on_preorder_allocated(
    message: catalog.PreorderAllocated, uow: UnitOfWork, *, clock: Clock, settings: OrdersSettings
) -> None:
    await preorders.receive_preorder_allocation(
        uow,
        order_id=message.order_id,
        allocation_id=message.allocation_id,
        sku=message.sku,
        location=message.location,
        quantity=message.quantity,
        now=clock.now(),
        balance_notice=timedelta(hours=settings.balance_notice_hours),
    )


async def on_stock_rejected(message: catalog.StockRejected, uow: UnitOfWork, *, clock: Clock) -> None:
    detail = ", ".join(
        f"{s.sku}: {s.reason} ({s.requested} wanted, {s.available} available)" for s in message.shortages
    )
    if message.exchange_id is not None:
        await returns.exchange_unavailable(
            uow, return_id=message.exchange_id, detail=detail or message.reason
        )
        return
    if not await checkout.reject_for_missing_stock(
        uow, order_id=message.order_id, detail=detail or message.reason, now=clock.now()
    ):
        await reservations.record_reservation_refused(
            uow, reservation_id=message.order_id, detail=detail or message.reason
        )


async def on_payment_succeeded(
    message: payments.PaymentSucceeded, uow: UnitOfWork, *, clock: Clock, settings: OrdersSettings
) -> None:
    await payment.confirm_paid_order(
        uow,
        order_id=message.order_id,
        payment_id=message.payment_id,
        amount=message.amount,
        now=clock.now(),
        balance_notice=timedelta(hours=settings.balance_notice_hours),
        held=message.authorized_only,
    )


async def on_payment_failed(message: payments.PaymentFailed, uow: UnitOfWork) -> None:
    await payment.reject_for_failed_payment(
        uow, order_id=message.order_id, decline_code=message.decline_code, message=message.message
    )


async def on_balance_charged(message: payments.BalanceCharged, uow: UnitOfWork) -> None:
    await balances.release_paid_group(
        uow,
        order_id=message.order_id,
        group_id=message.group_id,
        payment_id=message.payment_id,
        amount=message.amount,
    )


async def on_balance_failed(
    message: payments.BalanceChargeFailed, uow: UnitOfWork, *, clock: Clock, settings: OrdersSettings
) -> None:
    await balances.hold_unpaid_group(
        uow,
        order_id=message.order_id,
        group_id=message.group_id,
        decline_code=message.decline_code,
        message=message.message,
        requires_action=message.requires_action,
        now=clock.now(),
        retry_after=timedelta(hours=settings.dunning_retry_hours),
        dunning_period=timedelta(days=settings.dunning_period_days),
    )


async def on_payment_method_updated(
    message: payments.PaymentMethodUpdated, uow: UnitOfWork, *, clock: Clock
) -> None:
    await balances.retry_with_updated_method(uow, order_id=message.order_id, now=clock.now())


async def on_refund_issued(message: payments.RefundIssued, uow: UnitOfWork) -> None:
    await payment.record_refund(
        uow,
        order_id=message.order_id,
        event="refunded",
        amount=message.amount,
        detail=message.reason,
        idempotency_key=message.idempotency_key,
    )


async def on_refund_rejected(message: payments.RefundRejected, uow: UnitOfWork) -> None:
    await payment.record_refund(
        uow,
        order_id=message.order_id,
        event="refund_rejected",
        amount=message.amount,
        detail=message.error,
        idempotency_key=message.idempotency_key,
    )


async def on_fulfillment_created(message: fulfillment.FulfillmentOrderCreated, uow: UnitOfWork) -> None:
    await shipments.record_fulfillment_created(
        uow,
        order_id=message.order_id,
        fulfillment_id=message.fulfillment_id,
        location=message.location,
        group_id=message.group_id,
    )


async def on_picked(message: fulfillment.FulfillmentPicked, uow: UnitOfWork, *, clock: Clock) -> None:
    await shipments.record_pick(
        uow,
        order_id=message.order_id,
        fulfillment_id=message.fulfillment_id,
        group_id=message.group_id,
        short_lines=message.short_lines,
        now=clock.now(),
    )


async def on_fulfillment_cancelled(
    message: fulfillment.FulfillmentCancelled, uow: UnitOfWork, *, clock: Clock, settings: OrdersSettings
) -> None:
    await cancellation.fulfillment_cancelled(
        uow,
        order_id=message.order_id,
        group_id=message.group_id,
        now=clock.now(),
        token_secret=settings.access_token_secret,
    )


async def on_fulfillment_cancel_refused(
    message: fulfillment.FulfillmentCancelRefused, uow: UnitOfWork, *, clock: Clock, settings: OrdersSettings
) -> None:
    await cancellation.fulfillment_refused(
        uow,
        order_id=message.order_id,
        group_id=message.group_id,
        status=message.status,
        now=clock.now(),
        token_secret=settings.access_token_secret,
    )


async def on_packed(message: fulfillment.FulfillmentPacked, uow: UnitOfWork, *, clock: Clock) -> None:
    await shipments.record_packed(
        uow,
        order_id=message.order_id,
        fulfillment_id=message.fulfillment_id,
        group_id=message.group_id,
        now=clock.now(),
    )


async def on_shipped(message: fulfillment.ShipmentShipped, uow: UnitOfWork, *, clock: Clock) -> None:
    await shipments.record_shipment(
        uow,
        order_id=message.order_id,
        fulfillment_id=message.fulfillment_id,
        group_id=message.group_id,
        shipment=fulfillment.Shipment(
            location=message.location,
            lines=message.lines,
            carrier=message.carrier,
            tracking_number=message.tracking_number,
            short_lines=message.short_lines,
        ),
        now=clock.now(),
    )


async def on_delivered(message: fulfillment.ShipmentDelivered, uow: UnitOfWork, *, clock: Clock) -> None:
    await shipments.record_delivery(
        uow,
        order_id=message.order_id,
        fulfillment_id=message.fulfillment_id,
        group_id=message.group_id,
        shipment=message.shipment,
        now=clock.now(),
    )


async def on_notification_sent(message: notifications.NotificationSent, uow: UnitOfWork) -> None:
    await groups.record_notification(
        uow, order_id=message.order_id, template=message.template, channel=message.channel
    )


async def on_preorder_eta_changed(
    message: catalog.PreorderEtaChanged, uow: UnitOfWork, *, clock: Clock, settings: OrdersSettings
) -> None:
    await promises.record_preorder_date_change(
        uow,
        order_id=message.order_id,
        sku=message.sku,
        previous_date=message.previous_date,
        expected_ship_date=message.expected_ship_date,
        now=clock.now(),
        token_secret=settings.access_token_secret,
        balance_notice=timedelta(hours=settings.balance_notice_hours),
        version=message.version,
    )


async def on_return_label_created(
    message: fulfillment.ReturnLabelCreated, uow: UnitOfWork, *, clock: Clock
) -> None:
    label = {
        "carrier": message.carrier,
        "label_id": message.label_id,
        "tracking_number": message.tracking_number,
        "label_url": message.label_url,
    }
    await returns.record_return_label(uow, return_id=message.return_id, label=label, now=clock.now())


async def on_return_received(
    message: fulfillment.ReturnReceived, uow: UnitOfWork, *, clock: Clock, settings: OrdersSettings
) -> None:
    await returns.refund_received_return(
        uow,
        return_id=message.return_id,
        received=[(line.sku, line.quantity, line.condition) for line in message.lines],
        fees=returns.ReturnFees(
            return_shipping_fee=settings.return_shipping_fee,
            restocking_fee_percent=settings.restocking_fee_percent,
        ),
        now=clock.now(),
    )


async def on_subscription_charged(
    message: payments.SubscriptionChargeSucceeded,
    uow: UnitOfWork,
    *,
    clock: Clock,
    settings: OrdersSettings,
) -> None:
    await subscriptions_handlers.record_charged(
        uow,
        subscription_id=message.subscription_id,
        cycle=message.cycle,
        payment_id=message.payment_id,
        now=clock.now(),
        settings=subscription_settings(settings),
    )


async def on_subscription_charge_failed(
    message: payments.SubscriptionChargeFailed,
    uow: UnitOfWork,
    *,
    clock: Clock,
    settings: OrdersSettings,
) -> None:
    await subscriptions_handlers.record_failed(
        uow,
        subscription_id=message.subscription_id,
        cycle=message.cycle,
        attempt=message.attempt,
        decline_code=message.decline_code,
        requires_action=message.requires_action,
        now=clock.now(),
        settings=subscription_settings(settings),
    )


def subscriptions(*, clock: Clock, settings: OrdersSettings) -> Subscriptions:
    """Every message orders handles; the clock and settings are bound for the consumers that need them."""
    return {
        catalog.VariantUpdated: on_variant_updated,
        payments.SubscriptionChargeSucceeded: functools.partial(
            on_subscription_charged, clock=clock, settings=settings
        ),
        payments.SubscriptionChargeFailed: functools.partial(
            on_subscription_charge_failed, clock=clock, settings=settings
        ),
        catalog.PreorderPolicyUpdated: on_preorder_policy_updated,
        catalog.StockAvailabilityChanged: on_stock_availability_changed,
        catalog.StockReserved: on_stock_reserved,
        catalog.StockRejected: functools.partial(on_stock_rejected, clock=clock),
        catalog.PreorderAllocated: functools.partial(on_preorder_allocated, clock=clock, settings=settings),
        catalog.PreorderEtaChanged: functools.partial(
            on_preorder_eta_changed, clock=clock, settings=settings
        ),
        payments.PaymentSucceeded: functools.partial(on_payment_succeeded, clock=clock, settings=settings),
        payments.PaymentFailed: on_payment_failed,
        payments.BalanceCharged: on_balance_charged,
        payments.BalanceChargeFailed: functools.partial(on_balance_failed, clock=clock, settings=settings),
        payments.PaymentMethodUpdated: functools.partial(on_payment_method_updated, clock=clock),
        payments.RefundIssued: on_refund_issued,
        payments.RefundRejected: on_refund_rejected,
        fulfillment.FulfillmentOrderCreated: on_fulfillment_created,
        fulfillment.FulfillmentPicked: functools.partial(on_picked, clock=clock),
        fulfillment.FulfillmentCancelled: functools.partial(
            on_fulfillment_cancelled, clock=clock, settings=settings
        ),
        fulfillment.FulfillmentCancelRefused: functools.partial(
            on_fulfillment_cancel_refused, clock=clock, settings=settings
        ),
        fulfillment.FulfillmentPacked: functools.partial(on_packed, clock=clock),
        fulfillment.ShipmentShipped: functools.partial(on_shipped, clock=clock),
        fulfillment.ShipmentDelivered: functools.partial(on_delivered, clock=clock),
        notifications.NotificationSent: on_notification_sent,
        fulfillment.ReturnLabelCreated: functools.partial(on_return_label_created, clock=clock),
        fulfillment.ReturnReceived: functools.partial(on_return_received, clock=clock, settings=settings),
    }


async def run_retry_balance(job: job_kinds.RetryBalance, uow: UnitOfWork, *, clock: Clock) -> None:
    await balances.retry_unpaid_balance(
        uow, order_id=job.order_id, group_id=job.group_id, now=clock.now(), give_up_at=job.give_up_at
    )


async def run_cancel_unpaid(job: job_kinds.CancelUnpaidPreorder, uow: UnitOfWork, *, clock: Clock) -> None:
    await balances.cancel_unpaid_preorder(uow, order_id=job.order_id, group_id=job.group_id, now=clock.now())


async def run_promise_check(job: job_kinds.CheckPromise, uow: UnitOfWork, *, clock: Clock) -> None:
    await promises.check_promise(
        uow, order_id=job.order_id, sku=job.sku, promised=job.promised, now=clock.now()
    )


async def run_charge_scheduled_balance(job: job_kinds.ChargeScheduledBalance, uow: UnitOfWork) -> None:
    await balances.charge_scheduled_balance(uow, order_id=job.order_id, group_id=job.group_id)


async def run_remind_balance(job: job_kinds.RemindOfBalance, uow: UnitOfWork, *, clock: Clock) -> None:
    await balances.remind_of_balance(uow, order_id=job.order_id, group_id=job.group_id, now=clock.now())


async def run_remind_balance_when_ready(
    job: job_kinds.RemindOfBalanceWhenReady, uow: UnitOfWork, *, clock: Clock
) -> None:
    await balances.remind_of_balance_when_ready(uow, order_id=job.order_id, sku=job.sku, now=clock.now())


async def run_draft_reservation_lapses(
    job: reservations.LapseDraftReservation, uow: UnitOfWork, *, clock: Clock
) -> None:
    await reservations.lapse_reservation(
        uow, draft_id=job.draft_id, reservation_id=job.reservation_id, now=clock.now()
    )


async def run_draft_expires(job: reservations.ExpireDraft, uow: UnitOfWork, *, clock: Clock) -> None:
    await reservations.expire_draft(uow, draft_id=job.draft_id, now=clock.now())


async def run_payment_overdue(
    job: job_kinds.MarkPaymentOverdue, uow: UnitOfWork, *, clock: Clock, token_secret: str
) -> None:
    await terms.mark_payment_overdue(uow, order_id=job.order_id, now=clock.now(), token_secret=token_secret)


async def run_charge_cycle(job: subscription_jobs.ChargeCycle, uow: UnitOfWork, *, clock: Clock) -> None:
    await subscriptions_handlers.charge_due_cycle(
        uow, subscription_id=job.subscription_id, cycle=job.cycle, now=clock.now()
    )


async def run_remind_of_charge(job: subscription_jobs.RemindOfCharge, uow: UnitOfWork) -> None:
    await subscriptions_handlers.remind_of_charge(
        uow, subscription_id=job.subscription_id, cycle=job.cycle, charge_at=job.charge_at
    )


async def run_retry_cycle(job: subscription_jobs.RetryCycle, uow: UnitOfWork) -> None:
    await subscriptions_handlers.retry_cycle(
        uow, subscription_id=job.subscription_id, cycle=job.cycle, attempt=job.attempt
    )


async def run_end_dunning(job: subscription_jobs.EndDunning, uow: UnitOfWork, *, clock: Clock) -> None:
    await subscriptions_handlers.end_dunning(
        uow, subscription_id=job.subscription_id, cycle=job.cycle, now=clock.now()
    )


def jobs(*, clock: Clock, token_secret: str) -> Jobs:
    """Orders' scheduled jobs by kind (balances due by the clock and their reminders, dunning retries and
    the end of the dunning period)."""
    return {
        job_kinds.ChargeScheduledBalance: run_charge_scheduled_balance,
        job_kinds.RemindOfBalance: functools.partial(run_remind_balance, clock=clock),
        job_kinds.RemindOfBalanceWhenReady: functools.partial(run_remind_balance_when_ready, clock=clock),
        job_kinds.RetryBalance: functools.partial(run_retry_balance, clock=clock),
        job_kinds.CancelUnpaidPreorder: functools.partial(run_cancel_unpaid, clock=clock),
        job_kinds.CheckPromise: functools.partial(run_promise_check, clock=clock),
        reservations.LapseDraftReservation: functools.partial(run_draft_reservation_lapses, clock=clock),
        reservations.ExpireDraft: functools.partial(run_draft_expires, clock=clock),
        job_kinds.MarkPaymentOverdue: functools.partial(
            run_payment_overdue, clock=clock, token_secret=token_secret
        ),
        subscription_jobs.ChargeCycle: functools.partial(run_charge_cycle, clock=clock),
        subscription_jobs.RemindOfCharge: run_remind_of_charge,
        subscription_jobs.RetryCycle: run_retry_cycle,
        subscription_jobs.EndDunning: functools.partial(run_end_dunning, clock=clock),
    }
