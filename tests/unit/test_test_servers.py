"""Where a session's PostgreSQL and RabbitMQ come from, for each mix of variables, loopback and Docker."""

from __future__ import annotations

import pytest

from tests.support.servers import (
    LOOPBACK_POSTGRES,
    LOOPBACK_RABBITMQ,
    POSTGRES_PORT,
    RABBITMQ_PORT,
    Choice,
    NoTestServers,
    SessionServers,
    Source,
    choose_servers,
    decide,
)

CONFIGURED = {
    "SHOP_TEST_POSTGRES": "postgresql+asyncpg://shop:secret@db.example:6432",
    "SHOP_TEST_RABBITMQ": "amqp://shop:secret@mq.example:5673",
}
BOTH_PORTS = (POSTGRES_PORT, RABBITMQ_PORT)


def test_the_variables_win_over_loopback_and_docker() -> None:
    choice = choose_servers(CONFIGURED, answering_ports=BOTH_PORTS, engine_answers=True)
    assert choice == Choice(postgres=Source.CONFIGURED, rabbitmq=Source.CONFIGURED)


def test_the_variables_are_used_even_when_nothing_else_answers() -> None:
    choice = choose_servers(CONFIGURED, answering_ports=(), engine_answers=False)
    assert choice == Choice(postgres=Source.CONFIGURED, rabbitmq=Source.CONFIGURED)


def test_without_variables_the_machines_servers_on_loopback_are_used_before_docker() -> None:
    choice = choose_servers({}, answering_ports=BOTH_PORTS, engine_answers=True)
    assert choice == Choice(postgres=Source.LOOPBACK, rabbitmq=Source.LOOPBACK)


def test_an_empty_variable_counts_as_unset() -> None:
    choice = choose_servers({"SHOP_TEST_POSTGRES": ""}, answering_ports=BOTH_PORTS, engine_answers=False)
    assert choice.postgres is Source.LOOPBACK


def test_with_nothing_configured_or_on_loopback_docker_starts_both() -> None:
    choice = choose_servers({}, answering_ports=(), engine_answers=True)
    assert choice == Choice(postgres=Source.CONTAINER, rabbitmq=Source.CONTAINER)


def test_each_server_is_decided_on_its_own() -> None:
    only_postgres_on_loopback = choose_servers({}, answering_ports=(POSTGRES_PORT,), engine_answers=True)
    assert only_postgres_on_loopback == Choice(postgres=Source.LOOPBACK, rabbitmq=Source.CONTAINER)
    rabbitmq_configured = choose_servers(
        {"SHOP_TEST_RABBITMQ": CONFIGURED["SHOP_TEST_RABBITMQ"]}, answering_ports=(), engine_answers=True
    )
    assert rabbitmq_configured == Choice(postgres=Source.CONTAINER, rabbitmq=Source.CONFIGURED)


def test_with_nothing_at_all_the_message_says_what_to_start() -> None:
    with pytest.raises(NoTestServers) as raised:
        choose_servers({}, answering_ports=(), engine_answers=False)
    message = str(raised.value)
    assert "PostgreSQL (SHOP_TEST_POSTGRES is not set and nothing answers on 127.0.0.1:5432)" in message
    assert "RabbitMQ (SHOP_TEST_RABBITMQ is not set and nothing answers on 127.0.0.1:5672)" in message
    assert "no Docker engine answers" in message
    assert "Start this machine's PostgreSQL and RabbitMQ" in message
    assert "start a Docker engine" in message


def test_one_missing_server_is_a_failure_naming_only_that_one() -> None:
    with pytest.raises(NoTestServers) as raised:
        choose_servers({}, answering_ports=(RABBITMQ_PORT,), engine_answers=False)
    assert "Not found: PostgreSQL (SHOP_TEST_POSTGRES is not set" in str(raised.value)
    assert "RabbitMQ (" not in str(raised.value)


def test_the_docker_engine_is_only_asked_when_the_variables_and_loopback_are_not_enough() -> None:
    asked: list[str] = []

    def engine() -> bool:
        asked.append("engine")
        return True

    assert decide({}, probe_port=lambda port: True, probe_engine=engine) == Choice(
        postgres=Source.LOOPBACK, rabbitmq=Source.LOOPBACK
    )
    assert asked == []
    assert decide({}, probe_port=lambda port: port == POSTGRES_PORT, probe_engine=engine) == Choice(
        postgres=Source.LOOPBACK, rabbitmq=Source.CONTAINER
    )
    assert asked == ["engine"]


def test_without_a_decision_the_urls_are_the_variables_else_loopback() -> None:
    configured = SessionServers.configured(CONFIGURED)
    assert (configured.postgres, configured.rabbitmq) == (
        CONFIGURED["SHOP_TEST_POSTGRES"],
        CONFIGURED["SHOP_TEST_RABBITMQ"],
    )
    loopback = SessionServers.configured({})
    assert (loopback.postgres, loopback.rabbitmq) == (LOOPBACK_POSTGRES, LOOPBACK_RABBITMQ)
