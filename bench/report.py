"""summary.md (each figure beside its baseline and target) and the PNG plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.stats import fmt, ms, ratio

RSS_LIMIT_MIB = 150.0
BOILERPLATE = (
    "<module>",
    "_run_module_as_main",
    "_run_code",
    "run (asyncio",
    "run_service",
    "Runner.",
    "BaseEventLoop.",
    "Handle._run",
)


def _met(flag: bool | None) -> str:
    return "n/a" if flag is None else ("**met**" if flag else "**missed**")


def _paced(entry: dict[str, Any]) -> str:
    return "" if entry["paced_rate"] is None else f" at {entry['paced_rate']:.0f}/s"


def write_report(results: dict[str, Any], out: Path) -> str:
    lines = [f"# Benchmark {results.get('started_at', '')}", ""]
    lines.append(
        f"`{results.get('command', '')}`, {results.get('machine', {})}, wall {fmt(results.get('wall_seconds'), ' s', 0)}"
        + (f", settings {results['settings']}" if results.get("settings") else "")
    )
    lines.append("")
    lines.append(
        "Targets are the drop-day ones (2-core machine, quorum queues and synchronous commit kept). Nothing fails on timing."
    )
    lines += ["", "## Drop-day targets", ""]
    lines += drop_day_rows(results)
    lines += drop_cpu_lines(results)
    lines += ["", "## Other figures", ""]
    lines += ["| figure | measured | baseline (same run) | target | status |", "|---|---|---|---|---|"]
    baseline = results.get("baseline", {})
    bare = baseline.get("bare_pipeline", {}).get("orders_per_s")
    s1 = results.get("s1")
    if s1 is not None:
        best = s1.get("best")
        if best:
            lines.append(
                f"| S1 p50 / p99 checkout→confirmed at its sustained rate | {ms(best['checkout_to_confirmed_s']['p50'])} / "
                f"{ms(best['checkout_to_confirmed_s']['p99'])} | bare p50 {ms(baseline.get('bare_pipeline', {}).get('p50_s'))} | p99 ≤ 1 s | {_met(True)} |"
            )
            lines.append(
                f"| S1 p50 / p99 checkout HTTP at that rate | {ms(best['checkout_http_s']['p50'])} / "
                f"{ms(best['checkout_http_s']['p99'])} | - | - | - |"
            )
    s2 = results.get("s2")
    if s2 is not None:
        lines.append(f"| S2 answers 202 p99 from arrival | {ms(s2['http_answer_s']['p99'])} | - | - | - |")
    s3 = results.get("s3")
    if s3 is not None:
        lines.append(
            f"| S3 relay drain of {s3['rows']} rows (batch {s3['batch_size']}) | {fmt(s3['relay_per_s'], '/s', 0)} | raw confirmed "
            f"publish {fmt(s3['raw_per_s'], '/s', 0)} (ratio {fmt(s3['relay_vs_raw'], '', 2)}) | ≥ 0.8x raw | {_met(s3['relay_vs_raw'] >= 0.8)} |"
        )
    s4 = results.get("s4")
    raw = baseline.get("raw_publish_consume")
    if s4 is not None:
        for label, entry in s4.items():
            lines.append(
                f"| S4 fan-out {label}: 1 event → {entry['consumers']} queues ({entry['events']} events"
                f"{_paced(entry)}) | {fmt(entry['deliveries_per_s'], ' deliveries/s', 0)}, "
                f"p99 {ms(entry['latency_s']['p99'])} | raw consume {fmt(raw['consume_per_s'] if raw else None, '/s', 0)} | - | - |"
            )
    memory = results.get("memory")
    if memory:
        peaks = memory.get("s1_peak_rss_mib") or {}
        worst = max(peaks.values(), default=None)
        lines.append(
            f"| Memory: largest process RSS under S1 | {fmt(worst, ' MiB', 0)} | idle max {fmt(max((v for v in memory['idle_rss_mib'].values() if v), default=None), ' MiB', 0)} "
            f"| ≤ {RSS_LIMIT_MIB:.0f} MB each | {_met(None if worst is None else worst <= RSS_LIMIT_MIB)} |"
        )
    lines += _wrk_sections(results)
    if raw:
        rows = baseline.get("single_row_updates", {})
        lines += [
            "",
            "## Bare baselines",
            "",
            f"- bare hops (asyncpg + aio-pika, 5 hops, inbox+effect+outbox per hop, one confirmed publish): "
            f"{fmt(bare)} orders/s ({baseline['bare_pipeline']['completed']} orders, p50 {ms(baseline['bare_pipeline']['p50_s'])})",
            f"- raw confirmed publish (quorum queue, batches of {raw['batch']}): {fmt(raw['publish_per_s'], '/s', 0)}; "
            f"consume+ack (prefetch {raw['consume_prefetch']}): {fmt(raw['consume_per_s'], '/s', 0)}",
            f"- single-row autocommit updates (synchronous_commit={rows.get('synchronous_commit')}): "
            + ", ".join(
                f"{k.removeprefix('updates_per_s_')}: {fmt(v, '/s', 0)}"
                for k, v in rows.items()
                if k.startswith("updates")
            ),
        ]
    if s1 is not None:
        lines += [
            "",
            "## S1 by rate",
            "",
            "| offered/s | confirmed/s | HTTP p50 | HTTP p99 | →confirmed p50 | →confirmed p99 | complete | errors |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in s1["points"]:
            lines.append(
                f"| {fmt(p['offered_per_s'])} | {fmt(p['achieved_confirmed_per_s'])} | {ms(p['checkout_http_s']['p50'])} | "
                f"{ms(p['checkout_http_s']['p99'])} | {ms(p['checkout_to_confirmed_s']['p50'])} | {ms(p['checkout_to_confirmed_s']['p99'])} | "
                f"{p['complete']} | {p['http_errors']} |"
            )
        reference = s1.get("best") or (s1["points"][-1] if s1["points"] else None)
        if reference:
            lines += [
                "",
                f"CPU seconds per confirmed order at {fmt(reference['offered_per_s'])}/s offered "
                f"(machine busy {fmt(reference['cpu']['machine_busy_seconds'], ' s')} of {fmt(reference['cpu']['machine_capacity_seconds'], ' s')}; "
                "postgres and rabbitmq are shared with anything else running on the machine):",
                "",
                "| process | CPU ms / order | peak RSS MiB | idle RSS MiB |",
                "|---|---|---|---|",
            ]
            per = reference["cpu_seconds_per_order"]
            idle = (memory or {}).get("idle_rss_mib", {})
            peaks = (memory or {}).get("s1_peak_rss_mib", {})
            for name in sorted(per, key=lambda n: -(per[n] or 0)):
                value = per[name]
                lines.append(
                    f"| {name} | {fmt(None if value is None else value * 1000, '', 2)} | {fmt(peaks.get(name), '', 0)} | {fmt(idle.get(name), '', 0)} |"
                )
    strategies = results.get("s2_strategies")
    if strategies:
        lines += [
            "",
            f"## S2 reservation strategies (database only: {strategies['buyers']} attempts for {strategies['units']} units, {strategies['concurrency']} connections)",
            "",
            "| strategy | sold out after | all answered after | attempts/s | accepted | oversold | correct |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, e in strategies["strategies"].items():
            lines.append(
                f"| {name} | {fmt(e['sold_out_after_s'], ' s', 3)} | {fmt(e['all_answered_after_s'], ' s', 3)} | {fmt(e['attempts_per_s'], '', 0)} | {e['accepted']} | {e['oversold']} | {e['correct']} |"
            )
        lines.append(f"\nFastest correct: **{strategies['fastest_correct']}**")
    profile = results.get("profile")
    if profile:
        lines += ["", f"## Profiles (py-spy during S1 at {fmt(profile['rate'])}/s)", ""]
        lines += _profile_lines(profile["processes"])
    drop_profile = (results.get("s2") or {}).get("profile")
    if drop_profile:
        lines += ["", "## Profiles (py-spy during S2 full: the buyers' window and the sell-out after it)", ""]
        lines += _profile_lines(drop_profile)
    if results.get("failed"):
        lines.append(f"\n**The run failed part-way**: {results['failed']}")
    if results.get("processes_died"):
        lines.append(f"\nProcesses that died during the run: {results['processes_died']}")
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    _plots(results, out)
    return text


def _profile_lines(processes: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for name, entry in processes.items():
        lines.append(f"### {name}: flame graph {entry.get('flamegraph') or 'not recorded'}")
        if entry.get("errors"):
            lines.append(f"py-spy failed: `{' | '.join(e.strip()[:300] for e in entry['errors'])}`")
        if entry.get("top_inclusive"):
            total = entry.get("samples") or 1
            lines += ["", "| frame (inclusive) | share |", "|---|---|"]
            shown = [
                (f, c)
                for f, c in entry["top_inclusive"]
                if not f.startswith(BOILERPLATE) and "(asyncio/" not in f
            ]
            for frame, count in shown[:15]:
                lines.append(f"| `{frame[:140]}` | {100 * count / total:.0f}% |")
            lines += ["", "| frame (self) | share |", "|---|---|"]
            for frame, count in entry["top_self"][:10]:
                lines.append(f"| `{frame[:140]}` | {100 * count / total:.0f}% |")
        lines.append("")
    return lines


def drop_cpu_lines(results: dict[str, Any]) -> list[str]:
    """Where each drop's CPU went: every process from the drop's opening to its last final answer, per buyer."""
    lines: list[str] = []
    for label, drop in (("S2 full", results.get("s2")), ("S2 quick", results.get("s2_quick"))):
        cpu = (drop or {}).get("cpu")
        if not drop or not cpu:
            continue
        used: dict[str, float] = cpu["cpu_seconds"]
        lines += [
            "",
            f"{label}: CPU from the drop's opening to the last buyer's final answer ({fmt(cpu['wall_seconds'], ' s', 1)}; "
            f"the machine busy {fmt(cpu['machine_busy_seconds'], ' s', 1)} of {fmt(cpu['machine_capacity_seconds'], ' s', 1)}), "
            f"per buyer over its {drop['buyers']:,} buyers:",
            "",
            "| process | CPU s | ms per buyer |",
            "|---|---|---|",
        ]
        for name in sorted(used, key=lambda n: -used[n]):
            if used[name] >= 0.005:
                lines.append(f"| {name} | {used[name]:.2f} | {1000 * used[name] / drop['buyers']:.2f} |")
    return lines


PLACED_CPU_MS = 40.0
"""CPU per placed order summed over every process of the shop (PostgreSQL, RabbitMQ and the mail server too)."""
S1_WITHIN_BARE = 0.25
"""S1's sustained rate against the bare hops measured in the same run."""
NOT_THE_SHOP = ("bench (load generator)", "other processes on the machine (not this bench)")


