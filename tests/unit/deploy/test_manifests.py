"""What deploy/ and docker-compose.yml hold parses, and the Kubernetes manifests validate offline.

The manifests are checked against the Kubernetes 1.30 schemas bundled with kubernetes-validate, in strict mode
(an unknown field fails), and against what the shop needs of every Deployment: probes, resources, replicas.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
KUBERNETES_VERSION = "1.30"
SERVICES = ("catalog", "orders", "payments", "fulfillment", "notifications")
PROCESSES = {*(f"{service}-{process}" for service in SERVICES for process in ("http", "worker")), "gateway"}


def resources() -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object in deploy/k8s (kustomization.yaml is kustomize's, not the cluster's)."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found += [(path.name, document) for document in yaml.safe_load_all(path.read_text()) if document]
    return found


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {r["metadata"]["name"]: r for _, r in resources() if r["kind"] == kind}


@pytest.mark.parametrize(
    "resource",
    [r for _, r in resources()],
    ids=[f"{f}:{r['kind']}/{r['metadata']['name']}" for f, r in resources()],
)
def test_every_manifest_validates_against_the_kubernetes_schema(resource: dict[str, Any]) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_what_kubernetes_would() -> None:
    broken = json.loads(json.dumps(of_kind("Deployment")["gateway"]))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken["spec"]["replicas"] = 2
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_file() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_every_process_has_a_deployment_with_two_replicas_probes_and_resources() -> None:
    deployments = of_kind("Deployment")
    assert set(deployments) == PROCESSES
    for name, deployment in deployments.items():
        spec = deployment["spec"]
        assert spec["replicas"] >= 2, name
        pod = spec["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] >= 15, name
        [container] = pod["containers"]
        assert container["image"] == "shop:latest", name
        assert {"requests", "limits"} <= set(container["resources"]), name
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), name
        assert "preStop" in container["lifecycle"], name
        sources = {next(iter(source)) for source in container["envFrom"]}
        assert sources == {"configMapRef", "secretRef"}, name
        assert "livenessProbe" in container, name
        if name.endswith("-worker"):
            continue
        assert container["readinessProbe"]["httpGet"]["path"] == "/ready", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/health", name


def test_http_processes_have_services_and_every_process_a_disruption_budget() -> None:
    services = of_kind("Service")
    assert set(services) == {name for name in PROCESSES if not name.endswith("-worker")}
    budgets = of_kind("PodDisruptionBudget")
    assert set(budgets) == PROCESSES
    for name, budget in budgets.items():
        assert budget["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}


def test_a_job_migrates_every_service_database() -> None:
    [job] = of_kind("Job").values()
    command = " ".join(job["spec"]["template"]["spec"]["containers"][0]["command"])
    for service in SERVICES:
        assert f"shop_{service} migrate" in command


def test_the_secret_carries_database_and_broker_urls_and_the_keys() -> None:
    [secret] = of_kind("Secret").values()
    keys = set(secret["stringData"])
    for service in SERVICES:
        assert {f"SHOP_{service.upper()}_DATABASE_URL", f"SHOP_{service.upper()}_AMQP_URL"} <= keys
    assert {"SHOP_STAFF_API_KEY", "SHOP_WAREHOUSE_API_KEY", "SHOP_ORDERS_ACCESS_TOKEN_SECRET"} <= keys


def test_docker_compose_runs_prometheus_and_grafana_next_to_every_process() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert PROCESSES | {"prometheus", "grafana", "jaeger"} <= set(services)
    for name in PROCESSES - {"gateway"}:
        assert services[name]["image"] == "shop:local", name  # merged from the x-shop anchor
        assert services[name]["expose"] == ["9080" if name.endswith("-worker") else "8080"], name
    for mounted in (*services["prometheus"]["volumes"], *services["grafana"]["volumes"]):
        source = mounted.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists(), source


def test_prometheus_scrapes_every_process_by_its_compose_name() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target.split(":")[0]
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert targets >= PROCESSES


def test_compose_gives_prometheus_every_rule_file_its_config_names() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounted = {volume.split(":")[1] for volume in compose["services"]["prometheus"]["volumes"]}
    assert config["rule_files"], "no alerting rules are loaded"
    for rule_file in config["rule_files"]:
        assert f"/etc/prometheus/{rule_file}" in mounted, rule_file


def test_grafana_provisions_prometheus_jaeger_and_the_dashboards() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "datasources.yml").read_text())
    assert {source["type"] for source in datasources["datasources"]} == {"prometheus", "jaeger"}
    providers = yaml.safe_load((provisioning / "dashboards" / "dashboards.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.parametrize(
    "path", sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")), ids=lambda p: p.name
)
def test_every_dashboard_parses_and_queries_prometheus(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"]
    assert dashboard["title"]
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus", panel["title"]
        assert all(target["expr"] for target in panel["targets"]), panel["title"]


def test_the_dashboards_cover_order_flow_queues_errors_and_the_outbox() -> None:
    names = {path.stem for path in (DEPLOY / "grafana" / "dashboards").glob("*.json")}
    assert {"order-flow", "queues", "errors", "outbox"} <= names
