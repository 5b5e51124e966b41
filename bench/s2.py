"""S2 flash drop: a limited stock and many buyers at once, through the gateway; and reservation strategies
compared at the database level with the same concurrency."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx

from bench.infra import EventProbe, recreate_database
from bench.shop import LoadResult, Placed, open_loop
from bench.stats import summarize


def python_client(
    gateway: httpx.AsyncClient, *, sku: str, buyers: int, window: float
) -> Callable[[], Awaitable[tuple[LoadResult, dict[str, Any]]]]:
    """The bench's own client as the drop's buyers (httpx, in this process)."""

    async def drive() -> tuple[LoadResult, dict[str, Any]]:
        load = await open_loop(gateway, rate=buyers / window, duration=window, skus=[sku])
        return load, {"name": "the bench's Python client"}

    return drive


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def sold_out_moments(placed: list[Placed], units: int) -> tuple[float | None, float | None]:
    """When the last of ``units`` was held (the units-th 202 answered) and when the first buyer was told 409
    ``sold_out``, each in seconds after the units-th buyer arrived (the earliest either could be); None when it
    did not happen.

    Checkout decides a drop: the hold behind a 202 is the unit, so these are when the drop sold out. The saga's
    reservation of the last unit comes later, by as long as its queue is.
    """
    arrivals = sorted(p.scheduled for p in placed)
    if len(arrivals) < units:
        return None, None
    needed = arrivals[units - 1]
    held = sorted(p.answered for p in placed if p.order_id)
    told = [p.answered for p in placed if p.status == 409 and p.error and '"sold_out"' in p.error]
    return (
        held[units - 1] - needed if len(held) >= units else None,
        min(told) - needed if told else None,
    )


async def flash_drop(
    probe: EventProbe,
    *,
    drive: Callable[[], Awaitable[tuple[LoadResult, dict[str, Any]]]],
    units: int,
    buyers: int,
    window: float,
    answer_timeout: float,
    stock_reserved: Callable[[], Awaitable[tuple[int, int]]],
) -> dict[str, Any]:
    """``buyers`` checkouts of one unit each, evenly over ``window`` seconds, for ``units`` in stock, sent by
    ``drive`` (the buyers' answers, and what the generator says of itself)."""
    print(f"  S2 flash drop: {buyers} buyers in {window:.0f}s for {units} units", flush=True)
    load, generator = await drive()
    accepted_http = [p for p in load.placed if p.order_id]
    all_answered = await probe.wait_answered(
        [p.order_id for p in accepted_http if p.order_id], answer_timeout
    )
    confirmed: list[float] = []
    rejected: list[float] = []
    unanswered = 0
    final_times: list[float] = []
    rejected_at: list[float] = []
    for placed in accepted_http:
        assert placed.order_id is not None
        answer = probe.answered(placed.order_id)
        if answer is None:
            unanswered += 1
            continue
        final_times.append(answer[1])
        if answer[0] == "confirmed":
            confirmed.append(answer[1])
        else:
            rejected.append(answer[1] - placed.scheduled)
            rejected_at.append(answer[1])
    # A buyer orders already knew had missed out hears it in the checkout's answer (409 sold_out).
    sold_out_at_once = [p for p in load.placed if p.status == 409 and p.error and '"sold_out"' in p.error]
    drop_orders = {p.order_id for p in accepted_http}
    reserved_times = sorted(
        events["catalog.stock.reserved.v1"]
        for order_id, events in probe.seen.items()
        if "catalog.stock.reserved.v1" in events and order_id in drop_orders
    )
    # The saga's reservation of the last unit: late by the saga's queue, so not when buyers were told.
    sold_out_at = reserved_times[units - 1] - load.started if len(reserved_times) >= units else None
    last_unit_held, first_told_sold_out = sold_out_moments(load.placed, units)
    on_hand, reserved = await stock_reserved()
    http_errors: dict[str, int] = {}
    for placed in load.placed:
        if placed.status != 202 and placed not in sold_out_at_once:
            key = str(placed.status or placed.error)
            http_errors[key] = http_errors.get(key, 0) + 1
    result: dict[str, Any] = {
        "units": units,
        "buyers": buyers,
        "window_s": window,
        "generator_late_by_s": load.last_arrival_late_by,
        "generator": generator,
        "http_202": len(accepted_http),
        "http_errors": http_errors,
        "accepted_confirmed": len(confirmed),
        "rejected": len(rejected),
        "sold_out_at_checkout": len(sold_out_at_once),
        "buyers_turned_away_at_least_once": sum(1 for p in load.placed if p.turned_away),
        "turned_away_answers": sum(p.turned_away for p in load.placed),
        "buyers_came_back_after_a_service_503": sum(1 for p in load.placed if p.not_busy),
        "sold_out_at_checkout_answer_s": summarize([p.answered - p.scheduled for p in sold_out_at_once]),
        "unanswered": unanswered + sum(http_errors.values()),
        "every_buyer_answered": all_answered and not http_errors,
        "catalog_on_hand": on_hand,
        "catalog_reserved": reserved,
        "oversold": max(len(confirmed) - units, 0) + max(reserved - on_hand, 0),
        "sold_out_after_s": sold_out_at,
        "last_unit_held_after_arrival_s": last_unit_held,
        "first_sold_out_after_arrival_s": first_told_sold_out,
        "http_answer_s": summarize([p.answered - p.scheduled for p in load.placed if p.status == 202]),
        "missed_out_final_answer_s": summarize(
            rejected + [p.answered - p.scheduled for p in sold_out_at_once]
        ),
        "missed_out_rejected_after_202_s": summarize(rejected),
        "timeline_s": {
            "arrivals": [round(p.scheduled - load.started, 3) for p in load.placed],
            "reserved": [round(t - load.started, 3) for t in reserved_times],
            "confirmed": sorted(round(t - load.started, 3) for t in confirmed),
            "rejected": sorted(round(t - load.started, 3) for t in rejected_at),
            "sold_out_at_checkout": sorted(round(p.answered - load.started, 3) for p in sold_out_at_once),
        },
        "last_final_answer_after_s": (max(final_times) - load.started) if final_times else None,
    }
    print(
        f"  S2: confirmed {len(confirmed)} (of {units}), rejected {len(rejected)}, "
        f"sold out at checkout {len(sold_out_at_once)}, unanswered {result['unanswered']}, "
        f"turned away (503, came back) {result['buyers_turned_away_at_least_once']} buyers "
        f"({result['buyers_came_back_after_a_service_503']} after a 503 that was not busy), "
        f"oversold {result['oversold']}, last unit held {_seconds(result['last_unit_held_after_arrival_s'])} and first "
        f"409 sold_out {_seconds(result['first_sold_out_after_arrival_s'])} after the {units}th arrival, saga reserved "
        f"the last unit after {_seconds(sold_out_at)}, "
        f"missed-out p99 answer {result['missed_out_final_answer_s']['p99']}",
        flush=True,
    )
    if "wrk_cpu_share_of_one_core" in generator:
        print(
            f"  S2 buyers sent by wrk over {generator['connections']} connections: "
            f"{100 * (generator['wrk_cpu_share_of_one_core'] or 0):.0f}% of a core, "
            f"{generator['wrk_cpu_ms_per_buyer'] or 0:.2f} ms a buyer; a buyer sent at most "
            f"{load.last_arrival_late_by:.2f}s after their arrival",
            flush=True,
        )
    return result


# --- reservation strategies at the database level -------------------------------------------------------

STRATEGY_SCHEMA = """
CREATE TABLE stock (sku text PRIMARY KEY, on_hand int NOT NULL, reserved int NOT NULL DEFAULT 0,
                    CHECK (reserved >= 0 AND reserved <= on_hand));
CREATE TABLE stock_shards (sku text NOT NULL, shard int NOT NULL, available int NOT NULL CHECK (available >= 0),
                           PRIMARY KEY (sku, shard));
CREATE TABLE units (id bigserial PRIMARY KEY, sku text NOT NULL, order_id uuid);
CREATE INDEX units_free ON units (sku, id) WHERE order_id IS NULL;
CREATE TABLE reservations (order_id uuid PRIMARY KEY, sku text NOT NULL, quantity int NOT NULL,
                           created_at timestamptz NOT NULL DEFAULT now());
"""
SKU = "DROP-1"
SHARDS = 8

Attempt = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[bool]]


