"""Operators' tools: the invariant audit, dead-letter handling and an order's timeline across services."""
