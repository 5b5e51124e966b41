"""Runs the whole shop on this machine: migrates every database and starts every process.

``python -m scripts.stack up`` is what ``make up`` runs; system tests start the same stack with their own
databases, vhost and ports. PostgreSQL and RabbitMQ must already run (on loopback by default).

Before it migrates or starts anything, ``up`` (and ``migrate``) checks every process's settings as the processes
will read them (``scripts.settings_check``) and stops within a second, one line per problem, when one would not
start; ``python -m scripts.stack check`` runs only that check. The operator's own ``SHOP_*`` variables reach
every process, except those the stack sets itself (database and broker URLs, ports, the services' URLs).

``replicas`` runs N copies of every worker and HTTP process (and of the gateway): replica 0 has the usual
names and ports; replica ``r`` (r >= 1) is named ``<process>-<r+1>`` (``orders-worker-2``), its gateway
listens on ``gateway_port + r`` and its services on ``first_service_port + 10 * r + i``. Each gateway talks
to the service HTTP processes of its own replica; every worker of a service consumes the same queue.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from scripts import settings_check

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("catalog", "orders", "payments", "fulfillment", "notifications")
DEV_CLOCK_FILE = ROOT / "var" / "clock-offset"
"""`make up`'s clock offset in seconds (a missing file is no offset); demos move it, only ever forward."""


@dataclass(frozen=True)
class StackConfig:
    postgres: str = "postgresql+asyncpg://postgres@127.0.0.1:5432"
    database_prefix: str = "shop_"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    gateway_port: int = 8000
    first_service_port: int = 8101
    smtp_port: int = 8025
    var: Path = ROOT / "var"
    staff_api_key: str = "staff-dev-key-change-me"
    warehouse_api_key: str = "warehouse-dev-key-change-me"
    psp_webhook_secret: str = "whsec-dev-secret-change-me"
    warehouse_signing_secret: str = "local-stack-only-warehouse-signing-secret"
    """Signs the sandbox PSP's webhooks (to the gateway's /v1/webhooks/psp); payments verifies them with it."""
    otlp_endpoint: str | None = None
    retry_delays_ms: str | None = None
    test_clock_file: Path | None = None
    """Tests only: every process reads its time offset from this file (see shop_runtime.clock)."""
    extra_env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1
    """How many copies of every worker, service HTTP process and gateway to run."""

    @property
    def gateway_url(self) -> str:
        return self.gateway_url_of(0)

    def gateway_url_of(self, replica: int) -> str:
        return f"http://127.0.0.1:{self.gateway_port + replica}"

    @property
    def gateway_urls(self) -> list[str]:
        return [self.gateway_url_of(replica) for replica in range(self.replicas)]

    @property
    def mail_dir(self) -> Path:
        return self.var / "mail"

    @property
    def log_dir(self) -> Path:
        return self.var / "log"

    @property
    def span_dir(self) -> Path:
        return self.var / "spans"

    def service_port(self, service: str, replica: int = 0) -> int:
        return self.first_service_port + 10 * replica + SERVICES.index(service)

    def database_url(self, service: str) -> str:
        return f"{self.postgres}/{self.database_prefix}{service}"

    def environment(self, replica: int = 0) -> dict[str, str]:
        """Every process's settings (of one replica), by the env names their settings classes read."""
        env = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
        env["PYTHONUNBUFFERED"] = "1"
        for service in SERVICES:
            prefix = f"SHOP_{service.upper()}_"
            env[prefix + "DATABASE_URL"] = self.database_url(service)
            env[prefix + "AMQP_URL"] = self.amqp_url
            env[prefix + "HTTP_PORT"] = str(self.service_port(service, replica))
            env[prefix + "SPAN_FILE"] = str(self.span_dir / f"{service}.jsonl")
            if self.otlp_endpoint:
                env[prefix + "OTLP_ENDPOINT"] = self.otlp_endpoint
            if self.retry_delays_ms:
                env[prefix + "RETRY_DELAYS_MS"] = self.retry_delays_ms
            if self.test_clock_file:
                env[prefix + "TEST_CLOCK_FILE"] = str(self.test_clock_file)
            env[f"SHOP_{service.upper()}_URL"] = f"http://127.0.0.1:{self.service_port(service, replica)}"
        env["SHOP_NOTIFICATIONS_GATEWAY_URL"] = self.gateway_url_of(replica)
        env["SHOP_ORDERS_CATALOG_URL"] = f"http://127.0.0.1:{self.service_port('catalog', replica)}"
        env["SHOP_NOTIFICATIONS_SMTP_PORT"] = str(self.smtp_port)
        env["SHOP_GATEWAY_PORT"] = str(self.gateway_port + replica)
        env["SHOP_GATEWAY_SPAN_FILE"] = str(self.span_dir / "gateway.jsonl")
        if self.test_clock_file:
            env["SHOP_GATEWAY_TEST_CLOCK_FILE"] = str(self.test_clock_file)
        # one signing key for every gateway replica, so a customer's token works whichever replica answers
        env["SHOP_GATEWAY_CUSTOMER_TOKEN_KEYS"] = "local-stack-only-customer-token-signing-key"
        if self.otlp_endpoint:
            env["SHOP_GATEWAY_OTLP_ENDPOINT"] = self.otlp_endpoint
        env["SHOP_STAFF_API_KEY"] = self.staff_api_key
        env["SHOP_WAREHOUSE_API_KEY"] = self.warehouse_api_key
        env["SHOP_PAYMENTS_PSP_WEBHOOK_SECRETS"] = self.psp_webhook_secret
        env["SHOP_FULFILLMENT_WAREHOUSE_SIGNING_SECRETS"] = self.warehouse_signing_secret
        env["SHOP_PAYMENTS_PSP_SANDBOX_WEBHOOK_URL"] = f"{self.gateway_url_of(replica)}/v1/webhooks/psp"
        env.update(self.extra_env)
        return env


