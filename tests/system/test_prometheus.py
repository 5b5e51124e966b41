"""A real Prometheus scraping the running shop with deploy/prometheus's jobs and alert rules: an order's counters
and a parked message reach it, the alert rule for parked messages goes off on them, and every metric a Grafana
dashboard or an alert rule names is one the processes really export."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from scripts.ensure_prometheus import PrometheusTools, PrometheusUnavailable, ensure_prometheus
from scripts.stack import ROOT, SERVICES, Stack
from shop_contracts.routing import COMMANDS_EXCHANGE, parking_queue
from shop_runtime.broker import connect, declare_exchanges
from shop_runtime.metrics import worker_metrics_port
from shop_storefront import checkout, new_sku
from tests.support import infra
from tests.support.messages import eventually
from tests.system.shop import STAFF, place_order, product_in_stock, wait_for_status

pytestmark = pytest.mark.system

DEPLOY = ROOT / "deploy"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
PROMETHEUS_PORT = infra.PORT_BASE + 90
SCRAPE_SECONDS = 1
PROMETHEUS_BUILTINS = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
"""Series Prometheus makes itself: scrape health and the state of its alerts."""
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")
PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
    | {"inf", "nan", "Inf", "NaN"}
)


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    try:
        return ensure_prometheus()
    except PrometheusUnavailable as unavailable:
        pytest.skip(f"a Prometheus server is needed: {unavailable}")


def scrape_config(stack: Stack) -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with its compose targets replaced by the test stack's ports."""
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"] = {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"}
    config["rule_files"] = [str(PROMETHEUS_CONFIG.parent / path) for path in config["rule_files"]]
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            group["targets"] = [local_target(stack, job["job_name"], group.get("labels", {}).get("process"))]
    return config


def local_target(stack: Stack, job: str, process: str | None) -> str:
    if job == "prometheus":
        return f"127.0.0.1:{PROMETHEUS_PORT}"
    if job == "gateway":
        return f"127.0.0.1:{stack.config.gateway_port}"
    port = stack.config.service_port(job)
    return f"127.0.0.1:{worker_metrics_port(port) if process == 'worker' else port}"


@dataclass(frozen=True)
class Prometheus:
    client: httpx.AsyncClient

    async def query(self, expression: str) -> list[dict[str, Any]]:
        response = await self.client.get("/api/v1/query", params={"query": expression})
        assert response.status_code == 200, response.text
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    async def value(self, expression: str) -> float:
        """The value of a query that yields one sample, 0 when it yields none."""
        result = await self.query(expression)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else 0.0

    async def metric_names(self) -> set[str]:
        response = await self.client.get("/api/v1/label/__name__/values")
        assert response.status_code == 200, response.text
        return set(response.json()["data"])


