"""Cancellation: a customer or the shop cancels, the warehouse answers, refunds follow, a win-back offer."""
