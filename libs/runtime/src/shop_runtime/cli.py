"""The command line every service shares: ``python -m shop_<service> http|worker|migrate``."""

from __future__ import annotations

import argparse

from shop_runtime.http import run_http_process, serve
from shop_runtime.migrations import migrate, new_revision
from shop_runtime.service import ServiceDefinition
from shop_runtime.telemetry import setup_telemetry
from shop_runtime.worker import run_worker_process


def run_service(definition: ServiceDefinition, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"shop_{definition.name}")
    parser.add_argument("process", choices=["http", "worker", "migrate", "revision"])
    parser.add_argument("--port", type=int, help="override the HTTP port (to run several replicas)")
    parser.add_argument("-m", "--message", help="revision: what the new migration does")
    arguments = parser.parse_args(argv)
    settings = definition.settings_class()
    if arguments.process == "migrate":
        migrate(settings, definition.migrations_path)
        return
    if arguments.process == "revision":
        new_revision(settings, definition.migrations_path, message=arguments.message or "change")
        return
    provider = setup_telemetry(
        settings.service_name,
        process=arguments.process,
        otlp_endpoint=settings.otlp_endpoint,
        span_file=settings.span_file,
        log_level=settings.log_level,
        sample_ratio=settings.trace_sample_ratio,
    )
    try:
        if arguments.process == "http":
            run_http_process(serve(definition.http_app(settings), settings, port=arguments.port))
        else:
            run_worker_process(definition, settings)
    finally:
        provider.shutdown()