def _row(figure: str, measured: str, baseline: str, target: str, met: bool | None) -> str:
    return f"| {figure} | {measured} | {baseline} | {target} | {_met(met) if target != '-' else '-'} |"


def _fives(drop: dict[str, Any]) -> int:
    return sum(count for status, count in drop["http_errors"].items() if status.startswith("5"))


def _last_confirmed(drop: dict[str, Any]) -> float | None:
    confirmed: list[float] = drop.get("timeline_s", {}).get("confirmed") or []
    return max(confirmed) if len(confirmed) >= drop["units"] else None


def _held_and_told(drop: dict[str, Any]) -> str:
    return (
        f"{fmt(drop.get('last_unit_held_after_arrival_s'), ' s', 2)} / "
        f"{fmt(drop.get('first_sold_out_after_arrival_s'), ' s', 2)}"
    )


def _rejected_share(drop: dict[str, Any]) -> float | None:
    missed = drop["buyers"] - drop["units"]
    return drop["rejected"] / missed if missed > 0 else None


def shop_cpu_ms_per_order(point: dict[str, Any]) -> float | None:
    """CPU ms per confirmed order at an S1 rate, summed over the shop's processes with PostgreSQL, RabbitMQ and
    the mail server; the load generator and the rest of the machine are left out."""
    per_order: dict[str, float | None] = point["cpu_seconds_per_order"]
    values = [v for name, v in per_order.items() if name not in NOT_THE_SHOP]
    if not values or any(v is None for v in values):
        return None
    return 1000 * sum(v for v in values if v is not None)


