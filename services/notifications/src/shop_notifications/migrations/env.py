"""Alembic environment of notifications."""

from shop_notifications.tables import metadata
from shop_runtime.migrations import run_env

run_env(metadata)
