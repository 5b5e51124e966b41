"""Shared runtime of the shop services: the one way each service does settings, persistence and messaging."""
