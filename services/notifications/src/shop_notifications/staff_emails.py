"""Emails to the shop's own staff (low stock), written from the values of their alert: what a template shows."""

from __future__ import annotations

from dataclasses import dataclass

from shop_notifications.domain import STAFF_LOW_STOCK, Locale, Recipient, low_stock_reference
from shop_notifications.emails import EmailDraft

NO_STAFF_ADDRESS = "no staff alert address is set (SHOP_NOTIFICATIONS_STAFF_ALERT_EMAILS)"
"""Why a staff alert was recorded and not emailed."""


@dataclass(frozen=True)
class StockAtLocation:
    location: str
    on_hand: int
    reserved: int
    safety_stock: int
    available: int


@dataclass(frozen=True)
class LowStockAlert:
    """A SKU whose available units fell to its threshold or below, as catalog saw it (its nth alert)."""

    sku: str
    title: str | None
    available: int
    threshold: int
    alert_number: int
    locations: tuple[StockAtLocation, ...] = ()


@dataclass(frozen=True)
class StaffAlerting:
    """Where staff alerts go and in which language (from the settings)."""

    addresses: tuple[str, ...]
    locale: Locale


def low_stock_email(*, alert: LowStockAlert, recipient: Recipient) -> EmailDraft:
    """A SKU ran low: how many units are left against the threshold, and where they are."""
    return EmailDraft(
        template=STAFF_LOW_STOCK,
        order_id=low_stock_reference(alert.sku),
        recipient=recipient,
        values={
            "sku": alert.sku,
            "title": alert.title or alert.sku,
            "available": alert.available,
            "threshold": alert.threshold,
            "locations": [
                {
                    "location": place.location,
                    "on_hand": place.on_hand,
                    "reserved": place.reserved,
                    "safety_stock": place.safety_stock,
                    "available": place.available,
                }
                for place in alert.locations
            ],
        },
    )