async def _row_lock(connection: asyncpg.Connection, order_id: uuid.UUID) -> bool:
    """What catalog did before: lock the stock row, check in Python, write it back."""
    async with connection.transaction():
        row = await connection.fetchrow("SELECT on_hand, reserved FROM stock WHERE sku = $1 FOR UPDATE", SKU)
        if row["on_hand"] - row["reserved"] < 1:
            return False
        await connection.execute("UPDATE stock SET reserved = $2 WHERE sku = $1", SKU, row["reserved"] + 1)
        await connection.execute(
            "INSERT INTO reservations (order_id, sku, quantity) VALUES ($1, $2, 1)", order_id, SKU
        )
        return True


async def _conditional_update(connection: asyncpg.Connection, order_id: uuid.UUID) -> bool:
    """One statement decides: UPDATE ... WHERE on_hand - reserved >= n RETURNING (what catalog does now)."""
    async with connection.transaction():
        taken = await connection.fetchval(
            "UPDATE stock SET reserved = reserved + 1 WHERE sku = $1 AND on_hand - reserved >= 1 RETURNING reserved",
            SKU,
        )
        if taken is None:
            return False
        await connection.execute(
            "INSERT INTO reservations (order_id, sku, quantity) VALUES ($1, $2, 1)", order_id, SKU
        )
        return True


async def _skip_locked_units(connection: asyncpg.Connection, order_id: uuid.UUID) -> bool:
    """One row per unit; take a free one nobody else holds (FOR UPDATE SKIP LOCKED)."""
    async with connection.transaction():
        unit = await connection.fetchval(
            "UPDATE units SET order_id = $2 WHERE id = (SELECT id FROM units WHERE sku = $1 AND order_id IS NULL "
            "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id",
            SKU,
            order_id,
        )
        if unit is None:
            return False
        await connection.execute(
            "INSERT INTO reservations (order_id, sku, quantity) VALUES ($1, $2, 1)", order_id, SKU
        )
        return True


