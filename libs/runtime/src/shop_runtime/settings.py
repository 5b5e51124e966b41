"""Settings every service has; each service subclasses with its own env prefix and defaults."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Created once at start-up by ``main``; never at import time."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: ClassVar[str]

    database_url: str
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    http_host: str = "127.0.0.1"
    http_port: int

    retry_delays_ms: list[int] = Field(
        default=[1_000, 5_000, 30_000],
        description="Delay before each retry of a failed message; when spent, the message is parked.",
    )
    consumer_prefetch: int = Field(
        default=64,
        ge=1,
        description="Messages the broker hands a worker before it acks them. Under a backlog a slot's next batch "
        "holds what is ready when it frees, so about consumer_concurrency x consumer_batch_size keeps batches full "
        "(32 held 5.5 messages a transaction in docs/benchmarks.md's backlog, 64 held 12).",
    )
    consumer_concurrency: int = Field(
        default=4,
        ge=1,
        description="Units of work a worker runs at once (each one message, or a batch of them: "
        "consumer_batch_size); kept below database_pool_size so the relay and the scheduler still get a "
        "connection without overflow.",
    )
    consumer_batch_size: int = Field(
        default=16,
        ge=1,
        description="Ready messages of different orders a worker handles in one transaction when more are ready "
        "than it has free slots (a backlog): one BEGIN, inbox claim, outbox write and COMMIT for them all. It never "
        "waits for a batch to fill. When one of them fails, the batch is rolled back and each handled alone, so "
        "the handlers of the others run twice (their effects once). 1: every message in its own transaction.",
    )
    relay_batch_size: int = Field(default=200, ge=1)
    relay_idle_poll_seconds: float = Field(default=1.0, gt=0)
    scheduler_poll_seconds: float = Field(default=1.0, gt=0)
    job_max_attempts: int = Field(
        default=8,
        ge=1,
        description="Attempts of a failing scheduled job before it is parked (each wait twice the last, from 30 s "
        "to at most an hour; 8 is about an hour of trying). 'shop-ops jobs' lists parked jobs and runs them again.",
    )
    message_retention_days: float = Field(
        default=7,
        gt=0,
        description="Published outbox rows and inbox claims older than this are deleted by the worker.",
    )
    message_retention_interval_seconds: float = Field(default=600, gt=0)
    message_retention_batch_size: int = Field(default=1000, ge=1)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    database_pool_size: int = Field(default=5, ge=1)
    database_pool_pre_ping: bool = Field(
        default=True,
        description="Test each pooled connection before use; the test is the BEGIN of the transaction it is taken "
        "for, so it costs no round trip of its own. Off: a connection that died with the database then fails its "
        "first use, which throws away every pooled connection of that moment; the message is retried, the HTTP "
        "caller gets 503 and may retry.",
    )

    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP traces endpoint, e.g. Jaeger's.")
    span_file: str | None = Field(default=None, description="Also write finished spans as JSON lines here.")
    trace_sql: bool = Field(
        default=True,
        description="A client span per SQL statement in the traces (the most numerous spans by far). A process "
        "with neither an OTLP endpoint nor a span file records no spans at all.",
    )
    trace_sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of new traces recorded; a message or request continuing a trace follows its parent.",
    )
    log_level: str = "INFO"
    test_clock_file: str | None = Field(
        default=None,
        description="Tests only: a file with a time offset in seconds that every process applies.",
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("database_url must use the postgresql+asyncpg:// driver")
        return value
