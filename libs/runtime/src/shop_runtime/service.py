"""What a service is made of, as the runtime needs it: wired once per service in its bootstrap module."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aio_pika.abc import AbstractRobustConnection
from fastapi import FastAPI

from shop_runtime.clock import Clock
from shop_runtime.consumer import Subscriptions
from shop_runtime.database import Database, create_engine
from shop_runtime.http import dead_letters_router
from shop_runtime.scheduling import Jobs
from shop_runtime.settings import ServiceSettings

BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
"""A loop the worker runs next to its consumer (a scheduler, a sender) until the event is set."""


@dataclass(frozen=True)
class WorkerContext:
    settings: ServiceSettings
    database: Database
    broker: AbstractRobustConnection
    clock: Clock


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    settings_class: type[ServiceSettings]
    metadata: sa.MetaData
    migrations_path: Path
    create_app: Callable[[ServiceSettings], FastAPI]
    subscriptions: Callable[[WorkerContext], Subscriptions]
    background: Callable[[WorkerContext], Sequence[BackgroundTask]] = field(default=lambda context: ())
    jobs: Callable[[WorkerContext], Jobs] = field(default=lambda context: {})
    """The handler of each of the service's kinds of scheduled job; the worker runs them when they are due."""
    signing: Callable[[ServiceSettings], Mapping[str, str]] = field(default=lambda settings: {})
    """The secret the relay signs every message to an exchange with, by exchange (none by default)."""

    def http_app(self, settings: ServiceSettings) -> FastAPI:
        """The service's internal HTTP app as it runs: its own routes plus what every service serves the
        same way (its parking queue under ``/dead-letters``)."""
        app = self.create_app(settings)
        app.include_router(dead_letters_router(self.name))
        return app

    def database(self, settings: ServiceSettings) -> Database:
        return Database(
            create_engine(settings),
            outbox=self.metadata.tables["outbox"],
            inbox=self.metadata.tables["inbox"],
            schedule=self.metadata.tables.get("scheduled_jobs"),
        )
