"""Low-stock alerts: when a SKU's available units cross its threshold going down, staff hear of it once.

A SKU is armed until it alerts. An armed SKU seen at or below its threshold (available <= threshold) alerts
and is then fired; a fired SKU is armed again once it is seen above its threshold (a restock, a release,
less safety stock, a lower threshold) or once it has no threshold any more. The decision reads only the
units available now and the recorded state, never the message that changed them, so a repeated or late
message cannot alert twice for one crossing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

LowStockStep = Literal["alert", "rearm", "keep"]


def low_stock_step(*, available: int, threshold: int | None, alerted: bool) -> LowStockStep:
    """What the watch of one SKU does now: ``alert`` (publish, mark fired), ``rearm`` (clear) or ``keep``."""
    if threshold is None:
        return "rearm" if alerted else "keep"
    if available <= threshold:
        return "keep" if alerted else "alert"
    return "rearm" if alerted else "keep"


def effective_threshold(own: int | None, shop_default: int | None) -> int | None:
    """A SKU's own threshold, else the shop's default (None: the SKU is not watched)."""
    return own if own is not None else shop_default


@dataclass(frozen=True)
class LowStockWatch:
    """A SKU's watch as recorded: staff's own threshold (None: the shop default) and whether it alerted."""

    sku: str
    threshold: int | None
    alerted: bool
