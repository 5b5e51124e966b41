"""Shipping: the warehouse's reports about an order's shipment groups."""
