"""Finds Debian's Chromium, its WebDriver and a Korean font, installing ``chromium``, ``chromium-driver`` and
``fonts-noto-cjk`` where missing (without the font, Korean pages render as empty boxes in screenshots).

``python -m scripts.ensure_browser`` (``make test`` runs it first) prints where both are, installing them through
apt-get when they are missing and apt-get can (root, Debian or Ubuntu); it exits 1 with the reason when it cannot.
The browser tests (tests/browser) call ``ensure_browser()`` once per session and skip with that reason, so a
machine that cannot have a browser says why instead of failing, and one that can always runs them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scripts.ensure_prometheus import exclusive, services_not_started

PACKAGES = ("chromium", "chromium-driver", "fonts-noto-cjk")
CHROMIUM_NAMES = ("chromium", "chromium-browser")
INSTALL_LOCK = Path("/tmp/shop-ensure-browser.lock")
APT_LOCK_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Browser:
    """Where the browser and its WebDriver are."""

    chromium: Path
    chromedriver: Path | None


class BrowserUnavailable(Exception):
    """Chromium is missing and cannot be installed here; the message says why."""


def find_browser() -> Browser | None:
    """Chromium (and chromedriver when present) on PATH, or None when Chromium is missing."""
    chromium = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
    if chromium is None:
        return None
    driver = shutil.which("chromedriver")
    return Browser(chromium=Path(chromium), chromedriver=Path(driver) if driver else None)


def has_korean_font() -> bool:
    """Whether fontconfig knows a font with Korean glyphs."""
    if shutil.which("fc-list") is None:
        return False
    listed = subprocess.run(["fc-list", ":lang=ko"], capture_output=True, text=True, check=False)
    return bool(listed.stdout.strip())


def complete(found: Browser | None) -> bool:
    return found is not None and found.chromedriver is not None and has_korean_font()


def ensure_browser() -> Browser:
    """The browser, installed through apt-get first if it is missing; BrowserUnavailable if it cannot be."""
    found = find_browser()
    if found is not None and complete(found):
        return found
    why_not = cannot_install_reason()
    if why_not is not None:
        if found is not None:
            return found  # Playwright drives Chromium without the WebDriver; Korean shows as boxes
        raise BrowserUnavailable(f"Chromium is not installed and {why_not}")
    with exclusive(INSTALL_LOCK):
        found = find_browser()  # another session may have installed it while this one waited
        if not complete(found):
            install()
            found = find_browser()
    if found is None:
        raise BrowserUnavailable("apt-get installed chromium but it is still not on PATH")
    return found


def cannot_install_reason() -> str | None:
    """Why apt-get cannot install the packages on this machine, or None when it can."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available (install Chromium and put `chromium` on PATH)"
    if os.geteuid() != 0:
        return f"installing needs root: run `sudo apt-get install {' '.join(PACKAGES)}` once"
    return None


def install() -> None:
    """``apt-get install chromium chromium-driver``, non-interactive, with service starts forbidden."""
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "-q", "-o", f"DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_SECONDS}"]
    if not all(has_install_candidate(package) for package in PACKAGES):
        run([*apt, "update"], environment)  # a fresh machine's package lists are empty
    with services_not_started():
        run([*apt, "install", "-y", "--no-install-recommends", *PACKAGES], environment)


def has_install_candidate(package: str) -> bool:
    """Whether apt already knows a version of the package."""
    result = subprocess.run(["apt-cache", "policy", package], capture_output=True, text=True, check=False)
    return "Candidate:" in result.stdout and "Candidate: (none)" not in result.stdout


def run(command: list[str], environment: dict[str, str]) -> None:
    print("+", " ".join(command), file=sys.stderr, flush=True)
    result = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BrowserUnavailable(
            f"`{' '.join(command)}` failed with exit status {result.returncode}:\n{result.stderr[-2000:]}"
        )


def main() -> int:
    try:
        browser = ensure_browser()
    except BrowserUnavailable as unavailable:
        print(f"cannot provide a browser: {unavailable}", file=sys.stderr)
        return 1
    print(f"chromium     {browser.chromium}\nchromedriver {browser.chromedriver or '(not installed)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
