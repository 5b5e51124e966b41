"""The public API's OpenAPI document as storefronts and client generators read it: every reference defined, a
stable ``operationId`` per operation (each route names its summary), the example of every request body where tools
look for it, and error answers as problems only.

python -m shop_gateway.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from shop_gateway.schemas import ProblemOut
from shop_runtime.problems import PROBLEM_JSON

Document = dict[str, Any]

PROBLEM_SCHEMA = "Problem"
PROBLEM_REF = f"#/components/schemas/{PROBLEM_SCHEMA}"
REGENERATE = "make contracts (or: .venv/bin/python -m shop_gateway.openapi > docs/openapi.json)"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
"""FastAPI's own 422 body, which the gateway never answers (its 422 is a problem)."""


def operation_id(route: RouteContext) -> str:
    """The handler's name in camelCase (``place_order`` is ``placeOrder``): the name a generated client gives
    the call, so renaming a handler renames the call in every storefront (the committed document shows it)."""
    if route.operation_id:
        return str(route.operation_id)
    first, *rest = str(route.name).split("_")
    return first + "".join(word.capitalize() for word in rest)


def problem_schemas() -> dict[str, Any]:
    """The ``Problem`` body (RFC 9457, as ``shop_runtime.problems`` and the services write it) and what it
    refers to, under ``components.schemas``."""
    schema = ProblemOut.model_json_schema(ref_template="#/components/schemas/{model}")
    referred = schema.pop("$defs", {})
    return {PROBLEM_SCHEMA: schema, **referred}


def build_document(app: FastAPI) -> Document:
    """The app's OpenAPI document with operation ids, the problem schema and request examples."""
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    routes = {
        (route.path_format, method.lower()): route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }
    components: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    for unused in _FASTAPI_VALIDATION_SCHEMAS:
        components.pop(unused, None)
    components.update(problem_schemas())
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            route = routes[(path, method)]
            operation["operationId"] = operation_id(route)
            _problems_only_as_problem_json(operation)
            _example_with_the_body(operation, components)
    return document


def _problems_only_as_problem_json(operation: dict[str, Any]) -> None:
    """Error answers are documented as ``application/problem+json`` only (FastAPI also lists application/json
    for an answer with a model)."""
    for status, response in operation.get("responses", {}).items():
        content = response.get("content", {})
        if status[:1] in ("4", "5") and PROBLEM_JSON in content:
            content.pop("application/json", None)


def _example_with_the_body(operation: dict[str, Any], components: dict[str, Any]) -> None:
    """The body model's first example (``json_schema_extra``) shown with the request body, where tools look."""
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "example" in media or "examples" in media:
            continue
        reference = media.get("schema", {}).get("$ref", "")
        examples = components.get(reference.rsplit("/", 1)[-1], {}).get("examples")
        if examples:
            media["example"] = examples[0]


def render(document: Document) -> str:
    """The document as it is kept in docs/openapi.json: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def documented_app() -> FastAPI:
    """The gateway app as the document describes it; the placeholder keys never appear in the document."""
    from shop_gateway.bootstrap import create_http_app  # the app's openapi() uses this module
    from shop_gateway.settings import GatewaySettings

    settings = GatewaySettings(
        staff_api_key="documentation-staff-key",
        warehouse_api_key="documentation-warehouse-key",
        gateway_customer_token_keys="documentation-customer-token-key-0123456789",
    )
    return create_http_app(settings)


def main() -> int:
    sys.stdout.write(render(build_document(documented_app())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
