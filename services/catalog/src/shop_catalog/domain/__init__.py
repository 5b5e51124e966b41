"""Catalog's rules, free of I/O, by concept: errors, stock and reservations, pre-orders and their allocation,
the waitlist and announcements, pre-order policy checks, and products and prices (importers name the module)."""
