"""Only the edges commit: the dispatcher (a message), the scheduler (a job) and ``committed`` (a request).

Handlers never commit, so a use case that calls another composes with it in one transaction, and a message,
a job or a request takes effect whole or not at all. This test reads every service's and the runtime's code
for a ``.commit()`` call anywhere else.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EDGES = {
    "libs/runtime/src/shop_runtime/consumer.py": "Dispatcher.dispatch",
    "libs/runtime/src/shop_runtime/scheduling.py": "Scheduler.run_due, _record_failure",
    "libs/runtime/src/shop_runtime/http.py": "committed",
    "libs/runtime/src/shop_runtime/database.py": "UnitOfWork.commit itself",
    "services/notifications/src/shop_notifications/sender.py": "the email sender's batch, as the scheduler's job",
}


def commit_calls(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        node.lineno
        for node in ast.walk(tree)
        # A transaction's commit takes no arguments (stock's ``reservation.commit(units)`` is another commit).
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
        and not node.args
        and not node.keywords
    ]


def sources() -> list[Path]:
    found = [*ROOT.glob("services/*/src/**/*.py"), *ROOT.glob("libs/runtime/src/**/*.py")]
    return sorted(path for path in found if "migrations" not in path.parts)


def test_nothing_but_the_edges_commits() -> None:
    assert len(sources()) > 50, "the services' code was not found"
    outside = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sources()
        if str(path.relative_to(ROOT)) not in EDGES
        for line in commit_calls(path)
    ]
    assert outside == [], "a handler commits; let its edge do it (shop_runtime.http.committed for a request)"


def test_each_edge_still_commits() -> None:
    for edge in EDGES:
        assert commit_calls(ROOT / edge), f"{edge} no longer commits: is it still an edge?"
