"""Calls to the services' internal HTTP APIs, answered as the public API answers: JSON or a problem."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi.responses import JSONResponse

from shop_runtime.problems import PROBLEM_JSON, Problem

log = logging.getLogger(__name__)


class Services:
    """One pooled HTTP client per service, created at start-up."""

    def __init__(self, urls: dict[str, str], *, timeout: float) -> None:
        self._clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout, headers={"User-Agent": "shop-gateway"})
            for name, url in urls.items()
        }

    @property
    def names(self) -> list[str]:
        return list(self._clients)

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Call ``service``; an unreachable or failing service becomes a 503 problem, never a 500."""
        try:
            response = await self._clients[service].request(
                method, path, json=json, params=params, headers=headers
            )
        except httpx.HTTPError as error:
            log.warning("%s is unreachable: %s", service, error)
            raise Problem(
                503,
                f"{service} is unavailable",
                "try again shortly",
                code="service_unavailable",
                headers={"Retry-After": "2"},
            ) from error
        if response.status_code >= 500:
            log.warning("%s answered %d: %s", service, response.status_code, response.text[:500])
            raise Problem(
                503,
                f"{service} is unavailable",
                "try again shortly",
                code="service_unavailable",
                headers={"Retry-After": "2"},
            )
        return response

    async def forward(self, service: str, method: str, path: str, **kwargs: Any) -> JSONResponse:
        """Call and pass the answer (its status, body and problem format) through to the caller."""
        response = await self.call(service, method, path, **kwargs)
        media_type = (
            PROBLEM_JSON if response.headers.get("content-type") == PROBLEM_JSON else "application/json"
        )
        passed_headers = {
            k: v for k, v in response.headers.items() if k.lower() in ("location", "idempotent-replayed")
        }
        return JSONResponse(
            response.json(), status_code=response.status_code, media_type=media_type, headers=passed_headers
        )

    async def ready(self, service: str) -> bool:
        try:
            return (await self._clients[service].get("/ready")).status_code == 200
        except httpx.HTTPError:
            return False

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
