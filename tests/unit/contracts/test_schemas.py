"""Schema snapshots: every registered type has one and still matches it; the checker flags what breaks."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from shop_contracts.envelope import Message
from shop_contracts.registry import ALL_MESSAGES
from shop_contracts.schemas import (
    compatibility_problems,
    current_schema,
    main,
    read_snapshot,
    snapshot_path,
)

REGENERATE = "run: .venv/bin/python -m shop_contracts.schemas write"


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda message: message.TYPE)
def test_every_registered_type_has_a_snapshot(message: type[Message]) -> None:
    assert read_snapshot(message.TYPE) is not None, f"no schema snapshot for {message.TYPE}; {REGENERATE}"


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda message: message.TYPE)
def test_every_registered_type_is_compatible_with_its_snapshot(message: type[Message]) -> None:
    snapshot = read_snapshot(message.TYPE)
    assert snapshot is not None, REGENERATE
    problems = compatibility_problems(snapshot, current_schema(message))
    assert not problems, (
        f"{message.TYPE} changed incompatibly; publish the change as a new type version instead:\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("message", ALL_MESSAGES, ids=lambda message: message.TYPE)
def test_every_snapshot_is_current(message: type[Message]) -> None:
    assert read_snapshot(message.TYPE) == current_schema(message), (
        f"{message.TYPE} changed compatibly but its snapshot is old; {REGENERATE}"
    )


def test_current_schema_is_deterministic() -> None:
    for message in ALL_MESSAGES:
        first, second = current_schema(message), current_schema(message)
        assert json.dumps(first) == json.dumps(second)
        assert list(first) == sorted(first)


def schema(
    properties: dict[str, Any], required: list[str], defs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A small hand-written message schema in the shape pydantic produces."""
    result: dict[str, Any] = {
        "additionalProperties": False,
        "properties": properties,
        "required": required,
        "title": "Thing",
        "type": "object",
    }
    if defs is not None:
        result["$defs"] = defs
    return result


STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
OPTIONAL_STRING: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
REASON: dict[str, Any] = {"enum": ["out_of_stock", "payment_declined"], "type": "string"}
BASE = schema({"order_id": STRING, "amount": INTEGER, "reason": REASON}, ["order_id", "amount", "reason"])


