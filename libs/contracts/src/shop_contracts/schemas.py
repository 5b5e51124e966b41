"""JSON Schema snapshots of every message type, and the check that a schema changed compatibly.

Messages already published (in queues, outboxes, parking queues) must still be accepted, and what a
producer sends must still mean what its consumers expect. So within one type version only new optional
properties may appear; anything else needs a new type version.

    python -m shop_contracts.schemas write   # snapshot new types, update compatibly changed ones
    python -m shop_contracts.schemas check   # fail on a missing, stale or incompatible snapshot
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop_contracts.envelope import Message
from shop_contracts.registry import ALL_MESSAGES

SNAPSHOT_DIRECTORY = Path(__file__).resolve().parents[2] / "schemas"
"""``libs/contracts/schemas``: one ``<message type>.json`` per registered type, kept in the repository."""

Schema = dict[str, Any]

# Constraints that reject more values as they grow (lower bounds) or shrink (upper bounds).
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")


def current_schema(message_class: type[Message]) -> Schema:
    """The JSON schema pydantic validates ``message_class`` with, keys sorted so it compares and diffs stably."""
    schema = message_class.model_json_schema(mode="validation")
    normalized: Schema = json.loads(json.dumps(schema, sort_keys=True))
    return normalized


def render(schema: Schema) -> str:
    """How a snapshot is written: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def snapshot_path(type_name: str, directory: Path = SNAPSHOT_DIRECTORY) -> Path:
    return directory / f"{type_name}.json"


def read_snapshot(type_name: str, directory: Path = SNAPSHOT_DIRECTORY) -> Schema | None:
    path = snapshot_path(type_name, directory)
    if not path.exists():
        return None
    snapshot: Schema = json.loads(path.read_text(encoding="utf-8"))
    return snapshot


def compatibility_problems(old: Schema, new: Schema) -> list[str]:
    """What in ``new`` breaks producers or consumers written against ``old``; empty when compatible.

    Reported: a property removed, a property that became required or stopped being required, a new
    required property, a type narrowed or widened, a format changed, enum values lost or added, a
    constraint tightened. ``$ref``s are followed, so a change inside ``$defs`` is reported where it is
    used. Descriptions, titles and defaults are free to change; so is adding an optional property.
    """
    comparison = _Comparison(old_root=old, new_root=new)
    comparison.compare(old, new, path="")
    return comparison.problems


