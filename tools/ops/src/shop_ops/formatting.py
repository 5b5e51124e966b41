"""How the CLI prints results: plain text lines, one fact per line, ids spelled out so they can be pasted."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from shop_ops.audit import AuditReport
from shop_ops.deadlines import StuckOrder
from shop_ops.durations import age
from shop_ops.invariants import Finding
from shop_ops.jobs import ParkedJob
from shop_ops.timeline import OrderView
from shop_runtime.dead_letters import ParkedMessage


def ids_text(ids: Mapping[str, str]) -> str:
    return " ".join(f"{key}={value}" for key, value in ids.items())


def finding_line(label: str, check: str, finding: Finding) -> str:
    ids = ids_text(finding.ids)
    return f"{label:<9} {check}: {finding.message}" + (f" [{ids}]" if ids else "")


def audit_lines(report: AuditReport) -> list[str]:
    lines = [finding_line("VIOLATION", check, finding) for check, finding in report.violations]
    lines += [finding_line("WAITING", check, finding) for check, finding in report.waiting]
    lines += [f"{'ERROR':<9} {check}: could not run: {error}" for check, error in report.errors]
    if lines:
        lines.append("")
    lines.append(f"{len(report.results)} checks run:")
    for result in report.results:
        if result.error is not None:
            outcome = "could not run"
        else:
            broken = sum(1 for finding in result.findings if finding.severity == "violation")
            waiting = len(result.findings) - broken
            outcome = "ok" if not result.findings else f"{broken} violation(s)"
            if waiting:
                outcome = f"{waiting} waiting" if not broken else f"{outcome}, {waiting} waiting"
        lines.append(f"  {result.check.name:<40} {outcome:<16} {result.check.summary}")
    lines.append(
        f"{len(report.violations)} violation(s), {len(report.waiting)} waiting, "
        f"{len(report.errors)} check(s) could not run"
    )
    return lines


def _one_line(text: str, width: int = 100) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= width else first[: width - 1] + "…"


def parked_list_lines(
    service: str, count: int | None, messages: Iterable[ParkedMessage], missing: str | None
) -> list[str]:
    if missing is not None:
        return [f"{service}: no parking queue ({missing})"]
    lines = [f"{service}: {count} parked"]
    for message in messages:
        lines.append(
            f"  {message.message_id}  {message.message_type or '-'}  attempts={message.attempts}"
            f"  parked_at={message.parked_at or '-'}"
        )
        lines.append(f"      {_one_line(message.error_first_line) or '(no error recorded)'}")
    return lines


def parked_job_lines(service: str, parked: Sequence[ParkedJob]) -> list[str]:
    lines = [f"{service}: {len(parked)} parked job(s)"]
    for job in parked:
        lines.append(
            f"  {job.key}  {job.kind}  attempts={job.attempts}  parked_at={job.parked_at.isoformat()}"
        )
        lines.append(
            f"      {_one_line(job.error.splitlines()[0] if job.error else '') or '(no error recorded)'}"
        )
    return lines


def parked_message_lines(message: ParkedMessage) -> list[str]:
    lines = [
        f"service:        {message.service}",
        f"message id:     {message.message_id}",
        f"type:           {message.message_type}",
        f"attempts:       {message.attempts}",
        f"parked at:      {message.parked_at}",
        f"original route: exchange={message.original_exchange!r} routing_key={message.original_routing_key!r}",
        f"error:          {message.error}",
        "headers:",
    ]
    for key, value in sorted(message.headers.items()):
        if key == "x-shop-traceback":
            continue
        lines.append(f"  {key}: {value}")
    lines.append("traceback:")
    lines += [f"  {line}" for line in (message.traceback or "(none)").splitlines()]
    lines.append("body:")
    lines += [f"  {line}" for line in message.body_text().splitlines()]
    return lines


def order_lines(view: OrderView, *, now: datetime, trace_url: str | None = None) -> list[str]:
    """The order, its saga step, its trace(s) (with a link when ``trace_url`` is set) and its timeline."""
    lines = [f"order {view.order_id}"]
    if view.order is not None:
        order = view.order
        lines.append(
            f"  status: {order.status} since {order.since.isoformat(timespec='seconds')} "
            f"({age(now - order.since)} ago); total {order.total} {order.currency}"
        )
    else:
        lines.append("  not found in orders")
    lines.append(f"  saga step: {view.step}")
    for trace_id in view.trace_ids:
        link = f"  {trace_url.rstrip('/')}/trace/{trace_id}" if trace_url else ""
        lines.append(f"  trace: {trace_id}{link}")
    for service, reason in sorted(view.unavailable.items()):
        lines.append(f"  ! {service} not read: {reason}")
    lines.append("timeline:")
    if not view.entries:
        lines.append("  (nothing in any service)")
    for entry in view.entries:
        detail = f"  {entry.detail}" if entry.detail else ""
        lines.append(
            f"  {entry.at.isoformat(timespec='milliseconds')}  {entry.service:<13} {entry.event}{detail}"
        )
    return lines


def stuck_lines(stuck: list[StuckOrder], *, now: datetime, deadline: timedelta) -> list[str]:
    if not stuck:
        return [f"no order has waited in a saga step longer than {age(deadline)}"]
    lines = [f"{len(stuck)} order(s) past the {age(deadline)} deadline of their step:"]
    for item in stuck:
        order = item.order
        lines.append(
            f"  {order.order_id}  {order.status:<9} since {order.since.isoformat(timespec='seconds')} "
            f"({age(now - order.since)} ago)  {item.reason}"
        )
    return lines
