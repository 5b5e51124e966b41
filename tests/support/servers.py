"""Where a test session's PostgreSQL and RabbitMQ come from: configured, this machine's, or containers.

Each server is decided on its own, once per session (tests/conftest.py, before the first integration or system
module is imported): its SHOP_TEST_* variable when set; else the machine's server when its loopback port
answers; else a container started with testcontainers when a Docker engine answers, stopped at the session's
end. With none of the three the session stops with one message saying what to start. The chaos suite never
comes here: it starts servers of its own.
"""

from __future__ import annotations

import enum
import shutil
import socket
import subprocess
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer

POSTGRES_VARIABLE = "SHOP_TEST_POSTGRES"
RABBITMQ_VARIABLE = "SHOP_TEST_RABBITMQ"
LOOPBACK = "127.0.0.1"
POSTGRES_PORT = 5432
RABBITMQ_PORT = 5672
LOOPBACK_POSTGRES = f"postgresql+asyncpg://postgres@{LOOPBACK}:{POSTGRES_PORT}"
LOOPBACK_RABBITMQ = f"amqp://guest:guest@{LOOPBACK}:{RABBITMQ_PORT}"
POSTGRES_IMAGE = "postgres:16"
RABBITMQ_IMAGE = "rabbitmq:3.13-management"
"""The broker of docker-compose.yml: its image lets guest/guest in from outside the container."""
CONTAINER_PASSWORD = "postgres"
PORT_TIMEOUT_SECONDS = 0.5
ENGINE_TIMEOUT_SECONDS = 3


class Source(enum.Enum):
    CONFIGURED = "the configured one (SHOP_TEST_*)"
    LOOPBACK = "this machine's, on loopback"
    CONTAINER = "a container of this session"


@dataclass(frozen=True)
class Choice:
    postgres: Source
    rabbitmq: Source

    def describe(self) -> str:
        return f"PostgreSQL is {self.postgres.value}; RabbitMQ is {self.rabbitmq.value}"


class NoTestServers(RuntimeError):
    """A server is neither configured nor answering on loopback, and no Docker engine answers to start it."""


def choose_servers(
    environment: Mapping[str, str], *, answering_ports: Collection[int], engine_answers: bool
) -> Choice:
    """Where each server comes from: its variable, else loopback if its port answers, else a container if an
    engine answers."""

    def source(variable: str, port: int) -> Source | None:
        if environment.get(variable):
            return Source.CONFIGURED
        if port in answering_ports:
            return Source.LOOPBACK
        return Source.CONTAINER if engine_answers else None

    postgres = source(POSTGRES_VARIABLE, POSTGRES_PORT)
    rabbitmq = source(RABBITMQ_VARIABLE, RABBITMQ_PORT)
    if postgres is None or rabbitmq is None:
        missing = [
            f"{name} ({variable} is not set and nothing answers on {LOOPBACK}:{port})"
            for name, found, variable, port in (
                ("PostgreSQL", postgres, POSTGRES_VARIABLE, POSTGRES_PORT),
                ("RabbitMQ", rabbitmq, RABBITMQ_VARIABLE, RABBITMQ_PORT),
            )
            if found is None
        ]
        raise NoTestServers(
            "The integration and system tests need PostgreSQL and RabbitMQ."
            f" Not found: {' and '.join(missing)}; and no Docker engine answers to start them in containers."
            " Start this machine's PostgreSQL and RabbitMQ, set"
            f" {POSTGRES_VARIABLE} and {RABBITMQ_VARIABLE} to servers of your own,"
            " or start a Docker engine (docs/testing-servers.md)."
        )
    return Choice(postgres=postgres, rabbitmq=rabbitmq)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=PORT_TIMEOUT_SECONDS):
            return True
    except OSError:
        return False


def engine_answers() -> bool:
    """Whether a Docker engine answers testcontainers (DOCKER_HOST, the Docker context or the socket)."""
    # Imported here: sessions that never need a container do not load the Docker client.
    from testcontainers.core.docker_client import DockerClient

    try:
        client = DockerClient(timeout=ENGINE_TIMEOUT_SECONDS)
        client.client.ping()
        client.client.close()
    except Exception:  # no socket, refused, timed out or an API error: no engine to start containers in
        return False
    return True