@dataclass
class _Comparison:
    old_root: Schema
    new_root: Schema
    problems: list[str] = field(default_factory=list)
    _comparing: set[tuple[str, str]] = field(default_factory=set)

    def report(self, path: str, problem: str) -> None:
        self.problems.append(f"{path or '(message)'}: {problem}")

    def compare(self, old: Schema, new: Schema, *, path: str) -> None:
        old_ref, new_ref = old.get("$ref"), new.get("$ref")
        if not (isinstance(old_ref, str) and isinstance(new_ref, str)):
            self._compare_resolved(old, new, path=path)
            return
        # A recursive model refers to itself: stop where a pair of definitions is already being compared.
        # Each place a definition is used is still reported, so the problem names where it bites.
        if (old_ref, new_ref) in self._comparing:
            return
        self._comparing.add((old_ref, new_ref))
        try:
            self._compare_resolved(old, new, path=path)
        finally:
            self._comparing.discard((old_ref, new_ref))

    def _compare_resolved(self, old: Schema, new: Schema, *, path: str) -> None:
        old_branches = self._branches(old, self.old_root, path)
        new_branches = self._branches(new, self.new_root, path)
        if old_branches is None or new_branches is None:
            return
        lost = sorted(old_branches.keys() - new_branches.keys())
        gained = sorted(new_branches.keys() - old_branches.keys())
        if lost:
            self.report(
                path,
                f"type narrowed: {_kinds(old_branches)} became {_kinds(new_branches)}; "
                f"values of type {', '.join(lost)} are no longer accepted",
            )
        if gained:
            self.report(
                path,
                f"type widened: {_kinds(old_branches)} became {_kinds(new_branches)}; "
                f"consumers do not expect {', '.join(gained)}",
            )
        for kind in sorted(old_branches.keys() & new_branches.keys()):
            self._compare_branch(old_branches[kind], new_branches[kind], path=path)

    def _branches(self, schema: Schema, root: Schema, path: str) -> dict[str, Schema] | None:
        """The alternatives a schema accepts, by JSON type: ``str | None`` gives ``string`` and ``null``."""
        resolved = self._resolve(schema, root, path)
        if resolved is None:
            return None
        alternatives = resolved.get("anyOf") or resolved.get("oneOf")
        if isinstance(alternatives, list):
            branches: dict[str, Schema] = {}
            for alternative in alternatives:
                nested = self._branches(alternative, root, path)
                if nested is None:
                    return None
                branches.update(nested)
            return branches
        declared = resolved.get("type")
        if declared is None and "const" in resolved:
            declared = _json_type(resolved["const"])
        if declared is None:
            return {"any": resolved}
        if isinstance(declared, list):
            return {str(kind): {**resolved, "type": kind} for kind in declared}
        return {str(declared): resolved}

    def _resolve(self, schema: Schema, root: Schema, path: str) -> Schema | None:
        seen: set[str] = set()
        while isinstance(reference := schema.get("$ref"), str):
            if reference in seen or not reference.startswith("#/"):
                self.report(path, f"cannot follow $ref {reference!r}")
                return None
            seen.add(reference)
            target: Any = root
            for part in reference[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or part not in target:
                    self.report(path, f"$ref {reference!r} points at nothing")
                    return None
                target = target[part]
            siblings = {key: value for key, value in schema.items() if key != "$ref"}
            schema = {**target, **siblings}
        return schema

    def _compare_branch(self, old: Schema, new: Schema, *, path: str) -> None:
        if old.get("format") != new.get("format"):
            self.report(path, f"format changed from {old.get('format')!r} to {new.get('format')!r}")
        self._compare_enum(old, new, path=path)
        self._compare_constraints(old, new, path=path)
        if "properties" in old or "properties" in new:
            self._compare_properties(old, new, path=path)
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(old_items, dict) and isinstance(new_items, dict):
            self.compare(old_items, new_items, path=f"{path}[]")
        old_values, new_values = old.get("additionalProperties"), new.get("additionalProperties")
        if isinstance(old_values, dict) and isinstance(new_values, dict):
            self.compare(old_values, new_values, path=f"{path}{{}}")

    def _compare_enum(self, old: Schema, new: Schema, *, path: str) -> None:
        old_values, new_values = _enum(old), _enum(new)
        if old_values is None and new_values is None:
            return
        if old_values is None:
            self.report(path, f"now restricted to {_listing(new_values or {})}")
            return
        if new_values is None:
            self.report(path, f"no longer restricted to {_listing(old_values)}; consumers expect only those")
            return
        lost = {key: value for key, value in old_values.items() if key not in new_values}
        gained = {key: value for key, value in new_values.items() if key not in old_values}
        if lost:
            self.report(path, f"enum lost {_listing(lost)}")
        if gained:
            self.report(path, f"enum gained {_listing(gained)}; consumers of this version reject them")

    def _compare_constraints(self, old: Schema, new: Schema, *, path: str) -> None:
        for keyword in _LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                self.report(path, f"{keyword} tightened from {old.get(keyword)!r} to {new[keyword]!r}")
        for keyword in _UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                self.report(path, f"{keyword} tightened from {old.get(keyword)!r} to {new[keyword]!r}")
        for keyword in ("pattern", "multipleOf"):
            if keyword in new and new[keyword] != old.get(keyword):
                self.report(path, f"{keyword} changed from {old.get(keyword)!r} to {new[keyword]!r}")
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            self.report(path, "items must now be unique")

    def _compare_properties(self, old: Schema, new: Schema, *, path: str) -> None:
        old_properties: dict[str, Schema] = old.get("properties", {})
        new_properties: dict[str, Schema] = new.get("properties", {})
        old_required = set(old.get("required", ()))
        new_required = set(new.get("required", ()))
        for name in old_properties:
            where = f"{path}.{name}" if path else name
            if name not in new_properties:
                self.report(where, "property removed")
                continue
            if name in new_required and name not in old_required:
                self.report(where, "optional property became required")
            elif name in old_required and name not in new_required:
                self.report(where, "required property became optional; consumers rely on it being there")
            self.compare(old_properties[name], new_properties[name], path=where)
        for name in new_properties.keys() - old_properties.keys():
            if name in new_required:
                self.report(f"{path}.{name}" if path else name, "new required property")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _enum(schema: Schema) -> dict[str, Any] | None:
    """Allowed values keyed by their JSON text (values may be unhashable); ``const`` is an enum of one."""
    if "enum" in schema:
        return {json.dumps(value, sort_keys=True): value for value in schema["enum"]}
    if "const" in schema:
        return {json.dumps(schema["const"], sort_keys=True): schema["const"]}
    return None


def _listing(values: dict[str, Any]) -> str:
    return ", ".join(sorted(values))


def _kinds(branches: dict[str, Schema]) -> str:
    return " | ".join(sorted(branches))


@dataclass(frozen=True)
class SnapshotOutcome:
    type_name: str
    action: str  # "created", "updated", "unchanged", "missing", "stale" or "incompatible"
    problems: tuple[str, ...] = ()


def snapshot_outcomes(
    messages: Iterable[type[Message]] = ALL_MESSAGES,
    *,
    directory: Path = SNAPSHOT_DIRECTORY,
    write: bool,
) -> list[SnapshotOutcome]:
    """Compare every message with its snapshot; with ``write``, create missing and update compatible ones.

    An incompatible snapshot is never overwritten: the change needs a new type version instead.
    """
    outcomes = []
    for message in messages:
        schema = current_schema(message)
        snapshot = read_snapshot(message.TYPE, directory)
        path = snapshot_path(message.TYPE, directory)
        if snapshot is None:
            if write:
                directory.mkdir(parents=True, exist_ok=True)
                path.write_text(render(schema), encoding="utf-8")
            outcomes.append(SnapshotOutcome(message.TYPE, "created" if write else "missing"))
            continue
        problems = compatibility_problems(snapshot, schema)
        if problems:
            outcomes.append(SnapshotOutcome(message.TYPE, "incompatible", tuple(problems)))
        elif snapshot == schema:
            outcomes.append(SnapshotOutcome(message.TYPE, "unchanged"))
        else:
            if write:
                path.write_text(render(schema), encoding="utf-8")
            outcomes.append(SnapshotOutcome(message.TYPE, "updated" if write else "stale"))
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shop_contracts.schemas",
        description="Keep the JSON Schema snapshots of the message contracts in step with the code.",
    )
    parser.add_argument(
        "command",
        choices=["write", "check"],
        help="write: snapshot new types and update compatible changes; check: only report",
    )
    parser.add_argument("--directory", type=Path, default=SNAPSHOT_DIRECTORY, help="where snapshots live")
    arguments = parser.parse_args(argv)
    outcomes = snapshot_outcomes(directory=arguments.directory, write=arguments.command == "write")
    failed = False
    for outcome in outcomes:
        if outcome.action == "unchanged":
            continue
        print(f"{outcome.action:>12}  {outcome.type_name}")
        for problem in outcome.problems:
            print(f"{'':>14}{problem}")
        failed = failed or outcome.action in ("incompatible", "missing", "stale")
    if any(outcome.action == "incompatible" for outcome in outcomes):
        print(
            "\nrefusing to overwrite incompatible snapshots: keep the old class and publish the change "
            "as a new type version (…v2) with its own class",
            file=sys.stderr,
        )
    elif failed:
        print("\nsnapshots are out of date: run python -m shop_contracts.schemas write", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
