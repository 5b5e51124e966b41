"""Payments' composition root: how its HTTP app and worker are put together from settings."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from shop_contracts import Message
from shop_payments import api, consumers, hold_dunning, hold_handlers, subscription_charges, tables
from shop_payments.hold_dunning import EndHoldDunning, RetryHoldCharge
from shop_payments.hold_handlers import BeginHoldDunning, HoldPolicy, SettleHold
from shop_payments.psp import PaymentServiceProvider, SandboxPsp, SandboxWebhooks
from shop_payments.settings import PaymentsSettings
from shop_runtime.clock import clock_for
from shop_runtime.consumer import Probed, Subscription, Subscriptions
from shop_runtime.http import SERVICE_READINESS, create_app, service_lifespan
from shop_runtime.scheduling import Jobs
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
                ),
                clock=lambda: clock.now().timestamp(),
                hold_seconds=settings.psp_sandbox_hold_days * 24 * 3600,
            )


def create_http_app(settings: ServiceSettings, *, psp_factory: PspFactory = create_psp) -> FastAPI:
    """The internal API; it verifies methods and refunds through the PSP, so it holds one too."""
    assert isinstance(settings, PaymentsSettings)
    return create_app(
        title="payments (internal)",
        routers=[api.router, subscription_charges.router],
        lifespan=service_lifespan(settings, DEFINITION.database, psp=psp_factory(settings)),
        readiness_checks=SERVICE_READINESS,
    )


def hold_policy(context: WorkerContext) -> HoldPolicy:
    """When money is taken for in-stock goods, when holds are settled, and how a lapsed one is dunned."""
    settings = context.settings
    assert isinstance(settings, PaymentsSettings)
    return HoldPolicy(
        capture_mode=settings.capture_mode,
        settle_margin=timedelta(hours=settings.hold_settle_margin_hours),
        clock=context.clock,
        dunning_retry_after=timedelta(hours=settings.hold_dunning_retry_hours),
        dunning_period=timedelta(days=settings.hold_dunning_period_days),
    )


def service_definition(psp_factory: PspFactory = create_psp) -> ServiceDefinition:
    """Payments as the runtime runs it; tests pass a ``psp_factory`` to hold on to the PSP they watch."""

    # The worker's consumers and its scheduled jobs share one PSP (the sandbox keeps its holds in memory).
    psps: dict[int, PaymentServiceProvider] = {}

    def psp_of(context: WorkerContext) -> PaymentServiceProvider:
        assert isinstance(context.settings, PaymentsSettings)
        key = id(context)
        if key not in psps:
            psps.clear()
            psps[key] = psp_factory(context.settings)
        return psps[key]

    def subscriptions(context: WorkerContext) -> Subscriptions:
        policy, psp = hold_policy(context), psp_of(context)
        subscribed: dict[type[Message], Subscription] = {}
        for message, consumer in consumers.SUBSCRIPTIONS.items():
            handler = functools.partial(consumer, psp=psp, policy=policy)
            probe = consumers.PROBES.get(message)
            subscribed[message] = handler if probe is None else Probed(handler, probe)
        return subscribed

    def jobs(context: WorkerContext) -> Jobs:
        policy, psp = hold_policy(context), psp_of(context)
        return {
            SettleHold: functools.partial(hold_handlers.on_settle_hold, psp=psp),
            BeginHoldDunning: functools.partial(hold_dunning.on_begin_hold_dunning, policy=policy),
            RetryHoldCharge: functools.partial(hold_dunning.on_retry_hold_charge, psp=psp, policy=policy),
            EndHoldDunning: functools.partial(hold_dunning.on_end_hold_dunning, policy=policy),
        }

    return ServiceDefinition(
        name="payments",
        settings_class=PaymentsSettings,
        metadata=tables.metadata,
        migrations_path=Path(__file__).parent / "migrations",
        create_app=functools.partial(create_http_app, psp_factory=psp_factory),
        subscriptions=subscriptions,
        jobs=jobs,
    )


DEFINITION = service_definition()
