"""drop.lua's answer lines read back as S2's buyers (no process is started)."""

from __future__ import annotations

from bench.wrk_drop import SCRIPT, as_placed, parse_answers

LINES = (
    "0\t1000000\t1000100\t1250000\t202\t-\tord-a\t0\t0\n"
    "2\t1200000\t1200000\t1900000\t409\tsold_out\t-\t0\t0\n"
    "1\t1100000\t1100050\t4300000\t409\tsold_out\t-\t2\t1\n"
    "3\t13000"  # torn: wrk was stopped while it wrote
)


def test_each_line_is_a_buyer_and_a_torn_last_line_is_skipped() -> None:
    answers = parse_answers(LINES)
    assert [answer.index for answer in answers] == [0, 2, 1]
    assert answers[0].order_id == "ord-a"
    assert answers[0].code is None
    assert answers[1].code == "sold_out"
    assert answers[1].order_id is None
    assert answers[2].turned_away == 2
    assert answers[2].not_busy == 1


def test_buyers_keep_their_arrival_and_a_buyer_without_a_line_had_no_answer() -> None:
    load = as_placed(
        parse_answers(LINES), buyers=4, start_us=1_000_000, interval_us=100_000, to_monotonic=50.0
    )
    assert [round(placed.scheduled, 3) for placed in load.placed] == [51.0, 51.1, 51.2, 51.3]
    held, late_refusal, refused, missing = load.placed
    assert held.status == 202
    assert held.order_id == "ord-a"
    assert round(held.answered - held.scheduled, 3) == 0.25
    # a buyer told 503 twice counts from their first arrival, as the Python client counts them
    assert late_refusal.turned_away == 2
    assert late_refusal.not_busy == 1
    assert round(late_refusal.answered - late_refusal.scheduled, 3) == 3.2
    assert refused.error is not None
    assert '"sold_out"' in refused.error
    assert missing.status == 0
    assert missing.error is not None
    assert "no answer" in missing.error
    assert round(load.started, 3) == 51.0
    assert round(load.last_arrival_late_by, 4) == 0.0001  # the latest first send after its arrival


def test_every_checkout_has_its_own_key_and_carries_it_back_in_the_request_id() -> None:
    script = SCRIPT.read_text()
    assert '["Idempotency-Key"] = key' in script
    assert '["X-Request-Id"] = "drop-" .. key' in script