async def _sharded_counters(connection: asyncpg.Connection, order_id: uuid.UUID) -> bool:
    """``SHARDS`` counters per SKU; start at a random shard, try the others on a miss (conditional update each)."""
    first = random.randrange(SHARDS)
    async with connection.transaction():
        for step in range(SHARDS):
            shard = (first + step) % SHARDS
            taken = await connection.fetchval(
                "UPDATE stock_shards SET available = available - 1 WHERE sku = $1 AND shard = $2 AND available >= 1 "
                "RETURNING available",
                SKU,
                shard,
            )
            if taken is not None:
                await connection.execute(
                    "INSERT INTO reservations (order_id, sku, quantity) VALUES ($1, $2, 1)", order_id, SKU
                )
                return True
        return False


STRATEGIES: dict[str, Attempt] = {
    "row_lock_select_for_update (catalog before)": _row_lock,
    "conditional_update_returning (catalog today)": _conditional_update,
    "unit_rows_skip_locked": _skip_locked_units,
    f"sharded_counters_{SHARDS}": _sharded_counters,
}


async def _prepare(url: str, units: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("TRUNCATE stock, stock_shards, units, reservations")
        await connection.execute("INSERT INTO stock (sku, on_hand) VALUES ($1, $2)", SKU, units)
        per_shard = [units // SHARDS + (1 if i < units % SHARDS else 0) for i in range(SHARDS)]
        await connection.executemany(
            "INSERT INTO stock_shards (sku, shard, available) VALUES ($1, $2, $3)",
            [(SKU, i, n) for i, n in enumerate(per_shard)],
        )
        await connection.execute("INSERT INTO units (sku) SELECT $1 FROM generate_series(1, $2)", SKU, units)
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def compare_strategies(*, units: int, buyers: int, concurrency: int) -> dict[str, Any]:
    """Every strategy: ``buyers`` attempts for ``units`` units by ``concurrency`` connections, all at once."""
    url = await recreate_database("reserve")
    setup = await asyncpg.connect(url)
    await setup.execute(STRATEGY_SCHEMA)
    await setup.close()
    results: dict[str, Any] = {"units": units, "buyers": buyers, "concurrency": concurrency, "strategies": {}}
    for name, attempt in STRATEGIES.items():
        await _prepare(url, units)
        successes, misses, errors, elapsed = await _run_strategy(url, attempt, buyers, concurrency)
        check = await asyncpg.connect(url)
        try:
            reservations = await check.fetchval("SELECT count(*) FROM reservations")
            reserved = await check.fetchval("SELECT reserved FROM stock")
            shards_left = await check.fetchval("SELECT sum(available) FROM stock_shards")
            units_taken = await check.fetchval("SELECT count(*) FROM units WHERE order_id IS NOT NULL")
        finally:
            await check.close()
        taken_by_store = {
            "row_lock": reserved,
            "conditional": reserved,
            "unit_rows": units_taken,
            "sharded": units - shards_left,
        }
        store = next(value for key, value in taken_by_store.items() if name.startswith(key))
        entry = {
            "accepted": len(successes),
            "rejected": len(misses),
            "errors": errors,
            "reservations_rows": reservations,
            "units_taken_in_store": store,
            "oversold": max(reservations - units, 0),
            "correct": reservations == units == store == len(successes) and not errors,
            "sold_out_after_s": max(successes) if len(successes) >= units else None,
            "all_answered_after_s": elapsed,
            "attempts_per_s": buyers / elapsed,
            "sell_phase_reservations_per_s": (units / max(successes)) if successes else None,
        }
        results["strategies"][name] = entry
        print(
            f"  reserve[{name}]: sold out {entry['sold_out_after_s']!s:.6}s, all {buyers} answered in {elapsed:.2f}s, "
            f"accepted {len(successes)}, oversold {entry['oversold']}, correct {entry['correct']}",
            flush=True,
        )
    correct = {name: e for name, e in results["strategies"].items() if e["correct"] and e["sold_out_after_s"]}
    results["fastest_correct"] = (
        min(correct, key=lambda n: correct[n]["sold_out_after_s"]) if correct else None
    )
    return results


async def _run_strategy(
    url: str, attempt: Attempt, buyers: int, concurrency: int
) -> tuple[list[float], list[float], dict[str, int], float]:
    """Run ``buyers`` attempts on ``concurrency`` connections; (success times, miss times, errors, elapsed)."""
    pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for _ in range(buyers):
        queue.put_nowait(uuid.uuid4())
    successes: list[float] = []
    misses: list[float] = []
    errors: dict[str, int] = {}
    started = time.monotonic()

    async def worker() -> None:
        async with pool.acquire() as connection:
            while True:
                try:
                    order_id = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    ok = await attempt(connection, order_id)
                except asyncpg.PostgresError as error:
                    errors[type(error).__name__] = errors.get(type(error).__name__, 0) + 1
                    continue
                (successes if ok else misses).append(time.monotonic() - started)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    await pool.close()
    return successes, misses, errors, elapsed
