"""Payments' composition root: how its HTTP app and worker are put together from settings."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from shop_payments import api, consumers, tables
from shop_payments.psp import PaymentServiceProvider, SandboxPsp, SandboxWebhooks
from shop_payments.settings import PaymentsSettings
from shop_runtime.clock import clock_for
from shop_runtime.consumer import Subscriptions
from shop_runtime.http import SERVICE_READINESS, create_app, service_lifespan
from shop_runtime.service import ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings

PspFactory = Callable[[PaymentsSettings], PaymentServiceProvider]


def create_psp(settings: PaymentsSettings) -> PaymentServiceProvider:
    """The PSP adapter the settings name; the sandbox is the only one so far.

    The sandbox signs its webhooks by the shop's clock (a test that moves time moves their timestamps too).
    """
    match settings.psp:
        case "sandbox":
            clock = clock_for(settings.test_clock_file)
            return SandboxPsp(
                webhooks=SandboxWebhooks(
                    settings.psp_sandbox_webhook_url,
                    settings.webhook_secrets,
                    clock=lambda: clock.now().timestamp(),
                )
            )


def create_http_app(settings: ServiceSettings, *, psp_factory: PspFactory = create_psp) -> FastAPI:
    """The internal API; it verifies methods and refunds through the PSP, so it holds one too."""
    assert isinstance(settings, PaymentsSettings)
    return create_app(
        title="payments (internal)",
        routers=[api.router],
        lifespan=service_lifespan(settings, DEFINITION.database, psp=psp_factory(settings)),
        readiness_checks=SERVICE_READINESS,
    )


def service_definition(psp_factory: PspFactory = create_psp) -> ServiceDefinition:
    """Payments as the runtime runs it; tests pass a ``psp_factory`` to hold on to the PSP they watch."""

    def subscriptions(context: WorkerContext) -> Subscriptions:
        assert isinstance(context.settings, PaymentsSettings)
        psp = psp_factory(context.settings)
        return {
            message: functools.partial(consumer, psp=psp)
            for message, consumer in consumers.SUBSCRIPTIONS.items()
        }

    return ServiceDefinition(
        name="payments",
        settings_class=PaymentsSettings,
        metadata=tables.metadata,
        migrations_path=Path(__file__).parent / "migrations",
        create_app=functools.partial(create_http_app, psp_factory=psp_factory),
        subscriptions=subscriptions,
    )


DEFINITION = service_definition()
