"""Alembic environment of orders."""

from shop_orders.core.tables import metadata
from shop_runtime.migrations import run_env

run_env(metadata)
