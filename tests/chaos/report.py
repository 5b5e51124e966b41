"""What each chaos scenario did and found, printed at the end of the run (and kept for the report)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ScenarioReport:
    name: str
    faults: list[str] = field(default_factory=list)
    orders: int = 0
    completed: int = 0
    lost: int = 0
    charged_twice: int = 0
    oversold: int = 0
    """Units that left stock without an order keeping them (checked where a scenario counts stock)."""
    audit_violations: int | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def fault(self, what: str) -> None:
        self.faults.append(what)

    def line(self) -> str:
        audit = "not run" if self.audit_violations is None else str(self.audit_violations)
        text = (
            f"{self.name:<28} faults={len(self.faults):<3} orders={self.orders:<5} completed={self.completed:<5}"
            f" lost={self.lost} charged_twice={self.charged_twice} oversold={self.oversold}"
            f" audit_violations={audit}"
            f" ({self.seconds:.0f}s)"
        )
        details = [f"    fault: {fault}" for fault in self.faults] + [f"    {note}" for note in self.notes]
        return "\n".join([text, *details])


REPORTS: list[ScenarioReport] = []


def summary_lines() -> list[str]:
    lines = [report.line() for report in REPORTS]
    lines.append(
        f"TOTAL scenarios={len(REPORTS)} faults={sum(len(r.faults) for r in REPORTS)}"
        f" orders={sum(r.orders for r in REPORTS)} lost={sum(r.lost for r in REPORTS)}"
        f" charged_twice={sum(r.charged_twice for r in REPORTS)}"
        f" oversold={sum(r.oversold for r in REPORTS)}"
        f" audit_violations={sum(r.audit_violations or 0 for r in REPORTS)}"
    )
    return lines
