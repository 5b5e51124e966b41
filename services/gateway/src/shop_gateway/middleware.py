"""The gateway's ASGI middleware: a request id and security headers on every answer, a body size limit, and
a problem (never a stack trace) for anything that breaks."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shop_gateway.logs import request_id_var, request_path_var
from shop_runtime.problems import PROBLEM_JSON, Problem

log = logging.getLogger(__name__)
access_log = logging.getLogger("shop_gateway.access")

REQUEST_ID_HEADER = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
NO_STORE_PREFIXES = ("/v1/orders", "/v1/admin", "/v1/warehouse")
"""Answers under these paths carry customer or staff data: caches must not keep them."""


def request_id_from(value: str | None) -> str:
    """The caller's request id when it is a sensible token (8-128 of ``A-Za-z0-9._:-``); a new one otherwise."""
    if value and _VALID_REQUEST_ID.match(value):
        return value
    return uuid.uuid4().hex


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_problem(send: Send, problem: Problem, *, path: str) -> None:
    body = json.dumps(problem.body(path)).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Outermost: gives the request an id (``X-Request-Id``, the caller's when valid), echoes it, makes it
    available to logs, adds security headers, and answers an unexpected error with a bare 500 problem."""

    def __init__(self, app: ASGIApp, *, log_requests: bool = True) -> None:
        self.app = app
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500
        request_id = request_id_from(_header(scope, b"x-request-id"))
        token = request_id_var.set(request_id)
        path: str = scope.get("path", "")
        path_token = request_path_var.set(path)
        no_store = path.startswith(NO_STORE_PREFIXES)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-request-id", b"x-content-type-options")
                    and not (no_store and k.lower() == b"cache-control")
                ]
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                if no_store:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), path)
            if not started:
                await send_problem(
                    send_with_headers,
                    Problem(
                        500,
                        "Something went wrong on our side",
                        f"quote request id {request_id} when asking for help",
                        code="internal_error",
                    ),
                    path=path,
                )
        finally:
            if self.log_requests and path not in ("/health", "/ready", "/metrics"):
                # method, path and status only: never headers, query strings or bodies (they carry secrets)
                access_log.info(
                    "%s %s %d %.1fms", scope.get("method"), path, status, (time.perf_counter() - began) * 1000
                )
            request_id_var.reset(token)
            request_path_var.reset(path_token)


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Refuses a body above ``max_bytes`` with 413 before anything parses it: at once from ``Content-Length``,
    or while reading a body sent without one (chunked), which is buffered up to the limit and then replayed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _problem(self) -> Problem:
        return Problem(
            413,
            "The request body is too large",
            f"send at most {self.max_bytes} bytes",
            code="body_too_large",
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                await send_problem(
                    send, Problem(400, "Content-Length is not valid", code="bad_request"), path=path
                )
                return
            if length > self.max_bytes:
                await send_problem(send, self._problem(), path=path)
                return
            await self.app(scope, _capped(receive, self.max_bytes), send)
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, _capped(receive, self.max_bytes), send)
            return
        try:
            messages = await _read_capped(receive, self.max_bytes)
        except _BodyTooLarge:
            await send_problem(send, self._problem(), path=path)
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_capped(receive: Receive, max_bytes: int) -> list[Message]:
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages
        size += len(message.get("body", b""))
        if size > max_bytes:
            raise _BodyTooLarge
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> MutableMapping[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _capped(receive: Receive, max_bytes: int) -> Receive:
    """A guard for a body longer than its Content-Length said (servers normally stop that first)."""
    size = 0

    async def capped() -> MutableMapping[str, Any]:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > max_bytes:
                return {"type": "http.disconnect"}
        return message

    return capped
