"""OpenTelemetry set-up for one process, and JSON logs that carry the trace id."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Sequence
from typing import IO

from opentelemetry import trace
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from sqlalchemy.ext.asyncio import AsyncEngine

from shop_runtime.card_data import mask_card_numbers


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans as JSON lines to a file: how tests and operators read traces without a collector."""

    def __init__(self, path: str) -> None:
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            context = span.get_span_context()
            if context is None:
                continue
            lines.append(
                json.dumps(
                    {
                        "service": span.resource.attributes.get("service.name"),
                        "name": span.name,
                        "kind": span.kind.name,
                        "trace_id": format(context.trace_id, "032x"),
                        "span_id": format(context.span_id, "016x"),
                        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                        "links": [format(link.context.span_id, "016x") for link in span.links],
                        "start": span.start_time,
                        "end": span.end_time,
                        "attributes": {
                            k: mask_card_numbers(str(v)) for k, v in (span.attributes or {}).items()
                        },
                    }
                )
            )
        with self._lock:
            self._file.write("".join(line + "\n" for line in lines))
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._file.close()


def setup_telemetry(
    service: str,
    *,
    process: str,
    otlp_endpoint: str | None,
    span_file: str | None,
    log_level: str,
    sample_ratio: float = 1.0,
) -> TracerProvider:
    """Install the tracer provider for this process and JSON logging; call once at start-up.

    ``sample_ratio`` is the share of new traces recorded (by trace id, so every process keeps or drops the same
    ones); a trace that began elsewhere follows its parent's decision, so a kept order is kept whole.

    A process with neither an OTLP endpoint nor a span file records no spans at all (spans nobody exports are
    pure cost: the SQL spans alone were about a tenth of a worker's samples). OpenTelemetry's default tracer
    then hands on the context it was given, so the ``traceparent`` of a request or message still reaches the
    messages it causes and the log lines still carry its trace id; the trace has no spans from this process.
    """
    provider = TracerProvider(
        resource=Resource.create({"service.name": service, "shop.process": process}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    if span_file:
        provider.add_span_processor(BatchSpanProcessor(JsonLinesSpanExporter(span_file)))
    if spans_exported(otlp_endpoint=otlp_endpoint, span_file=span_file):
        trace.set_tracer_provider(provider)
    setup_logging(service, process=process, level=log_level)
    return provider


def spans_exported(*, otlp_endpoint: str | None, span_file: str | None) -> bool:
    """Whether a process records spans: only when it has somewhere to send them."""
    return bool(otlp_endpoint or span_file)


def spans_recorded() -> bool:
    """Whether this process may record spans: once a tracer provider of the SDK is installed (``setup_telemetry``
    installs one only where spans are exported). Until then the hot paths skip building spans and their
    attributes, and only hand the trace context on."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider)


def trace_sql(engine: AsyncEngine) -> None:
    """A client span for every statement the engine runs (the SQL text with its placeholders, never the
    values), as a child of the request or message being handled. One engine per process: a second call in
    the same process is ignored by the instrumentor.

    The instrumentor declares SQLAlchemy below 2.1 and would refuse 2.1; the engine events it listens to are
    unchanged in 2.1, and tests/system/test_tracing.py checks that the spans appear, so its check is skipped.
    """
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, enable_commenter=False, skip_dep_check=True
    )


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str, process: str) -> None:
        super().__init__()
        self._service = service
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), ensure_ascii=False)

    def fields(self, record: logging.LogRecord) -> dict[str, object]:
        """The line's fields before encoding: a subclass adds its own here, so a line is encoded once."""
        entry: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "service": self._service,
            "process": self._process,
            "logger": record.name,
            "message": mask_card_numbers(record.getMessage()),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        if record.exc_info:
            entry["exception"] = mask_card_numbers(self.formatException(record.exc_info))
        return entry


def setup_logging(service: str, *, process: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service, process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aio_pika").setLevel(logging.WARNING)
    logging.getLogger("aiormq").setLevel(logging.WARNING)