def changed(**properties: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    new["properties"].update(properties)
    return new


def test_an_identical_schema_is_compatible() -> None:
    assert compatibility_problems(BASE, copy.deepcopy(BASE)) == []


def test_a_new_optional_field_is_compatible() -> None:
    assert compatibility_problems(BASE, changed(note=OPTIONAL_STRING)) == []


def test_titles_descriptions_and_defaults_may_change() -> None:
    new = changed(amount={"type": "integer", "title": "Amount", "description": "In minor units."})
    new["description"] = "Now documented."
    assert compatibility_problems(BASE, new) == []


def test_a_removed_field_is_flagged() -> None:
    new = copy.deepcopy(BASE)
    del new["properties"]["amount"]
    new["required"].remove("amount")
    assert compatibility_problems(BASE, new) == ["amount: property removed"]


def test_a_changed_type_is_flagged() -> None:
    problems = compatibility_problems(BASE, changed(amount=STRING))
    assert any(problem.startswith("amount: type narrowed") for problem in problems), problems
    assert any(problem.startswith("amount: type widened") for problem in problems), problems


def test_a_narrowed_type_is_flagged() -> None:
    old = changed(note=OPTIONAL_STRING)
    problems = compatibility_problems(old, changed(note=STRING))
    assert len(problems) == 1
    assert problems[0].startswith("note: type narrowed")
    assert "null" in problems[0]


def test_a_changed_format_is_flagged() -> None:
    problems = compatibility_problems(BASE, changed(order_id={"type": "string", "format": "uuid"}))
    assert problems == ["order_id: format changed from None to 'uuid'"]


def test_a_new_required_field_is_flagged() -> None:
    new = changed(note=STRING)
    new["required"].append("note")
    assert compatibility_problems(BASE, new) == ["note: new required property"]


def test_an_optional_field_becoming_required_is_flagged() -> None:
    old = changed(note=OPTIONAL_STRING)
    new = changed(note=OPTIONAL_STRING)
    new["required"].append("note")
    assert compatibility_problems(old, new) == ["note: optional property became required"]


def test_a_lost_enum_value_is_flagged() -> None:
    problems = compatibility_problems(BASE, changed(reason={"enum": ["out_of_stock"], "type": "string"}))
    assert problems == ['reason: enum lost "payment_declined"']


def test_a_const_is_an_enum_of_one() -> None:
    old = changed(step={"const": "full", "type": "string"})
    assert compatibility_problems(old, changed(step={"enum": ["full"], "type": "string"})) == []
    problems = compatibility_problems(old, changed(step={"enum": ["deposit"], "type": "string"}))
    assert 'step: enum lost "full"' in problems


def test_a_tightened_constraint_is_flagged() -> None:
    problems = compatibility_problems(BASE, changed(amount={"type": "integer", "exclusiveMinimum": 0}))
    assert problems == ["amount: exclusiveMinimum tightened from None to 0"]


def test_changes_inside_defs_are_found_through_references() -> None:
    money = {
        "properties": {"amount": INTEGER, "currency": STRING},
        "required": ["amount", "currency"],
        "type": "object",
    }
    old = schema(
        {"prices": {"items": {"$ref": "#/$defs/Money"}, "type": "array"}, "total": {"$ref": "#/$defs/Money"}},
        ["prices", "total"],
        defs={"Money": money},
    )
    new = copy.deepcopy(old)
    del new["$defs"]["Money"]["properties"]["currency"]
    new["$defs"]["Money"]["required"] = ["amount"]
    assert compatibility_problems(old, new) == [
        "prices[].currency: property removed",
        "total.currency: property removed",
    ]


def test_a_definition_that_is_not_referenced_does_not_matter() -> None:
    old = schema({"order_id": STRING}, ["order_id"], defs={"Unused": {"type": "string"}})
    new = schema({"order_id": STRING}, ["order_id"], defs={})
    assert compatibility_problems(old, new) == []


def test_a_reference_to_a_missing_definition_is_flagged() -> None:
    old = schema({"total": {"$ref": "#/$defs/Money"}}, ["total"], defs={"Money": {"type": "object"}})
    new = schema({"total": {"$ref": "#/$defs/Money"}}, ["total"], defs={})
    assert compatibility_problems(old, new) == ["total: $ref '#/$defs/Money' points at nothing"]


def test_recursive_definitions_terminate() -> None:
    node = {
        "properties": {"children": {"items": {"$ref": "#/$defs/Node"}, "type": "array"}},
        "type": "object",
    }
    tree = schema({"root": {"$ref": "#/$defs/Node"}}, ["root"], defs={"Node": node})
    assert compatibility_problems(tree, copy.deepcopy(tree)) == []


def test_a_dict_value_type_change_is_flagged() -> None:
    old = changed(options={"additionalProperties": STRING, "type": "object"})
    problems = compatibility_problems(
        old, changed(options={"additionalProperties": INTEGER, "type": "object"})
    )
    assert problems
    assert all(problem.startswith("options{}: type") for problem in problems)


class TestCommandLine:
    def test_write_creates_missing_snapshots(self, tmp_path: Path) -> None:
        assert main(["check", "--directory", str(tmp_path)]) == 1
        assert main(["write", "--directory", str(tmp_path)]) == 0
        for message in ALL_MESSAGES:
            assert read_snapshot(message.TYPE, tmp_path) == current_schema(message)
        assert main(["check", "--directory", str(tmp_path)]) == 0

    def test_write_refuses_to_overwrite_an_incompatible_snapshot(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["write", "--directory", str(tmp_path)]) == 0
        path = snapshot_path("orders.order.placed.v1", tmp_path)
        snapshot = json.loads(path.read_text())
        # As if the code had dropped a field the snapshot still has.
        snapshot["properties"]["legacy_reference"] = STRING
        snapshot["required"].append("legacy_reference")
        before = json.dumps(snapshot, indent=2, sort_keys=True) + "\n"
        path.write_text(before)
        capsys.readouterr()

        assert main(["write", "--directory", str(tmp_path)]) == 1

        assert path.read_text() == before
        captured = capsys.readouterr()
        assert "legacy_reference: property removed" in captured.out
        assert "new type version" in captured.err

    def test_write_updates_a_snapshot_after_a_compatible_change(self, tmp_path: Path) -> None:
        assert main(["write", "--directory", str(tmp_path)]) == 0
        path = snapshot_path("payments.payment.succeeded.v1", tmp_path)
        snapshot = json.loads(path.read_text())
        # As if the code had just added the optional card_brand field.
        del snapshot["properties"]["card_brand"]
        path.write_text(json.dumps(snapshot))
        assert main(["check", "--directory", str(tmp_path)]) == 1

        assert main(["write", "--directory", str(tmp_path)]) == 0

        assert "card_brand" in json.loads(path.read_text())["properties"]