def replica_suffix(replica: int) -> str:
    """The name suffix of a replica's processes: none for the first, ``-2`` for the second, ..."""
    return "" if replica == 0 else f"-{replica + 1}"


def replica_of(name: str) -> int:
    """Which replica a process name belongs to (``orders-worker`` 0, ``orders-worker-2`` 1)."""
    last = name.rsplit("-", 1)[-1]
    return int(last) - 1 if last.isdigit() else 0


class Stack:
    """The processes of one running shop. Start with ``start``; ``stop`` ends them gracefully."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._log_starts: dict[str, int] = {}
        """Where each process's log stood when it was last started: what it wrote since is this run's."""

    def migrate(self) -> None:
        """Create and migrate every service's database, in parallel."""

        def run(service: str) -> None:
            result = subprocess.run(
                [sys.executable, "-m", f"shop_{service}", "migrate"],
                env=self.config.environment(),
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeError(f"migrating {service} failed:\n{result.stderr[-3000:]}")

        with ThreadPoolExecutor(len(SERVICES)) as pool:
            list(pool.map(run, SERVICES))

    def commands(self) -> dict[str, list[str]]:
        """Every process of the stack by name (replicas after the first as ``<name>-<n>``)."""
        python = sys.executable
        commands = {
            "mailcatcher": [
                python,
                "-m",
                "shop_notifications.mailcatcher",
                "--port",
                str(self.config.smtp_port),
                "--directory",
                str(self.config.mail_dir),
            ]
        }
        for replica in range(self.config.replicas):
            suffix = replica_suffix(replica)
            for service in SERVICES:
                commands[f"{service}-http{suffix}"] = [python, "-m", f"shop_{service}", "http"]
                commands[f"{service}-worker{suffix}"] = [python, "-m", f"shop_{service}", "worker"]
            commands[f"gateway{suffix}"] = [python, "-m", "shop_gateway"]
        return commands

    def start(self, names: list[str] | None = None, *, extra_env: dict[str, str] | None = None) -> None:
        """Start the named processes (default all); ``extra_env`` overrides settings for these only."""
        for directory in (self.config.mail_dir, self.config.log_dir, self.config.span_dir):
            directory.mkdir(parents=True, exist_ok=True)
        for name, command in self.commands().items():
            if names is not None and name not in names:
                continue
            environment = {**self.config.environment(replica_of(name)), **(extra_env or {})}
            log = open(self.config.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
            self._log_starts[name] = log.tell()
            self.processes[name] = subprocess.Popen(
                command,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        """SIGKILL one process: no shutdown, no clean-up (what a crash or the OOM killer does)."""
        self.stop_process(name, kill=True)

    def restart(self, name: str, *, kill: bool = False, extra_env: dict[str, str] | None = None) -> None:
        """Stop one process (SIGTERM, or SIGKILL with ``kill``) and start it again."""
        if name in self.processes:
            self.stop_process(name, kill=kill)
        self.start([name], extra_env=extra_env)

    def pid(self, name: str) -> int:
        return self.processes[name].pid

    def wait_http(self, name: str, timeout: float = 60.0) -> None:
        """Wait until a restarted HTTP process (a service's or a gateway) answers /ready."""
        replica = replica_of(name)
        base = name.split("-")[0]
        port = (
            self.config.gateway_port + replica
            if base == "gateway"
            else self.config.service_port(base, replica)
        )
        self._wait_url(f"http://127.0.0.1:{port}/ready", [name], timeout)

    def wait_worker(self, name: str, timeout: float = 60.0) -> None:
        """Wait until a (re)started worker consumes its queue: it logs that it started once it does."""
        service = name.split("-")[0]
        started = f'"message": "{service} worker started"'
        path = self.config.log_dir / f"{name}.log"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}\n{self.log_tails([name])}")
            with path.open("rb") as log:
                log.seek(self._log_starts.get(name, 0))
                if started.encode() in log.read():
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{name} did not start consuming within {timeout}s\n{self.log_tails([name])}")

    def _wait_url(self, url: str, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = {n: p.returncode for n, p in self.processes.items() if n in names and p.poll() is not None}
            if dead:
                raise RuntimeError(f"processes exited: {dead}\n{self.log_tails(list(dead))}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{url} was not ready within {timeout}s\n{self.log_tails(names)}")

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the gateway says every service is ready; fail with the logs of any process that died."""
        deadline = time.monotonic() + timeout
        waiting = list(self.config.gateway_urls)
        while time.monotonic() < deadline:
            dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
            if dead:
                raise RuntimeError(f"processes exited: {dead}\n{self.log_tails(list(dead))}")
            try:
                with urllib.request.urlopen(f"{waiting[0]}/ready", timeout=2) as response:
                    if response.status == 200:
                        waiting.pop(0)
                        if not waiting:
                            return
                        continue
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(
            f"the shop was not ready within {timeout}s\n{self.log_tails(list(self.processes))}"
        )

    def log_tails(self, names: list[str], lines: int = 15) -> str:
        parts = []
        for name in names:
            path = self.config.log_dir / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def stop_process(self, name: str, *, kill: bool = False, timeout: float = 15.0) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        """SIGTERM to every process (they finish what is in flight), SIGKILL to any still running after 15 s."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()


@contextmanager
def running(config: StackConfig, *, timeout: float = 90.0) -> Iterator[Stack]:
    stack = Stack(config)
    stack.migrate()
    stack.start()
    try:
        stack.wait_ready(timeout)
        yield stack
    finally:
        stack.stop()


def settings_problems(config: StackConfig) -> list[str]:
    """What would stop a process of this stack at start-up, one line each (none when every setting is valid)."""
    found: list[str] = []
    for replica in range(config.replicas):
        found += [line for line in settings_check.problems(config.environment(replica)) if line not in found]
    return found


def exit_on_invalid_settings(problems: list[str]) -> None:
    """Print each problem on its own line and exit 2, before anything was migrated or started."""
    if not problems:
        return
    for line in problems:
        print(line, file=sys.stderr)
    print("nothing was migrated or started: fix the settings above and run it again", file=sys.stderr)
    sys.exit(2)


def up(config: StackConfig) -> None:
    exit_on_invalid_settings(settings_problems(config))
    print("migrating databases ...", flush=True)
    stack = Stack(config)
    stack.migrate()
    print("starting processes ...", flush=True)
    stack.start()
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.wait_ready()
        print(
            f"""
The shop is running.
  gateway        {" ".join(config.gateway_urls)}   (OpenAPI: {config.gateway_url}/docs)
  staff key      X-Api-Key: {config.staff_api_key}
  warehouse key  X-Api-Key: {config.warehouse_api_key}
  mail           {config.mail_dir}/*.eml  (SMTP on 127.0.0.1:{config.smtp_port})
  logs           {config.log_dir}/
Try `make demo` in another terminal. Ctrl-C stops everything.""",
            flush=True,
        )
        while not stopping:
            dead = [name for name, process in stack.processes.items() if process.poll() is not None]
            if dead:
                print(f"processes exited unexpectedly: {dead}\n{stack.log_tails(dead)}", flush=True)
                break
            time.sleep(0.5)
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
        print("stopped.", flush=True)


def operator_settings(environment: dict[str, str], config: StackConfig) -> dict[str, str]:
    """The operator's ``SHOP_*`` variables that the stack does not set itself, for every process."""
    own = config.environment()
    return {key: value for key, value in environment.items() if key.startswith("SHOP_") and key not in own}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["up", "migrate", "check"])
    parser.add_argument(
        "--replicas", type=int, default=1, help="copies of every worker and HTTP process (default 1)"
    )
    arguments = parser.parse_args(argv)
    gateway_port = os.environ.get("SHOP_GATEWAY_PORT", str(StackConfig.gateway_port))
    if not gateway_port.isdigit():
        exit_on_invalid_settings(
            [
                f"SHOP_GATEWAY_PORT: Input should be a valid integer; e.g. SHOP_GATEWAY_PORT={StackConfig.gateway_port}"
            ]
        )
    config = StackConfig(
        staff_api_key=os.environ.get("SHOP_STAFF_API_KEY", StackConfig.staff_api_key),
        warehouse_api_key=os.environ.get("SHOP_WAREHOUSE_API_KEY", StackConfig.warehouse_api_key),
        gateway_port=int(gateway_port),
        otlp_endpoint=os.environ.get("SHOP_OTLP_ENDPOINT"),
        replicas=arguments.replicas,
        # Development only: lets `make demo-preorder` skip the shop ahead in time (delete it for real time).
        test_clock_file=DEV_CLOCK_FILE,
    )
    config = dataclasses.replace(config, extra_env=operator_settings(dict(os.environ), config))
    if arguments.command == "check":
        exit_on_invalid_settings(settings_problems(config))
        print("every setting is valid", flush=True)
    elif arguments.command == "migrate":
        exit_on_invalid_settings(settings_problems(config))
        Stack(config).migrate()
    else:
        up(config)


if __name__ == "__main__":
    main()
