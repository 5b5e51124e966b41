"""A client of the gateway's public API as a storefront, a member of staff and a warehouse use it.

Each takes the caller's own ``httpx.AsyncClient`` (base URL, connections, timeouts) and, optionally, a
``Retry`` policy; calls answer the raw ``httpx.Response`` unless the caller needs fields (``Placed``, an order's
view, a product id), and ``expect`` turns an answer with another status into ``UnexpectedAnswer``."""

from shop_storefront.calls import Caller, Retry, UnexpectedAnswer, expect, is_busy
from shop_storefront.staff import HOME, Staff
from shop_storefront.storefront import OrderAccess, Placed, Storefront
from shop_storefront.values import SEOUL, Address, Variant, api_key, bearer, checkout, new_email, new_sku
from shop_storefront.warehouse import CARRIER, Warehouse, steps_to_delivered

__all__ = [
    "CARRIER",
    "HOME",
    "SEOUL",
    "Address",
    "Caller",
    "OrderAccess",
    "Placed",
    "Retry",
    "Staff",
    "Storefront",
    "UnexpectedAnswer",
    "Variant",
    "Warehouse",
    "api_key",
    "bearer",
    "checkout",
    "expect",
    "is_busy",
    "new_email",
    "new_sku",
    "steps_to_delivered",
]
