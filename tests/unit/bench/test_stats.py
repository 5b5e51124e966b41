from bench.stats import (
    RatePoint,
    collapsed_stack_totals,
    highest_good_rate,
    open_loop_schedule,
    parse_proc_stat_cpu_ticks,
    parse_vmrss_kib,
    percentile,
    summarize,
)


def test_percentile_interpolates_and_handles_edges() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 99) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(101)), 99) == 99.0


def test_summarize_counts() -> None:
    summary = summarize([1.0, 2.0, 3.0])
    assert summary["count"] == 3
    assert summary["p50"] == 2.0
    assert summary["max"] == 3.0


def test_open_loop_schedule_is_evenly_spaced() -> None:
    schedule = open_loop_schedule(10, 2)
    assert len(schedule) == 20
    assert schedule[1] - schedule[0] == 0.1
    assert open_loop_schedule(0, 5) == []


def test_proc_stat_with_spaces_in_the_command() -> None:
    fields = ["S"] + ["0"] * 10 + ["123", "45"] + ["0"] * 30
    text = "4242 (python -m (x)) " + " ".join(fields)
    assert parse_proc_stat_cpu_ticks(text) == 168


def test_vmrss() -> None:
    assert parse_vmrss_kib("Name:\tpython\nVmRSS:\t  81234 kB\n") == 81234
    assert parse_vmrss_kib("Name:\tkthread\n") is None


def test_highest_good_rate_ignores_incomplete_and_slow_points() -> None:
    points = [
        RatePoint(10, 10, 0.2, True),
        RatePoint(20, 19.5, 0.8, True),
        RatePoint(40, 30, 0.5, False),
        RatePoint(30, 29, 1.5, True),
    ]
    best = highest_good_rate(points, 1.0)
    assert best is not None
    assert best.offered == 20
    assert highest_good_rate([], 1.0) is None


def test_collapsed_stacks() -> None:
    own, inclusive = collapsed_stack_totals(["a;b;c 5", "a;b 3", "a;d 2", "junk"])
    assert own[0] == ("c", 5)
    assert dict(inclusive)["a"] == 10
    assert dict(inclusive)["b"] == 8
