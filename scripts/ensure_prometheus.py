"""Finds ``prometheus`` and ``promtool``, installing Debian's ``prometheus`` package when they are missing.

``python -m scripts.ensure_prometheus`` (or ``make prometheus``) prints where both binaries are, installing them
first when apt-get can (root, Debian or Ubuntu); it exits 1 with the reason when it cannot. The tests that
check the alert rules and run a real Prometheus call ``ensure_prometheus()`` once per session and skip with
that reason.

Installing must not leave a second Prometheus running on :9090: while the package installs, a
``policy-rc.d`` that forbids starting services stands in for whatever the machine had (Debian's maintainer
scripts ask it before starting one, under systemd and SysV init alike), and the original is put back after.
``--no-install-recommends`` keeps out prometheus-node-exporter, which would be another service.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "prometheus"
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
NO_SERVICE_STARTS = (
    "#!/bin/sh\n# Written by scripts/ensure_prometheus.py while it installs a package.\nexit 101\n"
)
INSTALL_LOCK = Path("/tmp/shop-ensure-prometheus.lock")
APT_LOCK_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class PrometheusTools:
    """Where the Prometheus server and its rule and config checker are."""

    prometheus: Path
    promtool: Path


class PrometheusUnavailable(Exception):
    """The binaries are missing and cannot be installed here; the message says why."""


def find_tools() -> PrometheusTools | None:
    """The binaries on PATH, or None when either is missing."""
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus is None or promtool is None:
        return None
    return PrometheusTools(prometheus=Path(prometheus), promtool=Path(promtool))


def ensure_prometheus() -> PrometheusTools:
    """The binaries, installed through apt-get first if they are missing; PrometheusUnavailable if they cannot be."""
    found = find_tools()
    if found is not None:
        return found
    why_not = cannot_install_reason()
    if why_not is not None:
        raise PrometheusUnavailable(f"prometheus and promtool are not installed and {why_not}")
    with exclusive(INSTALL_LOCK):
        found = find_tools()  # another session may have installed it while this one waited
        if found is None:
            install()
            found = find_tools()
    if found is None:
        raise PrometheusUnavailable(
            f"apt-get installed {PACKAGE} but prometheus or promtool is still not on PATH"
        )
    return found


def cannot_install_reason() -> str | None:
    """Why apt-get cannot install the package on this machine, or None when it can."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available (install Debian's or Ubuntu's 'prometheus' package, or put both on PATH)"
    if os.geteuid() != 0:
        return f"installing needs root: run `sudo apt-get install {PACKAGE}` once"
    return None


def install() -> None:
    """``apt-get install prometheus``, non-interactive, with service starts forbidden while it runs."""
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_SECONDS}"]
    if not has_install_candidate():
        run([*apt, "update"], environment)
    with services_not_started():
        run([*apt, "install", "-y", "--no-install-recommends", PACKAGE], environment)


def has_install_candidate() -> bool:
    """Whether apt already knows a version of the package (a fresh machine needs ``apt-get update`` first)."""
    result = subprocess.run(
        ["apt-cache", "policy", PACKAGE], capture_output=True, text=True, check=False, env=os.environ
    )
    candidates = [
        line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if "Candidate:" in line
    ]
    return bool(candidates) and candidates[0] != "(none)"


def run(command: list[str], environment: dict[str, str]) -> None:
    print("+", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PrometheusUnavailable(
            f"`{' '.join(command)}` failed with exit status {result.returncode}:\n{result.stderr[-2000:]}"
        )


@contextmanager
def services_not_started() -> Iterator[None]:
    """A policy-rc.d that answers "not now" (101) to every service start, in place of the machine's own."""
    original = POLICY_RC_D.read_bytes() if POLICY_RC_D.exists() else None
    mode = POLICY_RC_D.stat().st_mode if original is not None else 0o755
    POLICY_RC_D.write_text(NO_SERVICE_STARTS)
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        if original is None:
            POLICY_RC_D.unlink(missing_ok=True)
        else:
            POLICY_RC_D.write_bytes(original)
            POLICY_RC_D.chmod(mode)


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``: concurrent test sessions install once, one after the other."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main() -> int:
    try:
        tools = ensure_prometheus()
    except PrometheusUnavailable as unavailable:
        print(f"cannot provide Prometheus: {unavailable}", file=sys.stderr)
        return 1
    print(f"prometheus {tools.prometheus}\npromtool   {tools.promtool}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
