"""Prometheus metrics of one process: HTTP latency, message handling, queues, the outbox and business counters.

Every process has one registry, ``REGISTRY``. HTTP processes serve it at ``GET /metrics`` (added by
``create_app``); a worker serves it on a port of its own, ``worker_metrics_port(settings.http_port)``, which is
the service's HTTP port plus 1000 (catalog 8101 -> 9101 locally, 8080 -> 9080 in containers; an HTTP port of 0
means an ephemeral port, as tests use). Metric objects are defined here once, at import, as prometheus_client
expects; the hot paths use label children looked up once and cached.

Business counters are added by services with ``business_counter``. The dashboards in deploy/grafana expect
``shop_orders_placed_total``, ``shop_orders_confirmed_total`` and ``shop_orders_rejected_total`` (with a
``reason`` label), that is ``business_counter("shop_orders_placed", ...)`` and so on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Final, Literal
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

REGISTRY: Final = CollectorRegistry()
"""The one registry of this process: everything below, process RSS/CPU, GC and business counters."""
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

WORKER_METRICS_PORT_OFFSET: Final = 1000
UNTIMED_PATHS: Final = frozenset({"/metrics", "/health", "/ready"})
"""Probes and scrapes: frequent, cheap and not what anyone waits for, so they would only blur the latency."""

HTTP_REQUEST_DURATION: Final = Histogram(
    "shop_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)

Outcome = Literal["ok", "duplicate", "retried", "parked"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("ok", "duplicate", "retried", "parked")

MESSAGES_HANDLED: Final = Counter(
    "shop_messages_handled",
    "Messages taken from a service queue, by queue, message type and outcome (ok, duplicate, retried, parked).",
    ["queue", "type", "outcome"],
    registry=REGISTRY,
)
HANDLER_DURATION: Final = Histogram(
    "shop_message_handler_duration_seconds",
    "Time to decode a message and run its handler's unit of work, by queue and message type.",
    ["queue", "type"],
    registry=REGISTRY,
)
CONSUMER_UNIT_OF_WORK_MESSAGES: Final = Histogram(
    "shop_consumer_unit_of_work_messages",
    "Messages handled together in one of the consumer's units of work that ended well (committed, or found only "
    "duplicates), by queue: its count is those units of work (transactions), its sum their messages.",
    ["queue"],
    buckets=(1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
CONSUMER_BATCHES_SPLIT: Final = Counter(
    "shop_consumer_batches_split",
    "Batches of messages rolled back (a handler or the commit failed) and handled again one message at a time.",
    ["queue"],
    registry=REGISTRY,
)
CONSUMER_LAG: Final = Gauge(
    "shop_consumer_lag_messages",
    "Messages ready (not yet delivered) in a service queue, sampled by its worker.",
    ["queue"],
    registry=REGISTRY,
)
DEAD_LETTER_DEPTH: Final = Gauge(
    "shop_dead_letter_messages",
    "Messages parked after their retries were spent, in a service's parking queue.",
    ["queue"],
    registry=REGISTRY,
)
OUTBOX_BACKLOG: Final = Gauge(
    "shop_outbox_backlog_messages",
    "Outbox rows committed but not yet published, sampled by the service's worker.",
    ["service"],
    registry=REGISTRY,
)
OUTBOX_OLDEST_AGE: Final = Gauge(
    "shop_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox row (0 when none), sampled by the service's worker.",
    ["service"],
    registry=REGISTRY,
)
MESSAGES_PRUNED: Final = Counter(
    "shop_messages_pruned",
    "Outbox rows (published) and inbox claims deleted once past the service's message retention.",
    ["service", "table"],
    registry=REGISTRY,
)
OUTBOX_PUBLISHED: Final = Counter(
    "shop_outbox_published",
    "Outbox rows the relay published and the broker confirmed.",
    ["service"],
    registry=REGISTRY,
)
JOBS_PARKED: Final = Counter(
    "shop_scheduled_jobs_parked",
    "Scheduled jobs parked: their last attempt failed, or they cannot be read ('shop-ops jobs' lists them).",
    ["service", "kind"],
    registry=REGISTRY,
)
OUTBOX_BATCH_DURATION: Final = Histogram(
    "shop_outbox_batch_duration_seconds",
    "Time for the relay to claim, publish (with confirms) and mark one non-empty batch.",
    ["service"],
    registry=REGISTRY,
)

OTHER_TYPE: Final = "other"
"""The type label of a message whose type the consumer does not subscribe to: keeps the label set bounded."""


def render_latest() -> tuple[bytes, str]:
    """The registry in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_business_counters: dict[str, tuple[Counter, tuple[str, ...]]] = {}
