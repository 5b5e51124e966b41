"""`make up` checks every process's settings before it migrates or starts anything, and explains each problem in
one line: the variable, what is wrong, a value that works. Nothing here starts a process or opens a connection."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scripts import stack
from scripts.settings_check import RANDOM_KEY, RANDOM_LONG_KEY, every_field, example, problems, variable
from scripts.stack import ROOT, Stack, StackConfig

SHORT_STAFF_KEY = "SHOP_STAFF_API_KEY: String should have at least 16 characters; e.g. SHOP_STAFF_API_KEY=$(openssl rand -hex 16)"
BAD_STOREFRONT_URL = (
    "SHOP_NOTIFICATIONS_STOREFRONT_URL: storefront_url must start with http:// or https://; "
    "e.g. SHOP_NOTIFICATIONS_STOREFRONT_URL=http://127.0.0.1:8000"
)
NOTHING_STARTED = "nothing was migrated or started: fix the settings above and run it again"


def operator_environment(**settings: str) -> dict[str, str]:
    """This machine's environment without any SHOP_ variable, plus ``settings``."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
    return {**environment, **settings}


@pytest.fixture
def nothing_may_start(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records (and refuses) any attempt to migrate or start a process."""
    attempts: list[str] = []

    def refuse(name: str):
        def attempt(*args: object, **kwargs: object) -> None:
            attempts.append(name)
            raise AssertionError(f"{name} ran although the settings are invalid")

        return attempt

    monkeypatch.setattr(Stack, "migrate", refuse("migrate"))
    monkeypatch.setattr(Stack, "start", refuse("start"))
    return attempts


def test_up_with_a_short_staff_key_and_a_malformed_url_names_both_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], nothing_may_start: list[str]
) -> None:
    for key in [key for key in os.environ if key.startswith("SHOP_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SHOP_STAFF_API_KEY", "too-short")
    monkeypatch.setenv("SHOP_NOTIFICATIONS_STOREFRONT_URL", "shop.example.com")

    with pytest.raises(SystemExit) as exited:
        stack.main(["up"])

    assert exited.value.code == 2
    output = capsys.readouterr()
    assert output.err.splitlines() == [BAD_STOREFRONT_URL, SHORT_STAFF_KEY, NOTHING_STARTED]
    assert "migrating" not in output.out
    assert nothing_may_start == []


def test_the_check_as_make_up_runs_it_exits_non_zero_with_only_those_lines() -> None:
    environment = operator_environment(
        SHOP_STAFF_API_KEY="too-short", SHOP_NOTIFICATIONS_STOREFRONT_URL="shop.example.com"
    )
    result = subprocess.run(
        [sys.executable, "-m", "scripts.stack", "check"],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [BAD_STOREFRONT_URL, SHORT_STAFF_KEY, NOTHING_STARTED]
    assert result.stdout == ""  # how long it takes is measured, not tested: docs/operations.md


def test_the_default_settings_of_make_up_are_valid() -> None:
    assert problems(StackConfig().environment()) == []
    assert stack.settings_problems(StackConfig(replicas=2)) == []


def test_a_value_that_is_not_json_and_a_port_that_is_not_a_number_are_named() -> None:
    environment = StackConfig().environment() | {
        "SHOP_ORDERS_TAX_RATES": "KR=1000",
        "SHOP_ORDERS_HTTP_PORT": "eighty",
        "SHOP_NOTIFICATIONS_SMTP_USERNAME": "mailer",
    }

    assert problems(environment) == [
        "SHOP_ORDERS_TAX_RATES: not valid JSON; e.g. SHOP_ORDERS_TAX_RATES='"
        '{"KR": 1000, "US-CA": 725, "US-NY": 400, "US-TX": 625, "US-WA": 650, "CA": 500, "CA-ON": 1300, '
        '"CA-NS": 1400, "CA-NB": 1500}\'',
        "SHOP_NOTIFICATIONS_SMTP_USERNAME, SHOP_NOTIFICATIONS_SMTP_PASSWORD: set both smtp_username and "
        "smtp_password, or neither; e.g. SHOP_NOTIFICATIONS_SMTP_USERNAME=shop-mailer "
        "SHOP_NOTIFICATIONS_SMTP_PASSWORD=$(openssl rand -hex 16)",
    ]


def test_a_wrong_database_driver_and_a_gateway_port_that_is_no_number(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], nothing_may_start: list[str]
) -> None:
    environment = StackConfig().environment() | {"SHOP_CATALOG_DATABASE_URL": "postgres://127.0.0.1/shop"}
    assert problems(environment) == [
        "SHOP_CATALOG_DATABASE_URL: database_url must use the postgresql+asyncpg:// driver; "
        "e.g. SHOP_CATALOG_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/shop_catalog"
    ]

    monkeypatch.setenv("SHOP_GATEWAY_PORT", "80a")
    with pytest.raises(SystemExit) as exited:
        stack.main(["up"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "SHOP_GATEWAY_PORT: Input should be a valid integer; e.g. SHOP_GATEWAY_PORT=8000",
        NOTHING_STARTED,
    ]


@pytest.mark.parametrize(
    ("settings_class", "name"), list(every_field()), ids=[variable(c, n) for c, n in every_field()]
)
def test_every_example_is_a_valid_value(settings_class: type, name: str) -> None:
    """The value each problem line suggests passes the check itself (a random key stands in for openssl's)."""
    stand_ins = {RANDOM_KEY: "0123456789abcdef" * 2, RANDOM_LONG_KEY: "0123456789abcdef" * 4}
    environment = StackConfig().environment()
    names = ["smtp_username", "smtp_password"] if name in ("smtp_username", "smtp_password") else [name]
    for each in names:
        suggested = example(settings_class, each)
        assert not suggested.startswith("<"), f"{variable(settings_class, each)} has no example; add one"
        environment[variable(settings_class, each)] = stand_ins.get(suggested, suggested).strip("'")
    if name == "support_api_key":  # a key may serve one role only
        environment[variable(settings_class, name)] = "fedcba9876543210" * 2
    assert problems(environment) == []


def test_the_operators_own_settings_reach_the_processes_but_not_over_the_stacks_wiring() -> None:
    config = StackConfig()
    passed = stack.operator_settings(
        {
            "SHOP_GATEWAY_CHECKOUT_CONCURRENCY": "32",
            "SHOP_ORDERS_DATABASE_URL": "postgresql+asyncpg://elsewhere/orders",
            "SHOP_ORDERS_HTTP_PORT": "9999",
            "PATH": "/usr/bin",
        },
        config,
    )
    assert passed == {"SHOP_GATEWAY_CHECKOUT_CONCURRENCY": "32"}
