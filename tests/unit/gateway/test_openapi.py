"""docs/openapi.json is what the gateway serves, is valid OpenAPI 3.1, and is what client generators need: every
reference defined, stable operation ids, summaries, request examples the API accepts, errors as problems."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from pydantic import BaseModel

from shop_gateway.openapi import PROBLEM_REF, REGENERATE, build_document, documented_app, render
from shop_runtime.problems import PROBLEM_JSON
from tests.unit.gateway.test_app import ORDER_ID, build, checkout

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return documented_app()


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return build_document(app)


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in references(value)]
    return []


def schema_validator(document: dict[str, Any], schema: dict[str, Any]) -> OAS31Validator:
    """A validator for one schema of the document, its references resolved within the document."""
    return OAS31Validator({**schema, "components": document["components"]})


def test_the_committed_document_is_current(document: dict[str, Any]) -> None:
    assert DOCUMENT.exists(), f"docs/openapi.json is missing; generate it: {REGENERATE}"
    assert DOCUMENT.read_text(encoding="utf-8") == render(document), (
        f"docs/openapi.json is out of date with the gateway's routes; regenerate it: {REGENERATE}"
    )


def test_the_gateway_serves_the_same_document(app: FastAPI, document: dict[str, Any]) -> None:
    assert app.openapi() == document


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)  # raises, naming the first thing wrong
    assert document["openapi"].startswith("3.1")


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    found = references(document)
    assert PROBLEM_REF in found
    for reference in set(found):
        assert reference.startswith("#/"), reference
        target: Any = document
        for part in reference[2:].split("/"):
            assert isinstance(target, dict), reference
            assert part in target, f"{reference} points at nothing"
            target = target[part]


def test_every_operation_has_a_unique_deliberate_id_and_a_summary(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for method, path, operation in operations(document):
        operation_id = operation["operationId"]
        # camelCase from the handler's name: never FastAPI's ``name_path_method`` nor a path fragment
        assert re.fullmatch(r"[a-z][a-zA-Z0-9]*", operation_id), (method, path, operation_id)
        summary = operation.get("summary", "")
        assert summary, (method, path)
        assert len(summary) <= 60, (method, path, summary)
        # FastAPI's fallback is the handler's name in title case; every route says what it does instead
        assert summary != re.sub(r"([A-Z])", r" \1", operation_id).title(), (method, path, summary)
    by_call = {(method, path): operation["operationId"] for method, path, operation in operations(document)}
    assert by_call[("post", "/v1/orders")] == "placeOrder"
    assert by_call[("get", "/v1/orders/{order_id}")] == "getOrder"


def test_every_request_body_has_an_example_its_schema_accepts(document: dict[str, Any]) -> None:
    bodies = 0
    for method, path, operation in operations(document):
        if "requestBody" not in operation:
            continue
        for media in operation["requestBody"]["content"].values():
            assert "example" in media, f"{method.upper()} {path}: no example with the request body"
            errors = list(schema_validator(document, media["schema"]).iter_errors(media["example"]))
            assert not errors, f"{method.upper()} {path}: {errors[0].message}"
            bodies += 1
    assert bodies >= 25


def test_every_body_model_accepts_its_own_example(app: FastAPI) -> None:
    models: set[type[BaseModel]] = set()
    for route in iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, APIRoute) and original.body_field is not None:
            annotation = original.body_field.field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                models.add(annotation)
    assert len(models) >= 25
    for model in models:
        examples = model.model_json_schema().get("examples")
        assert examples, f"{model.__name__} names no example"
        model.model_validate(examples[0])  # the body validators too, not only the JSON schema


def test_error_answers_are_problem_json_with_the_problem_schema(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if status[:1] not in ("4", "5"):
                continue
            assert response["content"] == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}, (
                method,
                path,
                status,
            )
            if status in ("429", "503"):
                assert "Retry-After" in response["headers"], (method, path, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_the_problem_schema_describes_what_the_gateway_answers(document: dict[str, Any]) -> None:
    problem = schema_validator(document, {"$ref": PROBLEM_REF})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build()), base_url="http://gw") as client:
        invalid = await client.post(
            "/v1/orders",
            json=checkout(lines=[{"sku": "TEE-1", "quantity": 0}]),
            headers={"Idempotency-Key": "k-1"},
        )
        unauthorised = await client.get("/v1/admin/inbounds?sku=TEE-1")
        card_data = await client.post(
            "/v1/orders", json=checkout(cvv="123"), headers={"Idempotency-Key": "k-2"}
        )
        passed_on = await client.get(f"/v1/orders/{ORDER_ID}", headers={"Authorization": "Bearer other"})
    answers = [invalid, unauthorised, card_data, passed_on]
    assert invalid.json()["errors"] == [
        {"field": "lines[0].quantity", "message": "Input should be greater than or equal to 1"}
    ]
    for answer in answers:
        assert answer.headers["content-type"] == PROBLEM_JSON
        errors = list(problem.iter_errors(answer.json()))
        assert not errors, f"{answer.status_code} {answer.json()}: {errors[0].message}"
    assert [answer.status_code for answer in answers] == [422, 401, 422, 404]
