"""Catalog's use cases by capability: products, stock (counts, reservations, commits), pre-orders, inbounds,
the waitlist, and what catalog announces about a SKU.

A use case never commits: its edge does, once (the dispatcher for a message, the scheduler for a job,
``shop_runtime.http.committed`` for a request), so use cases that call each other share one transaction."""
