"""How every long-running process runs its event loop: uvloop, and uvicorn's httptools parser, by default.

uvloop (libuv) and httptools (a C HTTP parser) cut the CPU each request and message costs, which is what the
pipeline is short of on a small machine (issue 6). ``SHOP_EVENT_LOOP=asyncio`` runs the standard library's
loop and uvicorn's pure-Python h11 parser instead, to compare or to rule them out when chasing a bug.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

import uvloop

T = TypeVar("T")


def _standard() -> bool:
    return os.environ.get("SHOP_EVENT_LOOP", "uvloop").strip().lower() == "asyncio"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a process's main coroutine to the end on its event loop."""
    if _standard():
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def http_parser() -> Literal["httptools", "h11"]:
    """uvicorn's HTTP/1.1 parser for this process."""
    return "h11" if _standard() else "httptools"
