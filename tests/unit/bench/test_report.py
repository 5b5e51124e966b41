"""The drop day's table in a bench's summary: each target's row, judged from what the run measured."""

from typing import Any

from bench.infra import ports_among_ephemeral
from bench.report import drop_cpu_lines, drop_day_rows, shop_cpu_ms_per_order


def _summary(values: list[float]) -> dict[str, float | None]:
    return {"p50": values[len(values) // 2], "p99": values[-1]} if values else {"p50": None, "p99": None}


def _drop(
    *, units: int, buyers: int, rejected: int, errors: dict[str, int], missed_p99: float
) -> dict[str, Any]:
    return {
        "units": units,
        "buyers": buyers,
        "window_s": 10,
        "accepted_confirmed": units,
        "oversold": 0,
        "unanswered": sum(errors.values()),
        "http_errors": errors,
        "rejected": rejected,
        "sold_out_at_checkout": buyers - units - rejected,
        "buyers_turned_away_at_least_once": 7,
        "last_unit_held_after_arrival_s": 0.4,
        "first_sold_out_after_arrival_s": 0.6,
        "missed_out_final_answer_s": _summary([0.1, missed_p99]),
        "timeline_s": {"confirmed": [1.0 + i / units for i in range(units)]},
        "generator": {
            "name": "wrk",
            "connections": 500,
            "wrk_cpu_share_of_one_core": 0.02,
            "wrk_cpu_ms_per_buyer": 0.3,
        },
    }


def _point(rate: float, per_order: dict[str, float | None]) -> dict[str, Any]:
    return {
        "offered_per_s": rate,
        "achieved_confirmed_per_s": rate,
        "cpu_seconds_per_order": per_order,
        "checkout_http_s": _summary([0.02, 0.04]),
    }


def _status(rows: list[str], figure: str) -> str:
    matching = [row for row in rows if row.startswith(f"| {figure}")]
    assert len(matching) == 1, (figure, rows)
    return matching[0].rstrip(" |").rsplit("| ", 1)[1]


def _results() -> dict[str, Any]:
    return {
        "baseline": {"bare_pipeline": {"orders_per_s": 180.0}},
        "s2": _drop(units=1000, buyers=10_000, rejected=0, errors={}, missed_p99=0.9),
        "s2_quick": _drop(units=100, buyers=1000, rejected=10, errors={"503": 1}, missed_p99=0.5),
        "s1": {
            "best": _point(
                48.0,
                {
                    "orders-worker": 0.010,
                    "postgres (all backends, shared)": 0.012,
                    "rabbitmq (shared)": 0.008,
                    "bench (load generator)": 0.003,
                    "other processes on the machine (not this bench)": 0.050,
                },
            ),
            "half_own": _point(24.0, {}),
        },
        "http_checkout": {
            "sold_out": {"connections": 16, "cpu_ms_per_request": {"gateway": 0.9, "orders-http": 0.8}},
            "placed": {
                "connections": 16,
                "cpu_ms_per_request": {"gateway": 1.5, "orders-http": 3.2, "catalog-http": 2.0},
            },
        },
        "direct_floor": {
            "sold_out": {"cpu_ms_per_request": {"direct checkout": 0.4}},
            "placed": {"cpu_ms_per_request": {"direct checkout": 0.6}},
        },
    }


def test_every_drop_day_target_is_judged_from_the_run() -> None:
    rows = drop_day_rows(_results())

    assert _status(rows, "S2 full (10,000 buyers in 10 s for 1,000 units): accepted") == "**met**"
    assert _status(rows, "S2 full: missed-out p99") == "**met**"
    assert _status(rows, "S2 full: every unit's order confirmed") == "**met**"
    # the quick drop: a final 503 is a 5xx, its missed-out answers have 300 ms, and 10 of 900 is over 1 %
    assert _status(rows, "S2 quick (1,000 buyers in 10 s for 100 units): accepted") == "**missed**"
    assert _status(rows, "S2 quick: missed-out p99") == "**missed**"
    assert _status(rows, "S2 quick: placed with 202 and rejected later") == "**missed**"
    assert _status(rows, "S2 quick: last unit held") == "**met**"
    # 30 ms of the shop's processes per order: the generator and the rest of the machine are not the shop's
    assert _status(rows, "CPU per placed order") == "**met**"
    assert "| 30.0 ms |" in next(row for row in rows if row.startswith("| CPU per placed order"))
    assert _status(rows, "S1 highest sustained") == "**met**"  # 48 of 180 is 0.27x
    assert _status(rows, "checkout HTTP p99 at half the sustained rate") == "**met**"
    assert _status(rows, "sold-out checkout, CPU per request") == "**met**"
    assert _status(rows, "placed checkout, CPU per request") == "**missed**"  # orders' 3.2 ms
    assert _status(rows, "S2 full: the generator's own CPU") == "-"


def test_the_sustained_rate_is_read_against_the_same_runs_bare_hops() -> None:
    results = _results()
    results["baseline"]["bare_pipeline"]["orders_per_s"] = 193.0
    assert _status(drop_day_rows(results), "S1 highest sustained") == "**missed**"  # 48 / 193 = 0.249


def test_cpu_per_order_is_unknown_when_a_process_was_not_measured() -> None:
    assert shop_cpu_ms_per_order(_point(8, {"orders-worker": None, "gateway": 0.002})) is None
    assert shop_cpu_ms_per_order(_point(8, {"bench (load generator)": 0.003, "gateway": 0.002})) == 2.0


def test_bench_ports_inside_the_ephemeral_range_are_named() -> None:
    assert ports_among_ephemeral(28000, (32768, 60999)) is None
    assert ports_among_ephemeral(61000, (32768, 60999)) is None
    warning = ports_among_ephemeral(51000, (32768, 60999))
    assert warning is not None
    assert "51000" in warning
    assert "32768-60999" in warning
    assert (
        ports_among_ephemeral(31000, (32768, 60999)) is not None
    )  # its workers' metrics at +1000 are inside


def test_a_drops_cpu_is_shown_by_process_and_per_buyer() -> None:
    results = _results()
    results["s2"]["cpu"] = {
        "wall_seconds": 20.0,
        "machine_busy_seconds": 36.0,
        "machine_capacity_seconds": 40.0,
        "cpu_seconds": {"gateway": 8.0, "orders-http": 12.5, "catalog-worker": 0.001},
    }
    lines = drop_cpu_lines(results)
    assert "the machine busy 36.0 s of 40.0 s" in lines[1]
    assert lines[5:] == [
        "| orders-http | 12.50 | 1.25 |",
        "| gateway | 8.00 | 0.80 |",
    ]  # largest first; none idle
