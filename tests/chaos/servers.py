"""The chaos suite's own PostgreSQL cluster and RabbitMQ node, so its restarts never touch the machine's servers.

Each session makes a private PostgreSQL cluster (``initdb`` into a temporary folder with the machine's binaries
under /usr/lib/postgresql/*/bin: its own port, trust auth, fsync and synchronous_commit left on) and a private
RabbitMQ node (its own node name, AMQP, distribution and epmd ports, data, logs, config, cookie and an empty
plugins file: no management or Prometheus listener), all on loopback. Faults restart those (``pg_ctl``,
``rabbitmqctl -n``); the session stops and deletes them at its end, also after a failure.

``SHOP_CHAOS_SHARED_SERVERS=1`` runs against the machine's servers instead (SHOP_TEST_POSTGRES and
SHOP_TEST_RABBITMQ) and restarts them, as the suite did before: only for a machine without the binaries above,
and only where nobody else uses those servers.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.chaos import faults
from tests.support import infra

SHARED_SERVERS = os.environ.get("SHOP_CHAOS_SHARED_SERVERS") == "1"
LOOPBACK = "127.0.0.1"


class MissingServerBinaries(RuntimeError):
    """The machine lacks what a private server needs."""


def _run(command: list[str], *, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return done.stdout


def _as_user(user: str, command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the machine's ``postgres`` user."""
    if os.geteuid() != 0:
        return command
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", user, "--", *command]


