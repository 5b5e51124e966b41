"""Fulfillment orders, pick requests for warehouses, shipments and tracking."""
