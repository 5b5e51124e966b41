"""The HTTP process of a service: FastAPI app with problem errors, /health, /ready, /metrics and request tracing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from aio_pika.abc import AbstractRobustConnection
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

from shop_runtime.broker import connect
from shop_runtime.clock import Clock, clock_for
from shop_runtime.database import Database, UnitOfWork
from shop_runtime.metrics import HttpMetricsMiddleware, render_latest
from shop_runtime.problems import install_problem_handlers
from shop_runtime.settings import ServiceSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[FastAPI], Awaitable[None]]


def create_app(
    *,
    title: str,
    routers: Sequence[APIRouter],
    lifespan: Callable[[FastAPI], AsyncIterator[None]],
    readiness_checks: Sequence[ReadinessCheck],
    description: str = "",
) -> FastAPI:
    """A FastAPI app with the shared error format, health endpoints, Prometheus metrics and request spans."""
    app = FastAPI(title=title, description=description, lifespan=asynccontextmanager(lifespan))
    install_problem_handlers(app)

    @app.get("/health", tags=["health"], summary="The process is alive")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["health"], summary="The process can serve: its dependencies answer")
    async def ready(request: Request) -> JSONResponse:
        failures: dict[str, str] = {}
        for check in readiness_checks:
            try:
                await check(request.app)
            except Exception as error:
                failures[getattr(check, "__name__", "check")] = f"{type(error).__name__}: {error}"
        if failures:
            return JSONResponse({"status": "unavailable", "failures": failures}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    for router in routers:
        app.include_router(router)
    app.add_middleware(HttpMetricsMiddleware)
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health,ready,metrics")
    return app


def service_lifespan(
    settings: ServiceSettings, database_factory: Callable[[ServiceSettings], Database], **state: Any
) -> Callable[[FastAPI], AsyncIterator[None]]:
    """Open the service's database and a broker connection at start-up; close them at shutdown."""

    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = database_factory(settings)
        app.state.settings = settings
        app.state.database = database
        app.state.clock = clock_for(settings.test_clock_file)
        app.state.broker = None
        for name, value in state.items():
            setattr(app.state, name, value)
        try:
            yield
        finally:
            broker: AbstractRobustConnection | None = app.state.broker
            if broker is not None:
                await broker.close()
            await database.dispose()

    return lifespan


async def database_reachable(app: FastAPI) -> None:
    await app.state.database.ping()


async def broker_reachable(app: FastAPI) -> None:
    if app.state.broker is None:
        app.state.broker = await connect(app.state.settings.amqp_url)
    if app.state.broker.is_closed:
        raise ConnectionError("the broker connection is closed")


SERVICE_READINESS: tuple[ReadinessCheck, ...] = (database_reachable, broker_reachable)


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    database: Database = request.app.state.database
    async with database.unit_of_work() as uow:
        yield uow


UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work)]


def clock(request: Request) -> Clock:
    return request.app.state.clock  # type: ignore[no-any-return]


ClockDep = Annotated[Clock, Depends(clock)]


async def serve(app: FastAPI, settings: ServiceSettings, *, port: int | None = None) -> None:
    """Run uvicorn; on SIGTERM it stops accepting connections and lets requests in flight finish."""
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=port or settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        lifespan="on",
    )
    await uvicorn.Server(config).serve()
