"""Alembic environment of catalog."""

from shop_catalog.tables import metadata
from shop_runtime.migrations import run_env

run_env(metadata)
