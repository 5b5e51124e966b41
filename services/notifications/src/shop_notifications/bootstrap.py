"""Notifications' composition root: how its HTTP app and worker (consumer and sender) are put together."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from shop_notifications import api, consumers, tables
from shop_notifications.delivery import RetryPolicy
from shop_notifications.links import LinkSigning
from shop_notifications.page_links import LinkTarget
from shop_notifications.sender import EmailSender
from shop_notifications.settings import NotificationsSettings
from shop_notifications.smtp import SmtpMailer
from shop_notifications.staff_emails import StaffAlerting
from shop_runtime.consumer import Subscriptions
from shop_runtime.http import SERVICE_READINESS, create_app, service_lifespan
from shop_runtime.service import BackgroundTask, ServiceDefinition, WorkerContext
from shop_runtime.settings import ServiceSettings


def link_target(settings: NotificationsSettings) -> LinkTarget:
    """Where the links to customers' pages point: the gateway's hosted pages or the merchant's storefront."""
    return LinkTarget(
        mode=settings.customer_links,
        gateway_url=settings.gateway_url,
        storefront_url=settings.storefront_url,
        valid_seconds=settings.page_link_days * 86_400,
    )


def link_signing(settings: NotificationsSettings) -> LinkSigning:
    """How the sender signs preference links and the HTTP API checks them: the same for both."""
    return LinkSigning(
        public_url=link_target(settings).pages_url,
        valid_seconds=settings.preference_link_days * 86_400,
        api_url=settings.gateway_url,
    )


def create_http_app(settings: ServiceSettings) -> FastAPI:
    assert isinstance(settings, NotificationsSettings)
    return create_app(
        title="notifications (internal)",
        routers=[api.router],
        lifespan=service_lifespan(settings, DEFINITION.database, link_signing=link_signing(settings)),
        readiness_checks=SERVICE_READINESS,
    )


def subscriptions(context: WorkerContext) -> Subscriptions:
    settings = context.settings
    assert isinstance(settings, NotificationsSettings)
    staff = StaffAlerting(addresses=tuple(settings.staff_alert_emails), locale=settings.staff_locale)
    return consumers.subscriptions(
        storefront_url=settings.storefront_url, staff=staff, target=link_target(settings)
    )


def background(context: WorkerContext) -> Sequence[BackgroundTask]:
    settings = context.settings
    assert isinstance(settings, NotificationsSettings)
    sender = EmailSender(
        context.database,
        SmtpMailer(settings),
        policy=RetryPolicy(
            max_attempts=settings.sender_max_attempts,
            base_delay=timedelta(seconds=settings.sender_retry_base_seconds),
            max_delay=timedelta(seconds=settings.sender_retry_max_seconds),
        ),
        batch_size=settings.sender_batch_size,
        poll_seconds=settings.sender_poll_seconds,
        signing=link_signing(settings),
        clock=context.clock,
        idle_seconds=settings.smtp_idle_seconds,
    )
    return [sender.run]


DEFINITION = ServiceDefinition(
    name="notifications",
    settings_class=NotificationsSettings,
    metadata=tables.metadata,
    migrations_path=Path(__file__).parent / "migrations",
    create_app=create_http_app,
    subscriptions=subscriptions,
    background=background,
)
