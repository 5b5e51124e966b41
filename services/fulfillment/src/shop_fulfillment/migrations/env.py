"""Alembic environment of fulfillment."""

from shop_fulfillment.tables import metadata
from shop_runtime.migrations import run_env

run_env(metadata)
