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
from scripts.stack import ROOT, SERVICES, Stack, StackConfig, running
from tests.support import infra
from tests.system.conftest import STAFF_KEY, WAREHOUSE_KEY

pytestmark = pytest.mark.browser

BROWSER_VHOST = f"{infra.TEST_VHOST}_browser"
GATEWAY_PORT = infra.PORT_BASE + 300
SCREENSHOTS = ROOT / "var" / "screenshots"
"""Where each page's screenshots go, in both locales: test artefacts, kept after the run."""
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    try:
        return ensure_browser().chromium
    except BrowserUnavailable as unavailable:
        pytest.skip(f"a browser is needed: {unavailable}")


@pytest.fixture(scope="session")
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
            "SHOP_NOTIFICATIONS_SENDER_POLL_SECONDS": "0.2",
        },
    )
    for service in SERVICES:
        asyncio.run(infra.drop_database(config.database_url(service)))
    with running(config) as stack:
        yield stack
    for service in SERVICES:
        asyncio.run(infra.drop_database(config.database_url(service)))
    infra.delete_vhost(BROWSER_VHOST)


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def mail_dir(stack: Stack) -> Path:
    return stack.config.mail_dir


@pytest.fixture(scope="session")
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
