"""Every dependency of the gateway's routes runs on the event loop: FastAPI hands a plain ``def`` dependency to its
thread pool, a hop to a worker thread and back on every request that uses it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute

from shop_gateway.bootstrap import create_http_app
from shop_gateway.settings import GatewaySettings


def runs_on_the_loop(call: Callable[..., Any]) -> bool:
    """A coroutine or async generator function, or an object (a security scheme) whose ``__call__`` is one."""
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else getattr(call, "__call__", call)  # noqa: B004
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def dependencies_of(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from dependencies_of(sub)


def calls_of(routes: Sequence[BaseRoute], where: str = "") -> Iterator[tuple[str, Callable[..., Any]]]:
    """Every dependency's callable under ``routes``, with its route, through the routers they include."""
    for route in routes:
        if isinstance(route, APIRoute):
            for sub in dependencies_of(route.dependant):
                if sub.call is not None:
                    yield f"{sorted(route.methods or ())} {where}{route.path}", sub.call
        router = getattr(route, "original_router", None)
        if isinstance(router, APIRouter):
            for depends in router.dependencies:
                if depends.dependency is not None:
                    yield f"{where}{router.prefix} (every route)", depends.dependency
            yield from calls_of(router.routes, where + router.prefix)


def test_every_dependency_of_every_route_is_a_coroutine() -> None:
    app = create_http_app(
        GatewaySettings(staff_api_key="staff-key-0123456789", warehouse_api_key="warehouse-key-0123456789")
    )
    calls = list(calls_of(app.routes))
    plain = sorted(
        {
            f"{route}: {getattr(call, '__qualname__', repr(call))}"
            for route, call in calls
            if not runs_on_the_loop(call)
        }
    )
    assert len(calls) > 50
    assert plain == []
