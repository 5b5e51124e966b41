"""The whole shop as real processes for the browser tests, and Debian's Chromium driven through Playwright.

The shop runs as in the system tests, with its own databases, vhost, ports and mail folder, and notifications'
links pointing at this stack's gateway, so a link read from an ``.eml`` file opens a page of this shop. The
browser is the system's Chromium (``scripts.ensure_browser`` installs Debian's package where it is missing):
Playwright drives it through ``executable_path``, so nothing is downloaded. Where no browser can be had, every
test here skips with the reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from scripts.ensure_browser import BrowserUnavailable, ensure_browser
from scripts.stack import ROOT, SERVICES, Stack, StackConfig
from shop_catalog.bootstrap import DEFINITION as CATALOG
from shop_fulfillment.bootstrap import DEFINITION as FULFILLMENT
from shop_notifications.bootstrap import DEFINITION as NOTIFICATIONS
from shop_orders.bootstrap import DEFINITION as ORDERS
from shop_payments.bootstrap import DEFINITION as PAYMENTS
from tests.support import infra
from tests.system.conftest import QUICK_POLLS, STAFF_KEY, WAREHOUSE_KEY

pytestmark = pytest.mark.browser

BROWSER_VHOST = f"{infra.TEST_VHOST}_browser"
GATEWAY_PORT = infra.PORT_BASE + 300
SCREENSHOTS = ROOT / "var" / "screenshots"
"""Where each page's screenshots go, in both locales: test artefacts, kept after the run."""
PHONE: ViewportSize = {"width": 390, "height": 844}
DEFINITIONS = (CATALOG, ORDERS, PAYMENTS, FULFILLMENT, NOTIFICATIONS)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    try:
        return ensure_browser().chromium
    except BrowserUnavailable as unavailable:
        pytest.skip(f"a browser is needed: {unavailable}")


# Package scope (and the browser's too): the shop and Chromium stop once the last browser test is done, rather
# than idling through the integration and system tests, whose stack would share PostgreSQL's connections with it.
@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[Stack]:
    infra.reset_vhost(BROWSER_VHOST)
    var = tmp_path_factory.mktemp("shop-browser")
    gateway_url = f"http://127.0.0.1:{GATEWAY_PORT}"
    config = StackConfig(
        postgres=infra.POSTGRES,
        database_prefix=f"shop_test{infra.RUN_SUFFIX}_browser_",
        amqp_url=infra.amqp_url(BROWSER_VHOST),
        gateway_port=GATEWAY_PORT,
        first_service_port=GATEWAY_PORT + 1,
        smtp_port=GATEWAY_PORT + 25,
        var=var,
        staff_api_key=STAFF_KEY,
        warehouse_api_key=WAREHOUSE_KEY,
        retry_delays_ms="[100, 300, 1000]",
        extra_env={
            "SHOP_NOTIFICATIONS_GATEWAY_URL": gateway_url,
            **QUICK_POLLS,
        },
    )
    asyncio.run(migrated_databases(config))
    stack = Stack(config)
    stack.start()
    try:
        stack.wait_ready(90)
        yield stack
    finally:
        stack.stop()
        asyncio.run(infra.drop_databases(config.database_url(service) for service in SERVICES))
        infra.delete_vhost(BROWSER_VHOST)


async def migrated_databases(config: StackConfig) -> None:
    """Every service's database as Alembic leaves it: a copy of the session's template (tests/support/infra.py),
    which the integration tests copy too. The system tests' stack runs each service's ``migrate`` command."""
    for definition in DEFINITIONS:
        settings = infra.service_settings(definition, database_url=config.database_url(definition.name))
        await infra.fresh_database(definition, settings)


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def mail_dir(stack: Stack) -> Path:
    return stack.config.mail_dir


@pytest.fixture(scope="package")
async def browser(chromium_path: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium_path), args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh phone-sized browser context per test: its own cookies, so one test's forms never help another."""
    context = await browser.new_context(viewport=PHONE, device_scale_factor=1, java_script_enabled=False)
    opened = await context.new_page()
    yield opened
    await context.close()
