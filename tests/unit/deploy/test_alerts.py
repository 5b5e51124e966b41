"""The Prometheus alert rules in deploy/prometheus pass promtool's checks and their own unit tests, every alert has
a test that makes it fire, and docs/operations.md tells the operator what to do about each."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from scripts.ensure_prometheus import PrometheusTools, PrometheusUnavailable, ensure_prometheus

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
OPERATIONS = ROOT / "docs" / "operations.md"


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    try:
        return ensure_prometheus()
    except PrometheusUnavailable as unavailable:
        pytest.skip(f"promtool is needed to check the alert rules: {unavailable}")


def promtool(tools: PrometheusTools, *arguments: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tools.promtool), *map(str, arguments)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_the_prometheus_config_and_its_rule_file_check(prometheus_tools: PrometheusTools) -> None:
    checked = promtool(prometheus_tools, "check", "config", PROMETHEUS / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rule files found" in checked.stdout
    rules = promtool(prometheus_tools, "check", "rules", ALERTS)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in rules.stdout


def test_the_alert_rules_pass_their_promtool_unit_tests(prometheus_tools: PrometheusTools) -> None:
    assert RULE_TESTS, "deploy/prometheus/tests has no rule tests"
    tested = promtool(prometheus_tools, "test", "rules", *RULE_TESTS)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_promtool_fails_a_rule_test_whose_expectation_is_wrong(
    prometheus_tools: PrometheusTools, tmp_path: Path
) -> None:
    """The unit tests above can fail: an expectation that the rules do not meet is reported."""
    test_file = yaml.safe_load(RULE_TESTS[0].read_text())
    test_file["rule_files"] = [str(ALERTS)]
    first = test_file["tests"][0]
    firing = next(case for case in first["alert_rule_test"] if case["exp_alerts"])
    firing["exp_alerts"][0]["exp_labels"]["severity"] = "info"
    broken = tmp_path / "broken_test.yml"
    broken.write_text(yaml.safe_dump(test_file))

    tested = promtool(prometheus_tools, "test", "rules", broken)
    assert tested.returncode != 0
    assert 'severity="info"' in tested.stdout + tested.stderr


def test_every_alert_has_a_rule_test_that_makes_it_fire() -> None:
    firing: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for expectation in case.get("alert_rule_test", []):
                if expectation["exp_alerts"]:
                    firing.add(expectation["alertname"])
    assert {rule["alert"] for rule in alert_rules()} == firing


def test_every_alert_has_a_severity_a_summary_and_a_section_in_the_operations_guide() -> None:
    guide = OPERATIONS.read_text()
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert f"`{rule['alert']}`" in guide, f"docs/operations.md does not explain {rule['alert']}"
