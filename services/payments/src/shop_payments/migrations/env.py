"""Alembic environment of payments."""

from shop_payments.tables import metadata
from shop_runtime.migrations import run_env

run_env(metadata)
