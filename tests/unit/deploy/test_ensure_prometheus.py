"""scripts/ensure_prometheus.py installs Prometheus only where it can, says why not otherwise, and never leaves
the machine's service policy changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from scripts import ensure_prometheus
from scripts.ensure_prometheus import NO_SERVICE_STARTS, PrometheusUnavailable


def test_no_service_starts_while_installing_and_the_machines_own_policy_comes_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 0\n")
    policy.chmod(0o700)
    monkeypatch.setattr(ensure_prometheus, "POLICY_RC_D", policy)

    with ensure_prometheus.services_not_started():
        assert policy.read_text() == NO_SERVICE_STARTS
        assert policy.stat().st_mode & 0o777 == 0o755

    assert policy.read_text() == "#!/bin/sh\nexit 0\n"
    assert policy.stat().st_mode & 0o777 == 0o700


def test_a_policy_written_only_for_the_install_is_removed_even_when_it_fails(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    policy = tmp_path / "policy-rc.d"
    monkeypatch.setattr(ensure_prometheus, "POLICY_RC_D", policy)

    def failing_install() -> None:
        with ensure_prometheus.services_not_started():
            assert policy.read_text() == NO_SERVICE_STARTS
            raise PrometheusUnavailable("apt-get failed")

    with pytest.raises(PrometheusUnavailable):
        failing_install()

    assert not policy.exists()


def test_without_root_or_apt_get_it_says_why_instead_of_installing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ensure_prometheus, "find_tools", lambda: None)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(ensure_prometheus, "install", lambda: pytest.fail("installed without root"))

    with pytest.raises(PrometheusUnavailable, match="installing needs root"):
        ensure_prometheus.ensure_prometheus()

    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(PrometheusUnavailable, match="apt-get is not available"):
        ensure_prometheus.ensure_prometheus()