def drop_day_rows(results: dict[str, Any]) -> list[str]:
    """The drop day's table: each target beside what this run measured and the baseline it measured with it."""
    lines = ["| figure | measured | baseline (same run) | target | status |", "|---|---|---|---|---|"]
    s2, quick = results.get("s2"), results.get("s2_quick")
    strategies = results.get("s2_strategies", {}).get("strategies", {})
    today = next((e for n, e in strategies.items() if n.startswith("conditional")), None)
    db_alone = f"DB alone, catalog's conditional update: sold out {fmt(today['sold_out_after_s'] if today else None, ' s', 2)}"
    for label, drop in (("S2 full", s2), ("S2 quick", quick)):
        if drop is None:
            continue
        size = f"{drop['buyers']:,} buyers in {fmt(drop['window_s'], ' s', 0)} for {drop['units']:,} units"
        fives = _fives(drop)
        lines.append(
            _row(
                f"{label} ({size}): accepted / oversold / unanswered / 5xx",
                f"{drop['accepted_confirmed']} / {drop['oversold']} / {drop['unanswered']} / {fives}",
                "-",
                f"{drop['units']} / 0 / 0 / 0",
                drop["accepted_confirmed"] == drop["units"]
                and drop["oversold"] == 0
                and drop["unanswered"] == 0
                and fives == 0,
            )
        )
        held = drop.get("last_unit_held_after_arrival_s")
        told = drop.get("first_sold_out_after_arrival_s")
        lines.append(
            _row(
                f"{label}: last unit held (202) / first 409 sold_out, after the {drop['units']:,}th arrival",
                _held_and_told(drop),
                db_alone if label == "S2 full" else "-",
                "≤ 1 s",
                None if held is None or told is None else max(held, told) <= 1,
            )
        )
        p99 = drop["missed_out_final_answer_s"]["p99"]
        limit = 1.0 if label == "S2 full" else 0.3
        lines.append(
            _row(
                f"{label}: missed-out p99 final answer, from arrival",
                f"{ms(p99)} ({drop.get('sold_out_at_checkout', 0):,} told 409 sold_out at checkout; "
                f"{drop.get('buyers_turned_away_at_least_once', 0):,} told 503 came back, "
                f"{drop.get('buyers_came_back_after_a_service_503', 0):,} of them after a 503 that was not busy)",
                "-",
                f"≤ {ms(limit)}",
                None if p99 is None else p99 <= limit,
            )
        )
        share = _rejected_share(drop)
        lines.append(
            _row(
                f"{label}: placed with 202 and rejected later for stock, share of those who missed out",
                f"{drop['rejected']} of {drop['buyers'] - drop['units']:,} ({fmt(None if share is None else 100 * share, ' %', 1)})",
                "-",
                "≤ 1 %",
                None if share is None else share <= 0.01,
            )
        )
        if label == "S2 full":
            last = _last_confirmed(drop)
            lines.append(
                _row(
                    "S2 full: every unit's order confirmed, after the drop opened",
                    fmt(last, " s", 1),
                    "-",
                    "≤ 60 s",
                    None if last is None else last <= 60,
                )
            )
        generator = drop.get("generator") or {}
        if "wrk_cpu_share_of_one_core" in generator:
            lines.append(
                _row(
                    f"{label}: the generator's own CPU ({generator.get('name')}, {generator.get('connections')} connections)",
                    f"{fmt(100 * generator['wrk_cpu_share_of_one_core'], ' % of a core', 1)}, "
                    f"{fmt(generator.get('wrk_cpu_ms_per_buyer'), ' ms a buyer', 2)}",
                    "-",
                    "-",
                    None,
                )
            )
    s1 = results.get("s1")
    bare = results.get("baseline", {}).get("bare_pipeline", {}).get("orders_per_s")
    if s1 is not None:
        best = s1.get("best")
        cpu = shop_cpu_ms_per_order(best) if best else None
        lines.append(
            _row(
                f"CPU per placed order, every process of the shop, at S1's sustained rate ({fmt(best['offered_per_s'] if best else None)}/s)",
                fmt(cpu, " ms", 1),
                "-",
                f"≤ {PLACED_CPU_MS:.0f} ms",
                None if cpu is None else cpu <= PLACED_CPU_MS,
            )
        )
        if best:
            client_cpu = best["cpu_seconds_per_order"].get("bench (load generator)")
            lines.append(
                _row(
                    "S1's generator (the bench's Python client), CPU per order, not counted above",
                    fmt(None if client_cpu is None else 1000 * client_cpu, " ms", 2),
                    "-",
                    "-",
                    None,
                )
            )
        rate = best["achieved_confirmed_per_s"] if best else None
        within = ratio(rate, bare)
        lines.append(
            _row(
                "S1 highest sustained orders/s with p99 checkout→confirmed ≤ 1 s",
                f"{fmt(rate)} (offered {fmt(best['offered_per_s'] if best else None)}; {fmt(within, 'x', 2)} the bare hops)",
                f"bare hops {fmt(bare)} orders/s",
                f"≥ {S1_WITHIN_BARE}x bare",
                None if within is None else within >= S1_WITHIN_BARE,
            )
        )
        own = s1.get("half_own")
        if own:
            p99 = own["checkout_http_s"]["p99"]
            lines.append(
                _row(
                    f"checkout HTTP p99 at half the sustained rate ({fmt(own['offered_per_s'])}/s)",
                    f"{ms(p99)} (p50 {ms(own['checkout_http_s']['p50'])})",
                    "-",
                    "≤ 50 ms",
                    None if p99 is None else p99 <= 0.05,
                )
            )
    checkout, floor = results.get("http_checkout"), results.get("direct_floor")
    if checkout:
        for outcome, processes in (
            ("sold_out", ("gateway", "orders-http")),
            ("placed", ("gateway", "orders-http", "catalog-http")),
        ):
            run = checkout.get(outcome)
            target = HTTP_TARGETS_MS[outcome]
            values = [_cpu(run, name) for name in processes]
            reference = _cpu((floor or {}).get(outcome), "direct checkout")
            lines.append(
                _row(
                    f"{outcome.replace('_', '-')} checkout, CPU per request (wrk, {(run or {}).get('connections', '-')} connections): "
                    + ", ".join(processes),
                    ", ".join(fmt(value, " ms", 2) for value in values),
                    f"single-process floor {fmt(reference, ' ms', 2)}",
                    f"≤ {target} ms each",
                    None
                    if any(v is None for v in values)
                    else all(v <= target for v in values if v is not None),
                )
            )
    return lines


