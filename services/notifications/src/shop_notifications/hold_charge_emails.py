"""The email of a lapsed card hold that could not be charged off session: why, how much, what happens next and
where to replace the card (payments charges the new card at once)."""

from __future__ import annotations

from datetime import datetime

from shop_contracts.money import Money
from shop_notifications.domain import (
    ORDER_HOLD_CHARGE_FAILED,
    Recipient,
    charge_failure,
    format_day_of,
)
from shop_notifications.emails import EmailDraft, order_payment_url


def order_hold_charge_failed_email(
    *,
    order_id: str,
    recipient: Recipient,
    amount: Money,
    reason: str,
    requires_action: bool,
    retry_at: datetime | None,
    give_up_at: datetime,
    storefront_url: str,
) -> EmailDraft:
    """The card hold of an order lapsed and charging the saved card for it failed: why, when it is tried
    again, until when, and where to replace the card."""
    locale = recipient.locale
    return EmailDraft(
        template=ORDER_HOLD_CHARGE_FAILED,
        order_id=order_id,
        recipient=recipient,
        values={
            "order_id": order_id,
            "amount": amount.format(locale),
            "failure": charge_failure(reason, requires_action=requires_action),
            "requires_action": requires_action,
            "retry_on": format_day_of(retry_at, locale) if retry_at is not None else None,
            "until": format_day_of(give_up_at, locale),
            "payment_url": order_payment_url(storefront_url, order_id),
        },
    )