def _wait(check: object, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(0.2)


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the session's own, controlled with pg_ctl."""

    port: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="shop-chaos-postgres-")))

    @staticmethod
    def binaries() -> Path:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        if not found:
            raise MissingServerBinaries("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        return Path(found[-1]).parent

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@{LOOPBACK}:{self.port}"

    def _pg_ctl(self, *arguments: str, timeout: float = 120) -> None:
        command = [
            str(self.binaries() / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "postgres.log"),
        ]
        _run(_as_user("postgres", [*command, *arguments]), timeout=timeout)

    def create(self) -> None:
        bin_dir = self.binaries()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        _run(
            _as_user(
                "postgres",
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ],
            )
        )
        settings = {
            "listen_addresses": f"'{LOOPBACK}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "300",
            "fsync": "on",
            "synchronous_commit": "on",
            "shared_buffers": "64MB",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n# shop chaos suite: a private cluster on loopback\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())
        self.start()

    def ready(self) -> bool:
        command = [str(self.binaries() / "pg_isready"), "-h", LOOPBACK, "-p", str(self.port), "-q"]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0

    def start(self, timeout: float = 60) -> None:
        self._pg_ctl("start", "-w", "-t", str(int(timeout)), timeout=timeout + 10)
        _wait(self.ready, timeout=timeout, what="the private PostgreSQL answering")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast", "-w", "-t", "60", timeout=70)

    def restart(self) -> None:
        """The fault: a fast shutdown (every connection cut) and a start."""
        self._pg_ctl("restart", "-m", "fast", "-w", "-t", "60", timeout=70)

    def ensure_running(self, timeout: float = 60) -> None:
        if not self.ready():
            subprocess.run(
                _as_user("postgres", [str(self.binaries() / "pg_ctl"), "-D", str(self.data), "status"]),
                capture_output=True,
                check=False,
            )
            try:
                self.start(timeout)
            except RuntimeError:
                pass  # it may be starting already
        _wait(self.ready, timeout=timeout, what="the private PostgreSQL answering")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "30", timeout=40)
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRabbit:
    """A RabbitMQ node of the session's own (its own epmd too), controlled with ``rabbitmqctl -n``."""

    amqp_port: int
    dist_port: int
    epmd_port: int
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="shop-chaos-rabbitmq-")))
    process: subprocess.Popen[bytes] | None = None

    @property
    def node(self) -> str:
        return f"shop_chaos_{self.amqp_port}@localhost"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{LOOPBACK}:{self.amqp_port}"

    @staticmethod
    def script(name: str) -> str:
        for candidate in (f"/usr/lib/rabbitmq/bin/{name}", shutil.which(name)):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
        raise MissingServerBinaries(f"no {name} (RabbitMQ) on this machine")

    def environment(self) -> dict[str, str]:
        """Everything the node and its CLI need, none of it shared with the machine's node."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            {
                "HOME": str(self.root),  # the private .erlang.cookie
                "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": LOOPBACK,
                "RABBITMQ_NODE_PORT": str(self.amqp_port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.root / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
                "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(self.root / "rabbitmq.pid"),
                "ERL_EPMD_ADDRESS": LOOPBACK,
                "ERL_EPMD_PORT": str(self.epmd_port),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            }
        )
        return env

    def create(self, timeout: float = 120) -> None:
        server = self.script("rabbitmq-server")
        for folder in ("mnesia", "log"):
            (self.root / folder).mkdir()
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = {LOOPBACK}:{self.amqp_port}\nloopback_users.guest = true\n"
        )
        (self.root / "advanced.config").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text(
            "# the chaos suite's node: everything comes from its env\n"
        )
        (self.root / "enabled_plugins").write_text("[].\n")
        cookie = self.root / ".erlang.cookie"
        cookie.write_text(os.urandom(16).hex().upper())
        cookie.chmod(0o400)
        self.process = subprocess.Popen(
            [server],
            env=self.environment(),
            cwd=self.root,
            stdout=(self.root / "server.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (self.root / "session.json").write_text(
            json.dumps({"pid": self.process.pid, "epmd_port": self.epmd_port})
        )
        self.await_startup(timeout)

    def ctl(self, *arguments: str, timeout: float = 120) -> str:
        return _run(
            [self.script("rabbitmqctl"), "-n", self.node, *arguments], env=self.environment(), timeout=timeout
        )

    def await_startup(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                log = (self.root / "server.out").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the private RabbitMQ node exited {self.process.returncode}:\n{log}")
            try:
                self.ctl("-q", "await_startup", "--timeout", "10", timeout=30)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop_app(self) -> None:
        self.ctl("-q", "stop_app")

    def start_app(self) -> None:
        """Start the app (idempotent) and wait until the broker serves."""
        self.ctl("-q", "start_app")
        self.ctl("-q", "await_startup", timeout=180)

    def remove(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.ctl("-q", "stop", timeout=60)
                self.process.wait(30)
            except (RuntimeError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # The node started its own epmd (on its own port); it outlives the node unless told to go.
        epmd = shutil.which("epmd")
        if epmd:
            subprocess.run(
                [epmd, "-kill"],
                env=self.environment(),
                capture_output=True,
                check=False,
                timeout=30,
            )
        shutil.rmtree(self.root, ignore_errors=True)


def reap_stale(*, postgres_port: int, amqp_port: int) -> None:
    """Stop and delete what a session on the same ports left behind when it was killed before its teardown."""
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), "shop-chaos-postgres-*")):
        pid_file = Path(folder) / "data" / "postmaster.pid"
        lines = pid_file.read_text().splitlines() if pid_file.exists() else []
        if len(lines) > 3 and lines[3].strip() == str(postgres_port):
            stale = PrivatePostgres(port=postgres_port, root=Path(folder))
            try:
                stale._pg_ctl("stop", "-m", "immediate", "-w", "-t", "30", timeout=40)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            shutil.rmtree(folder, ignore_errors=True)
    for folder in glob.glob(os.path.join(tempfile.gettempdir(), "shop-chaos-rabbitmq-*")):
        session = Path(folder) / "session.json"
        conf = Path(folder) / "rabbitmq.conf"
        if not (session.exists() and conf.exists() and f":{amqp_port}\n" in conf.read_text()):
            continue
        left = json.loads(session.read_text())
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(left["pid"]), signal.SIGKILL)
        epmd = shutil.which("epmd")
        if epmd:
            env = {**os.environ, "ERL_EPMD_PORT": str(left["epmd_port"])}
            subprocess.run([epmd, "-kill"], env=env, capture_output=True, check=False, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


class Servers:
    """The PostgreSQL and RabbitMQ a chaos session uses: private ones, or the machine's when asked."""

    def __init__(self, port_base: int) -> None:
        self.postgres: PrivatePostgres | None = None
        self.rabbit: PrivateRabbit | None = None
        if SHARED_SERVERS:
            return
        reap_stale(postgres_port=port_base + 70, amqp_port=port_base + 71)
        try:
            self.postgres = PrivatePostgres(port=port_base + 70)
            self.postgres.create()
            self.rabbit = PrivateRabbit(
                amqp_port=port_base + 71, dist_port=port_base + 72, epmd_port=port_base + 73
            )
            self.rabbit.create()
        except BaseException:
            self.close()
            raise

    @property
    def postgres_url(self) -> str:
        return infra.POSTGRES if self.postgres is None else self.postgres.url

    @property
    def postgres_port(self) -> int:
        if self.postgres is not None:
            return self.postgres.port
        return make_url(infra.POSTGRES).port or 5432

    def amqp_url(self, vhost: str) -> str:
        return infra.amqp_url(vhost) if self.rabbit is None else f"{self.rabbit.url}/{vhost}"

    def rabbitmqctl(self, *arguments: str, timeout: float = 120) -> str:
        if self.rabbit is None:
            return _run([infra.rabbitmqctl(), *arguments], timeout=timeout)
        return self.rabbit.ctl(*arguments, timeout=timeout)

    def reset_vhost(self, vhost: str) -> None:
        """Start from an empty vhost: no queues or messages left by an earlier run."""
        try:
            self.rabbitmqctl("-q", "delete_vhost", vhost)
        except RuntimeError:
            pass  # there was none
        self.rabbitmqctl("-q", "add_vhost", vhost)
        self.rabbitmqctl("-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")

    def delete_vhost(self, vhost: str) -> None:
        try:
            self.rabbitmqctl("-q", "delete_vhost", vhost)
        except RuntimeError:
            pass

    # --- the faults -------------------------------------------------------------------------------

    def rabbit_stop_app(self) -> None:
        self.rabbitmqctl("-q", "stop_app")

    def rabbit_start_app(self) -> None:
        self.rabbitmqctl("-q", "start_app")
        self.rabbitmqctl("-q", "await_startup", timeout=180)

    def postgres_restart(self) -> None:
        if self.postgres is not None:
            self.postgres.restart()
        else:
            faults.postgres_restart()

    def postgres_ensure_running(self) -> None:
        if self.postgres is not None:
            self.postgres.ensure_running()
        else:
            faults.postgres_ensure_running()

    def describe(self) -> str:
        if self.postgres is None or self.rabbit is None:
            return (
                "the machine's PostgreSQL and RabbitMQ (SHOP_CHAOS_SHARED_SERVERS=1: restarted by the faults)"
            )
        return (
            f"private PostgreSQL on {LOOPBACK}:{self.postgres.port} ({self.postgres.root}),"
            f" private RabbitMQ node {self.rabbit.node} on {LOOPBACK}:{self.rabbit.amqp_port}"
        )

    def close(self) -> None:
        """Stop and delete the private servers (nothing to do for the machine's)."""
        rabbit, postgres = self.rabbit, self.postgres
        try:
            if rabbit is not None:
                rabbit.remove()
        finally:
            if postgres is not None:
                postgres.remove()


_ACTIVE: list[Servers] = []


def active() -> Servers:
    """The servers of the running session (set by the ``servers`` fixture)."""
    assert _ACTIVE, "no chaos servers: use the servers fixture"
    return _ACTIVE[-1]


def activate(servers: Servers) -> None:
    _ACTIVE.append(servers)


def deactivate(servers: Servers) -> None:
    _ACTIVE.remove(servers)
