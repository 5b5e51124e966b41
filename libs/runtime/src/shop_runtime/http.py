"""The HTTP process of a service: FastAPI app with problem errors, /health, /ready, /metrics and request tracing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import uvicorn
from aio_pika.abc import AbstractRobustConnection
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.trace import Span

from shop_runtime import dead_letters
from shop_runtime.broker import connect
from shop_runtime.card_data import mask_card_numbers
from shop_runtime.clock import Clock, clock_for
from shop_runtime.database import Database, UnitOfWork
from shop_runtime.metrics import HttpMetricsMiddleware, render_latest
from shop_runtime.problems import Problem, install_problem_handlers
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
    FastAPIInstrumentor.instrument_app(
        app,
        excluded_urls="health,ready,metrics",
        server_request_hook=_mask_card_numbers_in_url,
        # One server span per request: no inner span for every ASGI receive and send (two or three more per
        # request, with nothing an operator reads in them, at a CPU cost on every call).
        exclude_spans=["receive", "send"],
    )
    return app


URL_ATTRIBUTES = ("http.url", "http.target", "url.full", "url.query")


def _mask_card_numbers_in_url(span: Span, scope: dict[str, Any]) -> None:
    """A card number a client put in a URL never reaches a trace, whichever exporter sends it."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and (masked := mask_card_numbers(value)) != value:
            span.set_attribute(name, masked)


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


_T = TypeVar("_T")


async def committed(uow: UnitOfWork, use_case: Awaitable[_T]) -> _T:
    """Run one use case in the request's unit of work and commit it: the HTTP edge's one commit, as the
    dispatcher's is for a message and the scheduler's for a job. Handlers never commit, so use cases that call
    each other compose in one transaction; when the use case raises, nothing is committed (the unit of work
    rolls back as the request ends)."""
    result = await use_case
    await uow.commit()
    return result


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


async def _broker(request: Request) -> AbstractRobustConnection:
    """The HTTP process's broker connection (opened by the readiness check, or here on first use)."""
    await broker_reachable(request.app)
    return request.app.state.broker  # type: ignore[no-any-return]


BrokerDep = Annotated[AbstractRobustConnection, Depends(_broker)]
MessageId = Annotated[str, Path(min_length=1, max_length=200)]


def dead_letters_router(service: str) -> APIRouter:
    """The service's parking queue over its internal API (the gateway's ``/v1/admin/dead-letters`` calls it):
    list, show, replay one or all, and purge what the caller confirms it saw. Its depth is a metric the worker
    samples (``shop_dead_letter_messages``), not this API."""
    router = APIRouter(prefix="/dead-letters", tags=["dead letters"])

    def missing(error: dead_letters.ParkingQueueMissing) -> Problem:
        return Problem(404, "The parking queue does not exist", str(error), code="parking_queue_missing")

    @router.get("")
    async def list_parked(broker: BrokerDep) -> dict[str, Any]:
        """Every parked message, oldest first (the queue is left as it was)."""
        try:
            messages = await dead_letters.list_parked(broker, service)
        except dead_letters.ParkingQueueMissing:
            return {"service": service, "count": 0, "items": [], "queue_exists": False}
        return {
            "service": service,
            "count": len(messages),
            "items": [message.summary() for message in messages],
            "queue_exists": True,
        }

    @router.get("/{message_id}")
    async def show_parked(message_id: MessageId, broker: BrokerDep) -> dict[str, Any]:
        """One parked message: error, traceback, attempts, original route, headers and body."""
        try:
            message = await dead_letters.find_parked(broker, service, message_id)
        except dead_letters.ParkingQueueMissing as error:
            raise missing(error) from error
        if message is None:
            raise Problem(404, "No such parked message", code="not_parked")
        return message.details()

    async def replayed(broker: AbstractRobustConnection, message_id: str | None) -> dict[str, Any]:
        try:
            outcome = await dead_letters.replay(broker, service, message_id=message_id)
        except dead_letters.ParkingQueueMissing as error:
            raise missing(error) from error
        if message_id is not None and not outcome.replayed and not outcome.failed:
            raise Problem(404, "No such parked message", code="not_parked")
        if message_id is not None and outcome.failed:
            raise Problem(
                409,
                "The message could not be replayed; it stays parked",
                outcome.failed[message_id],
                code="replay_failed",
            )
        return {"service": service, "replayed": outcome.replayed, "failed": outcome.failed}

    @router.post("/replay")
    async def replay_all(broker: BrokerDep) -> dict[str, Any]:
        """Send every message parked now back to where it first went (with a fresh retry budget)."""
        return await replayed(broker, None)

    @router.post("/{message_id}/replay")
    async def replay_one(message_id: MessageId, broker: BrokerDep) -> dict[str, Any]:
        """Send one parked message back to where it first went (with a fresh retry budget)."""
        return await replayed(broker, message_id)

    @router.delete("")
    async def purge(
        broker: BrokerDep, confirm: Annotated[int | None, Query(ge=0, le=10_000_000)] = None
    ) -> dict[str, Any]:
        """Delete the parked messages for good, only when ``confirm`` is the count the caller saw (409 if not)."""
        try:
            if confirm is None:
                count = await dead_letters.parked_count(broker, service)
                raise Problem(
                    409,
                    "Confirm the purge with the count of parked messages you saw",
                    f"{count} message(s) are parked: repeat with ?confirm={count}",
                    code="purge_not_confirmed",
                    errors=[
                        {"field": "query:confirm", "message": f"required: {count} message(s) are parked"}
                    ],
                )
            purged = await dead_letters.purge(broker, service, confirmed=confirm)
        except dead_letters.ParkingQueueMissing as error:
            raise missing(error) from error
        except dead_letters.PurgeNotConfirmed as error:
            raise Problem(
                409,
                "The parked messages changed since you counted them",
                f"{error}: list them again, then confirm the new count",
                code="purge_not_confirmed",
                errors=[{"field": "query:confirm", "message": str(error)}],
            ) from error
        return {"service": service, "purged": purged}

    return router