def decide(
    environment: Mapping[str, str],
    *,
    probe_port: Callable[[int], bool] = port_answers,
    probe_engine: Callable[[], bool] = engine_answers,
) -> Choice:
    """Probe loopback, and the Docker engine only if loopback and the variables are not enough; choose."""
    answering = [port for port in (POSTGRES_PORT, RABBITMQ_PORT) if probe_port(port)]
    try:
        return choose_servers(environment, answering_ports=answering, engine_answers=False)
    except NoTestServers:
        pass  # not enough without containers: ask the engine
    return choose_servers(environment, answering_ports=answering, engine_answers=probe_engine())


def local_rabbitmqctl() -> str:
    return shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


@dataclass
class SessionServers:
    """The URLs a session uses (no database, no vhost) and the containers it started for them."""

    postgres: str
    rabbitmq: str
    choice: Choice | None = None
    """None until decided: the variables' servers, else loopback's, as before any decision."""
    postgres_container: DockerContainer | None = None
    rabbitmq_container: DockerContainer | None = None

    @classmethod
    def configured(cls, environment: Mapping[str, str]) -> SessionServers:
        return cls(
            postgres=environment.get(POSTGRES_VARIABLE) or LOOPBACK_POSTGRES,
            rabbitmq=environment.get(RABBITMQ_VARIABLE) or LOOPBACK_RABBITMQ,
        )

    def rabbitmqctl(self, *arguments: str, check: bool = True) -> str:
        """Run rabbitmqctl on the session's RabbitMQ node: inside its container, else the machine's CLI."""
        if self.rabbitmq_container is None:
            command = [local_rabbitmqctl(), *arguments]
            return subprocess.run(command, capture_output=True, text=True, check=check).stdout
        command = ["rabbitmqctl", *arguments]
        result = self.rabbitmq_container.exec(command)
        output = result.output.decode()
        if check and result.exit_code != 0:
            raise subprocess.CalledProcessError(result.exit_code or 1, command, output)
        return output

    def stop(self) -> None:
        """Stop and remove the containers started for the session (the others are not ours to stop)."""
        for container in (self.rabbitmq_container, self.postgres_container):
            if container is not None:
                container.stop()
        self.rabbitmq_container = self.postgres_container = None


def start_session_servers(environment: Mapping[str, str]) -> SessionServers:
    """Decide where the servers come from and start the containers that asks for."""
    choice = decide(environment)
    servers = SessionServers.configured(environment)
    servers.choice = choice
    try:
        if choice.postgres is Source.CONTAINER:
            servers.postgres_container = start_postgres()
            servers.postgres = container_url(
                "postgresql+asyncpg",
                f"postgres:{CONTAINER_PASSWORD}",
                servers.postgres_container,
                POSTGRES_PORT,
            )
        if choice.rabbitmq is Source.CONTAINER:
            servers.rabbitmq_container = start_rabbitmq()
            servers.rabbitmq = container_url("amqp", "guest:guest", servers.rabbitmq_container, RABBITMQ_PORT)
    except BaseException:
        servers.stop()
        raise
    return servers


def start_postgres() -> DockerContainer:
    from testcontainers.community.postgres import PostgresContainer

    # The superuser the tests' drop and create database statements need, as on the machine's server.
    container = PostgresContainer(
        POSTGRES_IMAGE, username="postgres", password=CONTAINER_PASSWORD, dbname="postgres", driver="asyncpg"
    )
    return container.start()


def start_rabbitmq() -> DockerContainer:
    # testcontainers' RabbitMqContainer waits with pika, which this project does not install; its log line is
    # the readiness testcontainers-java waits for.
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = (
        DockerContainer(RABBITMQ_IMAGE)
        .with_exposed_ports(RABBITMQ_PORT)
        .waiting_for(LogMessageWaitStrategy("Server startup complete"))
    )
    return container.start()


def container_url(scheme: str, credentials: str, container: DockerContainer, port: int) -> str:
    host = container.get_container_host_ip()
    return f"{scheme}://{credentials}@{host}:{container.get_exposed_port(port)}"
