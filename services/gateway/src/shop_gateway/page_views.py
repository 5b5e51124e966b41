"""What the customer pages show of an order, free of I/O: the order view of ``GET /v1/orders/{id}`` turned into
the parts a page lists (pre-order places, balances due, shipments, returns) and what the customer may still do."""

from __future__ import annotations

from typing import Any

from shop_api.orders.returns import ReturnLineIn

CANCELLABLE = ("pending", "reserved", "confirmed")
"""Statuses a customer can cancel from the page; orders decides in the end (a 409 says it is too late)."""
RETURNABLE = ("partially_shipped", "partially_fulfilled", "shipped", "delivered")
OPEN_RETURN = ("requested", "approved", "label_sent", "received", "refunded")
"""A return in any of these holds its units: they cannot be asked back again."""
SANDBOX_CARDS = {
    "tok_visa": "Visa •••• 4242",
    "tok_mastercard": "Mastercard •••• 4444",
    "tok_card_declined": "Visa •••• 0002 (declined)",
}
"""The sandbox PSP's hosted card field: the card is chosen from its test cards and only their token is posted."""


def _returned(returns: list[dict[str, Any]]) -> dict[str, int]:
    held: dict[str, int] = {}
    for item in returns:
        if item.get("status") in OPEN_RETURN:
            for line in item.get("lines", []):
                held[line["sku"]] = held.get(line["sku"], 0) + int(line["quantity"])
    return held


def returnable_lines(order: dict[str, Any], returns: list[dict[str, Any]]) -> list[ReturnLineIn]:
    """Every shipped unit not already in a return: what the page's return form asks back."""
    if order.get("status") not in RETURNABLE:
        return []
    held = _returned(returns)
    lines = []
    for line in order.get("lines", []):
        left = int(line.get("quantity_shipped") or 0) - held.get(line["sku"], 0)
        if left > 0:
            lines.append(ReturnLineIn(sku=line["sku"], quantity=left))
    return lines


def order_view(order: dict[str, Any], returns: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts of an order its pages show, each already picked out of the order view."""
    payments = order.get("payments") or {}
    groups = order.get("shipment_groups", [])
    balances = [
        {"amount": group["balance"], "due_at": group.get("balance_due_at"), "status": group["status"]}
        for group in groups
        if group.get("kind") == "preorder" and int(group.get("balance") or 0) > 0
    ]
    due = order.get("payment_due")
    return {
        "preorders": [line for line in order.get("lines", []) if line.get("kind") == "preorder"],
        "groups": groups,
        "shipments": order.get("shipments", []),
        "balances": balances,
        "payment_due": due if due and due.get("status") not in ("paid", "cancelled") else None,
        "returns": returns,
        "paid": int(payments.get("captured") or 0) - int(payments.get("refunded") or 0),
        "refunded": int(payments.get("refunded") or 0),
        "can_cancel": order.get("status") in CANCELLABLE,
        "can_return": bool(returnable_lines(order, returns)),
        "consent_awaited": bool(order.get("preorder_consent_awaited")),
        "waiting": order.get("waiting_preorders", []),
    }
