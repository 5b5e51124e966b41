"""The wrk runner's parsing, the S1 climb and the report of the wrk figures (no process is started)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from bench import wrk
from bench.report import write_report
from bench.s1 import HIGHEST_RATE, climbing, meets_target
from bench.wrk import SCRIPT, parse_output, per_request
from shop_runtime.card_data import card_numbers_in

SUMMARY = (
    'WRK_JSON {"requests":200,"duration_us":2000000,"bytes":1000,'
    '"errors":{"connect":0,"read":0,"write":0,"status":3,"timeout":0},'
    '"latency_us":{"p50":1500,"p90":2500,"p99":9000,"max":12000,"mean":1700.5},"statuses":{"409":197,"503":3}}'
)


def test_the_summary_line_is_found_among_wrks_own_output() -> None:
    parsed = parse_output(f"Running 2s test @ http://127.0.0.1:1\n  1 threads and 8 connections\n{SUMMARY}\n")
    assert parsed["requests"] == 200
    assert parsed["statuses"] == {"409": 197, "503": 3}
    assert parsed["latency_us"]["p99"] == 9000


def test_no_summary_is_an_error_naming_what_wrk_printed() -> None:
    with pytest.raises(ValueError, match="unable to connect"):
        parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_cpu_per_request_is_in_milliseconds_and_none_without_requests() -> None:
    assert per_request({"gateway": 0.5}, 250) == {"gateway": 2.0}
    assert per_request({"gateway": 0.5}, 0) == {"gateway": None}


def test_the_script_gives_each_request_its_own_idempotency_key() -> None:
    script = SCRIPT.read_text()
    assert '["Idempotency-Key"] = key' in script
    assert "sent = sent + 1" in script


def test_the_climb_goes_past_the_plan_until_the_guard() -> None:
    rates = list(climbing([4, 8]))
    assert rates[:3] == [4, 8, 12.0]
    assert all(later > earlier for earlier, later in itertools.pairwise(rates))
    assert rates[-1] <= HIGHEST_RATE


def _point(p99: float | None, *, complete: bool = True) -> dict[str, Any]:
    return {"complete": complete, "checkout_to_confirmed_s": {"p99": p99}}


def test_the_target_breaks_on_a_slow_p99_an_incomplete_run_or_no_confirmations() -> None:
    assert meets_target(_point(0.4))
    assert not meets_target(_point(1.2))
    assert not meets_target(_point(0.4, complete=False))
    assert not meets_target(_point(None))


def _run(cpu: dict[str, float]) -> dict[str, Any]:
    return {
        "requests_per_s": 100.0,
        "latency_s": {"p50": 0.01, "p99": 0.05},
        "statuses": {409: 400},
        "cpu_ms_per_request": cpu,
        "wrk_cpu_share_of_one_core": 0.05,
        "load_average_before": (1.0, 1.0, 1.0),
    }


def test_the_report_puts_each_checkout_beside_the_floor_of_the_same_run(tmp_path: Path) -> None:
    results = {
        "http_checkout": {
            "sold_out": _run({"gateway": 1.2, "orders-http": 2.0}),
            "placed": _run({"gateway": 2.5, "orders-http": 2.9}),
        },
        "direct_floor": {
            "orders_per_s": 900.0,
            "cpu_ms_per_order": 0.9,
            "postgres_cpu_ms_per_order": 0.4,
            "drop": {**_run({"direct checkout": 0.7}), "units": 100},
            "sold_out": _run({"direct checkout": 0.7}),
            "placed": _run({"direct checkout": 0.9}),
        },
    }
    text = write_report(results, tmp_path)
    assert "900.0 orders/s at 0.90 ms CPU per order" in text
    assert (
        "sold out: gateway 1.20 ms, orders HTTP 2.00 ms per request (target ≤ 1.5 ms each: **missed**)"
        in text
    )
    assert "placed: gateway 2.50 ms, orders HTTP 2.90 ms per request (target ≤ 3.0 ms each: **met**)" in text
    assert (tmp_path / "summary.md").exists()


def test_a_run_token_never_makes_a_buyers_email_look_like_a_card_number() -> None:
    # checkout.lua's email is wrk-<run>-<thread>-<request>@example.com; the gateway refuses a body with a digit
    # run that passes the Luhn check as card data (422), which a token of digits did to about one buyer in ten
    for _ in range(200):
        token = wrk.run_token()
        assert token.isalpha()
        assert len(token) == 12
        emails = [
            f"wrk-{token}-{thread}-{sent}@example.com" for thread in (1, 2) for sent in range(1, 3000, 7)
        ]
        assert not any(card_numbers_in(email) for email in emails)
    assert card_numbers_in("wrk-864120937512-1-1000@example.com")  # what a token of digits could give
