"""Checkout: placing an order, and the saga's first steps (stock reserved or refused)."""
