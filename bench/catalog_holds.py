"""``python -m bench.catalog_holds``: catalog's stock hold at checkout alone, for CPU per hold and SQL per hold.

Two measures, both of catalog's ``POST /stock-holds`` (what orders calls before it stores an order):

- ``load`` (default): catalog's HTTP process alone on its own database, driven by wrk (bench/stock_hold.lua, a new
  order id per request) from outside Python, so the load generator's CPU is not catalog's: a placed hold (201, a
  SKU with plenty in stock) and a sold-out one (409 ``stock_short``), CPU ms per request of that one process from
  /proc. ``--code NAME=DIR`` (repeatable) runs the process with ``DIR`` ahead on ``PYTHONPATH`` (a copy of
  ``shop_catalog`` from another revision); each round restarts the process once per code, alternating, so figures
  of the code before and after a change are taken side by side on a shared machine. ``tree`` is the working tree.
- ``count``: the hold's use case in this process, as the route runs it (one unit of work, committed; a refused
  hold rolled back), counting the statements SQLAlchemy executes and the round trips to PostgreSQL (each write to
  the connection's socket: BEGIN, the statements, COMMIT or ROLLBACK) per hold. Exact, whatever the machine's load.

``load`` uses ``SHOP_BENCH_RUN``'s database ``bench_<run>_holds_catalog`` and listens on ``SHOP_BENCH_PORT_BASE``
+ 95 (``--profile DIR`` records each code's first round with py-spy); ``count`` uses a test database
(``SHOP_TEST_RUN``'s catalog database with the suffix ``_hold_count``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

import httpx
from sqlalchemy import event

from bench import infra, wrk
from bench.wrk import parse_output, per_request
from scripts.ensure_wrk import ensure_wrk

SCRIPT = Path(__file__).with_name("stock_hold.lua")
DATABASE = "holds_catalog"
PLENTY = 1_000_000
PLACED = 201
REFUSED = 409


def _environment(port: int, code: str | None) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SHOP_")}
    environment |= {
        "PYTHONUNBUFFERED": "1",
        "SHOP_CATALOG_DATABASE_URL": infra.database_url(DATABASE).replace(
            "postgresql://", "postgresql+asyncpg://"
        ),
        "SHOP_CATALOG_AMQP_URL": infra.AMQP_URL,
        "SHOP_CATALOG_HTTP_PORT": str(port),
        "SHOP_CATALOG_SPAN_FILE": "",
    }
    if code is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [code, environment.get("PYTHONPATH")]))
    return environment


def _start(port: int, code: str | None, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "shop_catalog", "http"],
            env=_environment(port, code),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"catalog's HTTP process exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise TimeoutError(f"catalog's HTTP process did not answer in 60 s; see {log}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _seed(base_url: str) -> tuple[str, str]:
    """A SKU with plenty in stock and one sold out (its only unit held); their SKUs."""
    suffix = uuid.uuid4().hex[:8].upper()
    plenty, gone = f"HOLD-PLENTY-{suffix}", f"HOLD-GONE-{suffix}"
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as catalog:
        for sku, units in ((plenty, PLENTY), (gone, 1)):
            created = await catalog.post(
                "/products",
                json={
                    "title": "Bench tee",
                    "variants": [{"sku": sku, "prices": [{"currency": "KRW", "amount": 39000}]}],
                },
            )
            created.raise_for_status()
            adjusted = await catalog.post(
                "/inventory/adjustments",
                json={"sku": sku, "location": "seoul-1", "delta": units, "reason": "received"},
            )
            adjusted.raise_for_status()
        held = await catalog.post(
            "/stock-holds", json={"order_id": f"seed-{suffix}", "lines": [{"sku": gone, "quantity": 1}]}
        )
        if held.status_code != PLACED:
            raise RuntimeError(f"holding the last unit of {gone} answered {held.status_code}: {held.text}")
    return plenty, gone


def _wrk(url: str, *, sku: str, seconds: int, connections: int, pid: int) -> dict[str, Any]:
    environment = {**os.environ, "BENCH_WRK_SKU": sku, "BENCH_WRK_RUN": wrk.run_token()}
    command = [
        str(ensure_wrk()), "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "30s",
        "-s", str(SCRIPT), url,
    ]  # fmt: skip
    load_before = os.getloadavg()
    before = infra.cpu_seconds(pid) or 0.0
    output = subprocess.run(command, capture_output=True, text=True, env=environment, check=True).stdout
    used = (infra.cpu_seconds(pid) or 0.0) - before
    summary = parse_output(output)
    requests = int(summary["requests"])
    return {
        "requests": requests,
        "requests_per_s": requests / (summary["duration_us"] / 1e6),
        "statuses": summary["statuses"],
        "cpu_ms_per_request": per_request({"catalog-http": used}, requests)["catalog-http"],
        "load_average_before": load_before[0],
    }


def _migrate() -> None:
    migrated = subprocess.run(
        [sys.executable, "-m", "shop_catalog", "migrate"],
        env=_environment(0, None),
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        raise RuntimeError(f"migrating catalog failed:\n{migrated.stderr[-3000:]}")


async def _recreate_and_migrate() -> None:
    await infra.recreate_database(DATABASE)
    await asyncio.to_thread(_migrate)


def _py_spy(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes]:
    """py-spy recording ``pid`` for ``seconds`` into ``out`` (collapsed stacks, one per line with its count)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--rate", "197", "--duration", str(seconds)]
    return subprocess.Popen(
        [*command, "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def load(
    codes: dict[str, str | None], *, rounds: int, seconds: int, connections: int, profile: Path | None
) -> None:
    port = int(os.environ.get("SHOP_BENCH_PORT_BASE", "28000")) + 95
    url = f"http://127.0.0.1:{port}"
    log = infra.VAR / "catalog_holds.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    await _recreate_and_migrate()
    process = await asyncio.to_thread(_start, port, None, log)
    try:
        plenty, gone = await _seed(url)
    finally:
        await asyncio.to_thread(_stop, process)
    figures: dict[tuple[str, str], list[float]] = {}
    print(f"catalog's HTTP process, wrk with {connections} connections, {seconds} s per run", flush=True)
    for number in range(1, rounds + 1):
        for name, code in codes.items():
            process = await asyncio.to_thread(_start, port, code, log)
            try:
                # Warm up: the first requests compile statements and fill caches.
                await asyncio.to_thread(
                    _wrk, url, sku=plenty, seconds=1, connections=connections, pid=process.pid
                )
                for kind, sku, status in (("placed", plenty, PLACED), ("sold out", gone, REFUSED)):
                    spy = None
                    if profile is not None and number == 1:
                        spy = _py_spy(process.pid, seconds, profile / f"{name}-{kind.replace(' ', '-')}.txt")
                    run = await asyncio.to_thread(
                        _wrk, url, sku=sku, seconds=seconds, connections=connections, pid=process.pid
                    )
                    if spy is not None:
                        await asyncio.to_thread(spy.wait)
                    answered = {int(key): value for key, value in run["statuses"].items()}
                    if set(answered) != {status}:
                        raise RuntimeError(f"{kind} holds answered {answered}, not only {status}")
                    figures.setdefault((name, kind), []).append(run["cpu_ms_per_request"])
                    print(
                        f"  round {number} {name:>8} {kind:>8}: {run['requests']} holds, "
                        f"{run['requests_per_s']:.0f}/s, catalog-http {run['cpu_ms_per_request']:.2f} CPU ms "
                        f"per hold (load {run['load_average_before']:.2f})",
                        flush=True,
                    )
            finally:
                await asyncio.to_thread(_stop, process)
    print("median CPU ms per hold of catalog's HTTP process:")
    for (name, kind), values in figures.items():
        shown = ", ".join(f"{value:.2f}" for value in values)
        print(f"  {name:>8} {kind:>8}: {median(values):.2f} ({shown})")


async def count(holds: int) -> None:
    from shop_catalog.bootstrap import DEFINITION
    from shop_catalog.domain.stock import RequestedLine
    from shop_catalog.handlers import holds as hold_handlers
    from shop_catalog.handlers import products, stock
    from shop_catalog.handlers.answers import public_openings
    from shop_catalog.settings import CatalogSettings
    from shop_runtime.clock import SystemClock
    from shop_runtime.http import committed
    from tests.support import infra as test_infra

    settings = test_infra.service_settings(DEFINITION, suffix="_hold_count")
    assert isinstance(settings, CatalogSettings)
    await test_infra.fresh_database(DEFINITION, settings)
    database = DEFINITION.database(settings)
    counting = False
    statements: Counter[str] = Counter()
    texts: Counter[tuple[str, str]] = Counter()
    round_trips: Counter[str] = Counter()
    kind = ""

    def count_statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if counting:
            statements[kind] += 1
            texts[(kind, " ".join(statement.split())[:140])] += 1

    def count_round_trips(dbapi_connection: Any, _record: Any) -> None:
        transport = dbapi_connection.driver_connection._transport
        write = transport.write

        def counted_write(data: Any) -> None:
            if counting:
                round_trips[kind] += 1
            write(data)

        transport.write = counted_write

    event.listen(database.engine.sync_engine, "before_cursor_execute", count_statement)
    event.listen(database.engine.sync_engine, "connect", count_round_trips)
    clock = SystemClock()
    suffix = uuid.uuid4().hex[:8].upper()
    plenty, gone = f"COUNT-PLENTY-{suffix}", f"COUNT-GONE-{suffix}"
    try:
        for sku in (plenty, gone):
            async with database.unit_of_work() as uow:
                new = products.NewVariant(sku=sku, options={}, prices={"KRW": 39000})
                await committed(
                    uow, products.create_product(uow, title="t", description="", new_variants=[new])
                )
        async with database.unit_of_work() as uow:
            await committed(
                uow,
                stock.adjust_inventory(uow, sku=plenty, location="seoul-1", delta=PLENTY, reason="received"),
            )

        async def hold(order_id: str, sku: str) -> str:
            async with database.unit_of_work() as uow:
                try:
                    await committed(
                        uow,
                        hold_handlers.hold_stock(
                            uow,
                            order_id=order_id,
                            lines=[RequestedLine(sku=sku, quantity=1)],
                            clock=clock,
                            hold_for=timedelta(minutes=settings.stock_hold_minutes),
                            customer_email=f"{order_id}@example.com",
                        ),
                    )
                except hold_handlers.StockHoldRefused as refused:
                    await public_openings(uow.session, refused.rejected.shortages)
                    return "sold out"
            return "placed"

        await hold(f"warm-{suffix}-1", plenty)
        await hold(f"warm-{suffix}-2", gone)
        counting = True
        for index in range(holds):
            for kind, sku in (("placed", plenty), ("sold out", gone)):
                answered = await hold(f"count-{suffix}-{kind[0]}-{index}", sku)
                if answered != kind:
                    raise RuntimeError(f"a hold of {sku} was {answered}, not {kind}")
        counting = False
    finally:
        await database.dispose()
    for kind in ("placed", "sold out"):
        print(
            f"{kind}: {statements[kind] / holds:.1f} statements, {round_trips[kind] / holds:.1f} round trips per hold"
        )
        for (of, text), times in sorted(texts.items()):
            if of == kind:
                print(f"  {times / holds:.1f}x {text}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog_holds",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("measure", nargs="?", choices=["load", "count"], default="load")
    parser.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="load: run catalog with DIR ahead on PYTHONPATH, named NAME (repeat; 'tree' is the working tree)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="load: rounds (each restarts catalog per code)")
    parser.add_argument("--seconds", type=int, default=8, help="load: seconds of each wrk run")
    parser.add_argument("--connections", type=int, default=8, help="load: wrk's connections")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="load: py-spy (197 Hz) each code's first round into DIR"
    )
    parser.add_argument("--holds", type=int, default=5, help="count: holds counted of each kind")
    arguments = parser.parse_args()
    if arguments.measure == "count":
        asyncio.run(count(arguments.holds))
        return
    codes: dict[str, str | None] = {}
    for given in arguments.code or ["tree="]:
        name, _, directory = given.partition("=")
        codes[name] = str(Path(directory).resolve()) if directory else None
    print(f"load average {os.getloadavg()}", flush=True)
    asyncio.run(
        load(
            codes,
            rounds=arguments.rounds,
            seconds=arguments.seconds,
            connections=arguments.connections,
            profile=arguments.profile,
        )
    )
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