_business_lock = threading.Lock()


def business_counter(name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
    """A counter of business facts (orders placed, refunds, ...), registered once however often it is asked for.

    Call it where the service is wired or at module level; asking again with other labels is a programming error.
    """
    labels = tuple(labels)
    with _business_lock:
        existing = _business_counters.get(name)
        if existing is not None:
            counter, registered_labels = existing
            if registered_labels != labels:
                raise ValueError(f"{name} is registered with labels {registered_labels}, not {labels}")
            return counter
        counter = Counter(name, documentation, labels, registry=REGISTRY)
        _business_counters[name] = (counter, labels)
        return counter


class HttpMetricsMiddleware:
    """Times each HTTP request by method, route template (not the raw path) and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], Histogram] = {}
        """Label children by (method, route template, status): bounded by the app's routes."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTIMED_PATHS:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app becomes a 500 further out

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            # The router put the matched route into the scope; an unmatched path is one label, not many.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            key = (scope["method"], route, status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = HTTP_REQUEST_DURATION.labels(
                    scope["method"], route, str(status)
                )
            child.observe(time.perf_counter() - started)


class ConsumerMetrics:
    """One queue's handled counter and handler histogram, with label children cached per message type, and its
    units of work."""

    def __init__(self, queue: str, message_types: Iterable[str]) -> None:
        self._queue = queue
        self._by_type = {message_type: _TypeMetrics(queue, message_type) for message_type in message_types}
        self._other = _TypeMetrics(queue, OTHER_TYPE)
        self._unit_of_work_messages = CONSUMER_UNIT_OF_WORK_MESSAGES.labels(queue)
        self._batches_split = CONSUMER_BATCHES_SPLIT.labels(queue)

    def record(self, message_type: str | None, outcome: Outcome, seconds: float) -> None:
        children = self._by_type.get(message_type or "", self._other)
        children.handled[outcome].inc()
        children.duration.observe(seconds)

    def unit_of_work(self, messages: int) -> None:
        """A unit of work that handled ``messages`` ended well."""
        self._unit_of_work_messages.observe(messages)

    def batch_split(self) -> None:
        self._batches_split.inc()


class _TypeMetrics:
    __slots__ = ("duration", "handled")

    def __init__(self, queue: str, message_type: str) -> None:
        self.handled = {
            outcome: MESSAGES_HANDLED.labels(queue, message_type, outcome) for outcome in OUTCOMES
        }
        self.duration = HANDLER_DURATION.labels(queue, message_type)


def worker_metrics_port(http_port: int) -> int:
    """Where a service's worker serves /metrics: its HTTP port plus 1000, or ephemeral when that port is 0."""
    return http_port + WORKER_METRICS_PORT_OFFSET if http_port else 0


class MetricsServer:
    """``/metrics`` on a port of its own, served from a thread, for processes without an HTTP app."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the port (blocks up to half a second: run it off the event loop)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics_server(port: int, host: str = "0.0.0.0") -> MetricsServer:
    """Serve this process's registry at http://host:port/metrics; port 0 picks a free one."""
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)
    return MetricsServer(server, thread)
