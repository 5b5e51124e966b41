"""Promises: the ship date promised for a pre-order, a changed date and the customer's decision, a broken promise."""
