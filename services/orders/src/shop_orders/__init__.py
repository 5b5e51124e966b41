"""Checkouts, orders and the order saga that drives stock, payment and fulfillment."""
