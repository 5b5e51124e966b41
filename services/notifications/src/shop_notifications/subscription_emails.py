"""The emails of a subscription: a charge coming up, a cycle charged, a charge declined (why, what happens next and
where to change the card), paused, cancelled. Each is told once per fact, keyed by the subscription."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from shop_contracts import orders
from shop_contracts.values import Customer
from shop_notifications import handlers
from shop_notifications.domain import (
    SUBSCRIPTION_CANCELLED,
    SUBSCRIPTION_CHARGE_FAILED,
    SUBSCRIPTION_CHARGE_UPCOMING,
    SUBSCRIPTION_CHARGED,
    SUBSCRIPTION_PAUSED,
    Fact,
    Recipient,
    charge_failure,
    format_day_of,
)
from shop_notifications.emails import EmailDraft
from shop_runtime.database import UnitOfWork


def subscription_payment_url(storefront_url: str, subscription_id: str) -> str:
    """The storefront page where a customer changes a subscription's card (it calls
    ``PUT /v1/subscriptions/{id}/payment-method``)."""
    return f"{storefront_url}/subscriptions/{quote(subscription_id, safe='')}/payment"


def _story(subscription_id: str) -> str:
    return f"subscription:{subscription_id}"


def _draft(template: str, subscription_id: str, customer: Customer, **values: object) -> EmailDraft:
    return EmailDraft(
        template=template,
        order_id=subscription_id,  # a subscription's emails are one story, told in order, as an order's are
        recipient=Recipient(email=customer.email, locale=customer.locale),
        values={"subscription_id": subscription_id, **values},
    )


def _moment(value: datetime) -> str:
    return value.isoformat()


async def on_charge_upcoming(
    message: orders.SubscriptionChargeUpcoming, uow: UnitOfWork, *, storefront_url: str
) -> None:
    locale = message.customer.locale
    story = _story(message.subscription_id)
    draft = _draft(
        SUBSCRIPTION_CHARGE_UPCOMING,
        message.subscription_id,
        message.customer,
        plan_name=message.plan_name,
        amount=message.amount.format(locale),
        charge_on=format_day_of(message.charge_at, locale),
        payment_url=subscription_payment_url(storefront_url, message.subscription_id),
    )
    fact = Fact(
        f"{story}:cycle:{message.cycle:06d}:upcoming:{_moment(message.charge_at)}",
        moot_after=(f"{story}:cycle:{message.cycle:06d}:charged", f"{story}:cancelled"),
    )
    await handlers.queue_email(uow, draft, fact)


async def on_cycle_charged(message: orders.SubscriptionCycleCharged, uow: UnitOfWork) -> None:
    locale = message.customer.locale
    draft = _draft(
        SUBSCRIPTION_CHARGED,
        message.subscription_id,
        message.customer,
        plan_name=message.plan_name,
        order_id=message.order_id,
        amount=message.amount.format(locale),
        next_charge_on=format_day_of(message.next_charge_at, locale) if message.next_charge_at else None,
    )
    await handlers.queue_email(
        uow, draft, Fact(f"{_story(message.subscription_id)}:cycle:{message.cycle:06d}:charged")
    )


async def on_cycle_failed(
    message: orders.SubscriptionCycleFailed, uow: UnitOfWork, *, storefront_url: str
) -> None:
    locale = message.customer.locale
    story = _story(message.subscription_id)
    draft = _draft(
        SUBSCRIPTION_CHARGE_FAILED,
        message.subscription_id,
        message.customer,
        plan_name=message.plan_name,
        amount=message.amount.format(locale),
        failure=charge_failure(message.reason, requires_action=message.requires_action),
        requires_action=message.requires_action,
        retry_on=format_day_of(message.retry_at, locale) if message.retry_at is not None else None,
        until=format_day_of(message.give_up_at, locale),
        payment_url=subscription_payment_url(storefront_url, message.subscription_id),
    )
    cycle = f"{story}:cycle:{message.cycle:06d}"
    fact = Fact(
        f"{cycle}:failed:{message.attempt:04d}",
        moot_after=(f"{cycle}:charged", f"{story}:cancelled"),
        series=f"{cycle}:failed:",
    )
    await handlers.queue_email(uow, draft, fact)


async def on_paused(message: orders.SubscriptionPaused, uow: UnitOfWork) -> None:
    draft = _draft(
        SUBSCRIPTION_PAUSED, message.subscription_id, message.customer, plan_name=message.plan_name
    )
    story = _story(message.subscription_id)
    await handlers.queue_email(
        uow, draft, Fact(f"{story}:paused:{_moment(message.paused_at)}", moot_after=(f"{story}:cancelled",))
    )


async def on_cancelled(message: orders.SubscriptionCancelled, uow: UnitOfWork) -> None:
    locale = message.customer.locale
    draft = _draft(
        SUBSCRIPTION_CANCELLED,
        message.subscription_id,
        message.customer,
        plan_name=message.plan_name,
        reason=message.reason,
        ends_on=format_day_of(message.ends_at, locale),
    )
    await handlers.queue_email(uow, draft, Fact(f"{_story(message.subscription_id)}:cancelled"))
