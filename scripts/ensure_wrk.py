"""Finds ``wrk`` (the HTTP load generator the bench drives checkouts with), installing Debian's package where missing.

``python -m scripts.ensure_wrk`` (``make bench`` runs it first) prints where wrk is, installing it through
apt-get when it is not on PATH and apt-get can (root, Debian or Ubuntu); it exits 1 with the reason when it cannot.
The bench calls ``ensure_wrk()`` too, so ``python -m bench`` on a fresh machine installs it the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from scripts.ensure_prometheus import exclusive

PACKAGE = "wrk"
INSTALL_LOCK = Path("/tmp/shop-ensure-wrk.lock")
APT_LOCK_TIMEOUT_SECONDS = 300


class WrkUnavailable(Exception):
    """wrk is missing and cannot be installed here; the message says why."""


def ensure_wrk() -> Path:
    """wrk's path, installed through apt-get first if it is missing; WrkUnavailable if it cannot be."""
    found = shutil.which(PACKAGE)
    if found is not None:
        return Path(found)
    if shutil.which("apt-get") is None:
        raise WrkUnavailable(
            "wrk is not installed and apt-get is not available: install wrk and put it on PATH"
        )
    if os.geteuid() != 0:
        raise WrkUnavailable(
            f"wrk is not installed and installing needs root: run `sudo apt-get install {PACKAGE}`"
        )
    with exclusive(INSTALL_LOCK):
        if shutil.which(PACKAGE) is None:  # another session may have installed it while this one waited
            _install()
    found = shutil.which(PACKAGE)
    if found is None:
        raise WrkUnavailable(f"apt-get installed {PACKAGE} but wrk is still not on PATH")
    return Path(found)


def _install() -> None:
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_SECONDS}"]
    policy = subprocess.run(["apt-cache", "policy", PACKAGE], capture_output=True, text=True, check=False)
    if "Candidate:" not in policy.stdout or "Candidate: (none)" in policy.stdout:
        _run([*apt, "update"], environment)  # a fresh machine's package lists are empty
    _run([*apt, "install", "-y", "--no-install-recommends", PACKAGE], environment)


def _run(command: list[str], environment: dict[str, str]) -> None:
    print("+", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise WrkUnavailable(
            f"`{' '.join(command)}` failed with exit status {result.returncode}:\n{result.stderr[-2000:]}"
        )


def main() -> int:
    try:
        path = ensure_wrk()
    except WrkUnavailable as unavailable:
        print(f"cannot provide wrk: {unavailable}", file=sys.stderr)
        return 1
    print(f"wrk {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
