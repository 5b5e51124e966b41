"""The CLI's arguments, settings and refusals that need no database or broker."""

from __future__ import annotations

import io

import pytest

from shop_ops.audit import CHECKS
from shop_ops.cli import build_parser, run
from shop_ops.settings import OpsSettings


def test_settings_read_the_services_env_names_and_ops_names_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_PAYMENTS_DATABASE_URL", "postgresql+asyncpg://x@h/payments_from_stack")
    monkeypatch.setenv("SHOP_ORDERS_DATABASE_URL", "postgresql+asyncpg://x@h/orders_from_stack")
    monkeypatch.setenv("SHOP_OPS_ORDERS_DATABASE_URL", "postgresql+asyncpg://x@h/orders_for_ops")
    monkeypatch.setenv("SHOP_ORDERS_AMQP_URL", "amqp://x@h/vhost")
    settings = OpsSettings()
    urls = settings.database_urls()
    assert list(urls) == ["orders", "catalog", "payments", "fulfillment", "notifications"]
    assert urls["payments"].endswith("/payments_from_stack")
    assert urls["orders"].endswith("/orders_for_ops")
    assert urls["catalog"] == "postgresql+asyncpg://postgres@127.0.0.1:5432/shop_catalog"
    assert settings.amqp_url == "amqp://x@h/vhost"


def test_settings_refuse_a_synchronous_driver() -> None:
    with pytest.raises(ValueError, match="asyncpg"):
        OpsSettings(orders_database_url="postgresql://x@h/db")


def test_replay_needs_a_message_id_or_all() -> None:
    parser = build_parser()
    assert parser.parse_args(["dead-letters", "replay", "payments", "m-1"]).message_id == "m-1"
    assert parser.parse_args(["dead-letters", "replay", "payments", "--all"]).all is True
    with pytest.raises(SystemExit):
        parser.parse_args(["dead-letters", "replay", "payments"])
    with pytest.raises(SystemExit):
        parser.parse_args(["dead-letters", "replay", "payments", "m-1", "--all"])


def test_stuck_takes_a_duration() -> None:
    parser = build_parser()
    assert parser.parse_args(["stuck"]).older_than.total_seconds() == 300
    assert parser.parse_args(["stuck", "--older-than", "2h"]).older_than.total_seconds() == 7200
    with pytest.raises(SystemExit):
        parser.parse_args(["stuck", "--older-than", "soon"])


async def test_purge_without_a_terminal_and_without_yes_is_refused() -> None:
    out = io.StringIO()
    code = await run(
        ["dead-letters", "purge", "payments"],
        settings=OpsSettings(amqp_url="amqp://nobody@127.0.0.1:1/"),
        stdout=out,
        stdin=io.StringIO("payments\n"),
    )
    assert code == 2
    assert (
        "refusing to purge the parked messages of payments without a terminal; pass --yes" in out.getvalue()
    )


def test_every_check_has_a_unique_name_and_a_summary() -> None:
    names = [check.name for check in CHECKS]
    assert len(names) == len(set(names))
    assert all(check.summary for check in CHECKS)
    assert {"stock.within_on_hand", "money.one_charge_per_step", "saga.services_agree"} <= set(names)
