"""The HTTP process of a service: FastAPI app with problem errors, /health, /ready, /metrics and request tracing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import uvicorn
import uvloop
from aio_pika.abc import AbstractRobustConnection
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    app = FastAPI(
        title=title,
        description=description,
        lifespan=asynccontextmanager(lifespan),
        # The server span is ServerSpanMiddleware's (below); FastAPI's own would be a second one per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
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
    trace_requests(app)
    return app


def trace_requests(app: FastAPI) -> None:
    """Wrap the whole app (outside every middleware, so access logs and error answers are in the span) in
    ``ServerSpanMiddleware``."""
    build = app.build_middleware_stack

    def build_traced() -> ASGIApp:
        return ServerSpanMiddleware(build())

    app.build_middleware_stack = build_traced  # type: ignore[method-assign]


TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
UNTRACED_PATHS = frozenset({"/health", "/ready", "/metrics"})


class ServerSpanMiddleware:
    """One server span per request, continuing the caller's W3C trace context: what OpenTelemetry's ASGI
    instrumentation records that an operator reads (method, route, path, status, the error), at a fraction of its
    CPU per request: no wrapper span per ASGI receive or send, no copy of every header, and the span is named
    once the route is known. The path is recorded with card numbers masked; query strings are not recorded."""

    def __init__(self, app: ASGIApp, *, tracer_provider: trace.TracerProvider | None = None) -> None:
        self.app = app
        self.tracer = trace.get_tracer("shop_runtime.http", tracer_provider=tracer_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTRACED_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope.get("headers", ())
            if key in TRACE_HEADERS
        }
        method: str = scope["method"]
        path: str = scope["path"]
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        with self.tracer.start_as_current_span(
            method,
            context=propagate.extract(carrier) if carrier else None,
            kind=SpanKind.SERVER,
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            try:
                await self.app(scope, receive, send_recording_status)
            finally:
                if span.is_recording():
                    route = getattr(scope.get("route"), "path", None)
                    span.update_name(f"{method} {route}" if route else method)
                    span.set_attributes(
                        {
                            "http.request.method": method,
                            "url.path": mask_card_numbers(path),
                            "http.route": route or "",
                            "http.response.status_code": status,
                        }
                    )
                    if status >= 500:
                        span.set_status(StatusCode.ERROR)


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


async def clock(request: Request) -> Clock:
    """A coroutine, not a plain function: FastAPI runs a plain one in its thread pool, a hand-over to a worker
    thread and back on every request for an attribute read."""
    return request.app.state.clock  # type: ignore[no-any-return]


ClockDep = Annotated[Clock, Depends(clock)]


def server_config(
    app: ASGIApp, *, host: str, port: int, grace_seconds: float, **options: Any
) -> uvicorn.Config:
    """uvicorn as every HTTP process of the shop runs it (the services' and the gateway's): the ``httptools``
    parser (llhttp, in C) rather than h11's pure-Python one, which was a fifth of the gateway's CPU per request;
    no logging set-up or access log of uvicorn's own (telemetry sets up logging; the gateway logs each request);
    on SIGTERM it stops accepting connections and lets requests in flight finish within ``grace_seconds``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="httptools",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(grace_seconds),
        lifespan="on",
        **options,
    )


def run_http_process(server: Coroutine[Any, Any, None]) -> None:
    """Run an HTTP process's server to its end on uvloop's event loop (libuv) instead of asyncio's own: less CPU
    per request in the loop's polling and socket writes (see docs/decisions.md, "uvloop and httptools"). Workers
    run on it too (``shop_runtime.worker.run_worker_process``)."""
    uvloop.run(server)


async def serve(app: FastAPI, settings: ServiceSettings, *, port: int | None = None) -> None:
    """Run a service's HTTP app under uvicorn (``server_config``) until SIGTERM."""
    config = server_config(
        app,
        host=settings.http_host,
        port=port or settings.http_port,
        grace_seconds=settings.shutdown_grace_seconds,
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