HTTP_TARGETS_MS = {"sold_out": 1.5, "placed": 3.0}
"""CPU per request each of the gateway and orders' HTTP process aims at, by checkout outcome."""


def _cpu(run: dict[str, Any] | None, name: str) -> float | None:
    if not run:
        return None
    value: float | None = run["cpu_ms_per_request"].get(name)
    return value


def _load(run: dict[str, Any]) -> str:
    return f"{run['load_average_before'][0]:.2f}"


def _wrk_line(label: str, run: dict[str, Any] | None) -> str:
    if not run:
        return f"| {label} | not measured | | | | | | | | | |"
    latency = run["latency_s"]
    return (
        f"| {label} | {fmt(run['requests_per_s'])} | {ms(latency['p50'])} / {ms(latency['p99'])} | "
        f"{run['statuses']} | {fmt(_cpu(run, 'gateway'), '', 2)} | {fmt(_cpu(run, 'orders-http'), '', 2)} | "
        f"{fmt(_cpu(run, 'catalog-http'), '', 2)} | {fmt(_cpu(run, 'direct checkout'), '', 2)} | {fmt(_cpu(run, 'postgres (all backends, shared)'), '', 2)} | "
        f"{fmt(100 * (run['wrk_cpu_share_of_one_core'] or 0), '%', 0)} | {_load(run)} |"
    )


