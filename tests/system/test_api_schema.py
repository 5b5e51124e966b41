"""Schemathesis against the running gateway's OpenAPI: no 5xx, and every answer as the schema documents it.

Calls go to the shop the system tests start, with the staff key (its admin calls reach the services; warehouse
calls answer 403, also documented). Each operation gets valid (positive) and invalid (negative) cases, a limited
number of each, so this runs in well under a minute. Schemathesis' Python API drives Hypothesis directly (its
pytest plugin's ``parametrize`` does not work with this pytest).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scripts.stack import Stack
from tests.system.shop import STAFF

pytestmark = pytest.mark.system

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

EXAMPLES_PER_MODE = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_served_document_is_valid_openapi_and_the_committed_one(stack: Stack) -> None:
    # Schemathesis resolves references lazily, only for what it calls: a document referring to a schema it never
    # defines passed it. A validator reads every reference, and client generators read the committed copy.
    served = requests.get(f"{stack.config.gateway_url}/openapi.json", timeout=10).json()
    validate(served)
    assert served == json.loads(DOCUMENT.read_text(encoding="utf-8")), (
        "docs/openapi.json differs from what the gateway serves; regenerate it: make contracts"
    )


def test_the_gateway_answers_as_its_openapi_says(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    base_url = stack.config.gateway_url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", wait_for_schema=10)
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: dict[str, str] = {}

    with requests.Session() as http:

        def fuzz(operation: Any, mode: GenerationMode, label: str) -> None:
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                response = case.call_and_validate(
                    base_url=base_url, session=http, headers=dict(STAFF), checks=CHECKS, timeout=10
                )
                cases[label] += 1
                statuses[response.status_code] += 1

            run()

        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails the test here
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                label = f"{operation.label} ({mode.value})"
                try:
                    fuzz(operation, mode, label)
                except Unsatisfiable:
                    continue  # nothing to make invalid (an operation without parameters has no negative cases)
                except BaseException as error:
                    failures[label] = str(error)[:3000]

    with capsys.disabled():
        print(
            f"\nschemathesis: {sum(cases.values())} cases over {len(cases)} operation/mode pairs; "
            f"statuses {dict(sorted(statuses.items()))}; failures {len(failures)}",
            file=sys.stderr,
        )
    assert not failures, "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())
    assert len(cases) >= 20