@pytest.fixture(scope="module")
def prometheus_server(
    stack: Stack, prometheus_tools: PrometheusTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A Prometheus of its own (config, data, port) scraping every process of the stack each second."""
    directory = tmp_path_factory.mktemp("prometheus")
    config = directory / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(stack)))
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(prometheus_tools.prometheus),
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{PROMETHEUS_PORT}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (directory / "prometheus.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (directory / "prometheus.log").read_text()[-3000:]
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
async def prometheus(prometheus_server: str) -> AsyncIterator[Prometheus]:
    async with httpx.AsyncClient(base_url=prometheus_server, timeout=10) as client:
        server = Prometheus(client)

        async def every_process_scraped() -> None:
            targets = await server.query("up")
            assert len(targets) == 2 + 2 * len(SERVICES), targets  # prometheus, gateway, http + worker each
            assert {sample["value"][1] for sample in targets} == {"1"}, targets

        await eventually(every_process_scraped, timeout=20, interval=0.2)
        yield server


@pytest.fixture(scope="module")
async def orders_placed(stack: Stack, prometheus_server: str) -> dict[str, int]:
    """One order paid and one declined, through the gateway: what the order counters and dashboards show."""
    async with httpx.AsyncClient(base_url=stack.config.gateway_url, timeout=10) as gateway:
        sku = new_sku("PROM")
        await product_in_stock(gateway, sku=sku, units=5)
        placed = {}
        for token, status in (("tok_visa", "confirmed"), ("tok_card_declined", "rejected")):
            response = await place_order(gateway, checkout(sku, token=token))
            assert response.status_code == 202, response.text
            await wait_for_status(gateway, response.json(), status)
            placed[status] = 1
    return placed


async def test_a_placed_order_shows_in_prometheus_by_its_counters(
    prometheus: Prometheus, orders_placed: dict[str, int]
) -> None:
    async def counted() -> None:
        assert await prometheus.value('sum(shop_orders_placed_total{job="orders", currency="KRW"})') >= 2
        assert await prometheus.value('sum(shop_orders_confirmed_total{job="orders", currency="KRW"})') >= 1
        assert await prometheus.value('sum(shop_orders_rejected_total{reason="payment_declined"})') >= 1
        checkouts = (
            'sum(shop_http_request_duration_seconds_count{job="gateway", route="/v1/orders", status="202"})'
        )
        assert await prometheus.value(checkouts) >= 2
        captured = 'sum(shop_payments_captured_minor_units_total{job="payments", kind="checkout"})'
        assert await prometheus.value(captured) > 0

    await eventually(counted, timeout=20, interval=0.5)


@pytest.fixture
async def parked_at_payments(stack: Stack, gateway: httpx.AsyncClient) -> AsyncIterator[str]:
    """A message payments cannot even decode, parked; purged again afterwards."""
    message_id = str(uuid.uuid4())
    broker = await connect(stack.config.amqp_url)
    try:
        channel = await broker.channel(publisher_confirms=True)
        await declare_exchanges(channel)
        await (await channel.get_exchange(COMMANDS_EXCHANGE)).publish(
            aio_pika.Message(b"{not json", message_id=message_id, type="payments.payment.capture.v1"),
            routing_key="payments.payment.capture.v1",
        )
    finally:
        await broker.close()
    yield message_id
    listed = await gateway.get("/v1/admin/dead-letters", headers=STAFF)
    [payments] = [entry for entry in listed.json()["services"] if entry["service"] == "payments"]
    if payments["count"]:
        purged = await gateway.delete(
            "/v1/admin/dead-letters/payments", params={"confirm": payments["count"]}, headers=STAFF
        )
        assert purged.status_code == 200, purged.text


async def test_a_parked_message_shows_in_prometheus_and_sets_off_its_alert(
    prometheus: Prometheus, parked_at_payments: str
) -> None:
    queue = parking_queue("payments")

    async def parked() -> None:
        assert await prometheus.value(f'max(shop_dead_letter_messages{{queue="{queue}"}})') >= 1
        handled = (
            'sum(shop_messages_handled_total{job="payments", queue="payments.messages", outcome="parked"})'
        )
        assert await prometheus.value(handled) >= 1
        # the rule of deploy/prometheus/alerts.yml, evaluated by this Prometheus on the shop's own numbers
        alerts = await prometheus.query(f'ALERTS{{alertname="MessagesParked", queue="{queue}"}}')
        assert [alert["metric"]["alertstate"] for alert in alerts] in (["pending"], ["firing"]), alerts

    await eventually(parked, timeout=30, interval=0.5)


def dashboard_expressions() -> list[tuple[str, str]]:
    """Every PromQL expression of every Grafana dashboard, with where it is."""
    found = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append((where, node["expr"]))
            title = node.get("title")
            for value in node.values():
                walk(value, f"{where} / {title}" if isinstance(title, str) else where)
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    for path in DASHBOARDS:
        walk(json.loads(path.read_text()), path.name)
    return found


def alert_expressions() -> list[tuple[str, str]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [
        (f"alerts.yml / {rule.get('alert') or rule.get('record')}", rule["expr"])
        for group in groups
        for rule in group["rules"]
    ]


def recorded_names() -> set[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return {rule["record"] for group in groups for rule in group["rules"] if "record" in rule}


def metric_names_in(expression: str) -> set[str]:
    """The metric names a PromQL expression (with Grafana's $variables) selects."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expression)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables
    names = set()
    for found in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)(\s*\()?", text):
        name, is_call = found.group(1), found.group(2)
        if not is_call and name not in PROMQL_WORDS:
            names.add(name)
    return names


def test_metric_names_are_found_in_promql() -> None:
    assert metric_names_in(
        'histogram_quantile(0.99, sum by (le, route) (rate(shop_http_request_duration_seconds_bucket{job="$job", '
        'status=~"5.."}[$__rate_interval]))) / on (job) group_left up offset 5m > 0 and vector(1)'
    ) == {"shop_http_request_duration_seconds_bucket", "up"}


def exported(name: str, names: set[str]) -> bool:
    if name in names or name in PROMETHEUS_BUILTINS:
        return True
    return any(f"{name}{suffix}" in names for suffix in SUFFIXES)  # a histogram or counter by its family


async def test_every_metric_a_dashboard_or_an_alert_names_is_exported(
    prometheus: Prometheus, orders_placed: dict[str, int]
) -> None:
    expressions = dashboard_expressions() + alert_expressions()
    assert len(expressions) > 20, "no dashboard or alert expressions were found"
    wanted: dict[str, list[str]] = {}
    for where, expression in expressions:
        for name in metric_names_in(expression) - recorded_names():
            wanted.setdefault(name, []).append(where)
    assert {"shop_orders_placed_total", "shop_dead_letter_messages"} <= set(wanted)

    async def all_exported() -> None:
        names = await prometheus.metric_names()
        missing = {name: places for name, places in wanted.items() if not exported(name, names)}
        assert not missing, f"named but not exported by any running process: {missing}"

    await eventually(all_exported, timeout=20, interval=0.5)