def _wrk_sections(results: dict[str, Any]) -> list[str]:
    """The figures wrk measured: each checkout through the gateway beside the single-process floor of this run."""
    checkout = results.get("http_checkout")
    floor = results.get("direct_floor")
    drop = results.get("s2_wrk")
    if not (checkout or floor or drop):
        return []
    lines = ["", "## Checkout driven by wrk (CPU ms per answered request, from /proc)", ""]
    if floor:
        lines.append(
            f"Floor of this run (one FastAPI process over asyncpg, one transaction per checkout): "
            f"{fmt(floor['orders_per_s'])} orders/s at {fmt(floor['cpu_ms_per_order'], ' ms', 2)} CPU per order "
            f"(+ PostgreSQL {fmt(floor['postgres_cpu_ms_per_order'], ' ms', 2)})."
        )
    if checkout:
        for outcome, run in (("sold_out", checkout.get("sold_out")), ("placed", checkout.get("placed"))):
            target = HTTP_TARGETS_MS[outcome]
            gateway, orders = _cpu(run, "gateway"), _cpu(run, "orders-http")
            reference = _cpu((floor or {}).get(outcome), "direct checkout")
            met = None if gateway is None or orders is None else gateway <= target and orders <= target
            lines.append(
                f"- {outcome.replace('_', ' ')}: gateway {fmt(gateway, ' ms', 2)}, orders HTTP {fmt(orders, ' ms', 2)} per "
                f"request (target ≤ {target} ms each: {_met(met)}); the floor {fmt(reference, ' ms', 2)} "
                f"(gateway {fmt(ratio(gateway, reference), 'x', 1)} of it)"
            )
    lines += [
        "",
        "| run | requests/s | latency p50 / p99 | answers | gateway | orders-http | catalog-http | direct | postgres "
        "| wrk CPU (one core) | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    if drop:
        lines.append(_wrk_line(f"drop through the gateway ({drop['units']} units)", drop))
    if floor:
        lines.append(_wrk_line(f"drop, direct floor ({floor['drop']['units']} units)", floor["drop"]))
    if checkout:
        lines.append(_wrk_line("sold out (409) through the gateway", checkout.get("sold_out")))
    if floor:
        lines.append(_wrk_line("sold out, direct floor", floor.get("sold_out")))
    if checkout:
        lines.append(_wrk_line("placed (202) through the gateway", checkout.get("placed")))
    if floor:
        lines.append(_wrk_line("placed, direct floor", floor.get("placed")))
    if drop:
        lines.append(
            f"\nThe wrk drop: {drop['accepted_202']} answered 202 for {drop['units']} units, catalog reserved "
            f"{drop['catalog_reserved']} of {drop['catalog_on_hand']} (oversold {drop['oversold']}); requests "
            "still in flight when wrk stops are answered but not counted."
        )
    return lines


def _plots(results: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s1 = results.get("s1")
    if s1 and s1["points"]:
        points = s1["points"]
        rates = [p["achieved_confirmed_per_s"] for p in points]
        figure, axis = plt.subplots(figsize=(8, 5))
        for key, label in (
            ("checkout_http_s", "checkout HTTP"),
            ("checkout_to_confirmed_s", "checkout→confirmed"),
        ):
            for q, style in (("p50", "--"), ("p99", "-")):
                values = [(p[key][q] or float("nan")) * 1000 for p in points]
                axis.plot(rates, values, style, marker="o", label=f"{label} {q}")
        axis.axhline(1000, color="grey", linestyle=":", label="1 s (p99 target)")
        bare = results.get("baseline", {}).get("bare_pipeline", {}).get("orders_per_s")
        if bare:
            axis.axvline(bare, color="red", linestyle=":", label=f"bare hops {bare:.0f}/s")
        axis.set_xlabel("confirmed orders/s")
        axis.set_ylabel("latency (ms)")
        axis.set_yscale("log")
        axis.set_title("S1 steady pipeline: latency vs rate")
        axis.legend()
        figure.tight_layout()
        figure.savefig(out / "s1_latency_vs_rate.png", dpi=110)
        plt.close(figure)
    s2 = results.get("s2")
    if s2 and s2.get("timeline_s"):
        timeline = s2["timeline_s"]
        figure, axis = plt.subplots(figsize=(8, 5))
        for key, label in (
            ("arrivals", "buyers arrived"),
            ("reserved", "units reserved"),
            ("confirmed", "orders confirmed"),
            ("rejected", "buyers told sold out"),
        ):
            values = sorted(timeline[key])
            axis.step(values, range(1, len(values) + 1), where="post", label=label)
        axis.axhline(s2["units"], color="grey", linestyle=":", label=f"{s2['units']} units")
        axis.set_xlabel("seconds since the drop opened")
        axis.set_ylabel("count")
        axis.set_title("S2 flash drop: sell-out timeline")
        axis.legend()
        figure.tight_layout()
        figure.savefig(out / "s2_sellout_timeline.png", dpi=110)
        plt.close(figure)
