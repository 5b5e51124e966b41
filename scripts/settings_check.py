"""Checks every process's settings before the shop starts, and says each problem in one line.

``scripts.stack`` runs it before it migrates or starts anything: a process that would stop at start-up with a
pydantic traceback in its log is instead named here, by the environment variable, what is wrong with it and an
example of a value that works, e.g.::

    SHOP_STAFF_API_KEY: String should have at least 16 characters; e.g. SHOP_STAFF_API_KEY=$(openssl rand -hex 16)

The lines do not repeat the values that were given: they may be secrets or URLs with passwords.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock

from pydantic import SecretStr, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticUndefined
from pydantic_settings import BaseSettings, SettingsError

from scripts.settings_doc import SERVICES, env_prefix, type_name
from shop_gateway.settings import GatewaySettings

SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (*SERVICES, GatewaySettings)
"""Every settings class a process of the shop reads at start-up."""

RANDOM_KEY = "$(openssl rand -hex 16)"
RANDOM_LONG_KEY = "$(openssl rand -hex 32)"
EXAMPLES: Mapping[str, str] = {
    # secrets: a fresh random value, never a default someone could copy
    "staff_api_key": RANDOM_KEY,
    "warehouse_api_key": RANDOM_KEY,
    "support_api_key": RANDOM_KEY,
    "access_token_secret": RANDOM_LONG_KEY,
    "gateway_customer_token_keys": RANDOM_LONG_KEY,
    "psp_webhook_secrets": RANDOM_KEY,
    "warehouse_signing_secrets": RANDOM_KEY,
    "smtp_password": RANDOM_KEY,
    # optional settings without a default
    "smtp_username": "shop-mailer",
    "otlp_endpoint": "http://127.0.0.1:4318",
    "gateway_otlp_endpoint": "http://127.0.0.1:4318",
    "span_file": "var/spans/service.jsonl",
    "gateway_span_file": "var/spans/gateway.jsonl",
    "test_clock_file": "var/clock-offset",
    "gateway_test_clock_file": "var/clock-offset",
    "psp_sandbox_webhook_url": "http://127.0.0.1:8000/v1/webhooks/psp",
    "gateway_trusted_proxies": "10.0.0.0/8,192.168.1.10",
    "low_stock_default_threshold": "5",
}
"""Example values where a field's default is missing, empty or a secret."""

FIELD_IN_SETTINGS_ERROR = re.compile(r'field "(\w+)"')


def problems(environment: Mapping[str, str]) -> list[str]:
    """One line per setting that would stop a process, as the processes would read ``environment``."""
    lines: list[str] = []
    for settings_class in SETTINGS_CLASSES:
        lines += class_problems(settings_class, environment)
    return lines


def class_problems(settings_class: type[BaseSettings], environment: Mapping[str, str]) -> list[str]:
    """The problems of one settings class read from ``environment`` (and nothing else of this process's)."""
    # pydantic-settings reads os.environ only; for the moment of the check it holds exactly what the process gets.
    with mock.patch.dict(os.environ, environment, clear=True):
        try:
            settings_class()
        except ValidationError as invalid:
            return [problem_line(settings_class, error) for error in invalid.errors()]
        except SettingsError as unreadable:
            return [unreadable_line(settings_class, unreadable)]
    return []


def problem_line(settings_class: type[BaseSettings], error: ErrorDetails) -> str:
    """``VARIABLE: what is wrong; e.g. VARIABLE=value`` for one validation error."""
    message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    location = error["loc"]
    if not location or str(location[0]) not in settings_class.model_fields:
        # a check across fields: name every field its message mentions
        named = [name for name in settings_class.model_fields if re.search(rf"\b{name}\b", message)]
        variables = [variable(settings_class, name) for name in named] or [f"{env_prefix(settings_class)}*"]
        examples = " ".join(
            f"{variable(settings_class, name)}={example(settings_class, name)}" for name in named
        )
        return f"{', '.join(variables)}: {message}" + (f"; e.g. {examples}" if examples else "")
    name = str(location[0])
    where = f" (at {'.'.join(str(part) for part in location[1:])})" if len(location) > 1 else ""
    return f"{variable(settings_class, name)}{where}: {message}; e.g. {assignment(settings_class, name)}"


def unreadable_line(settings_class: type[BaseSettings], unreadable: SettingsError) -> str:
    """A value pydantic-settings could not even decode (a list or mapping that is not JSON)."""
    found = FIELD_IN_SETTINGS_ERROR.search(str(unreadable))
    if found is None or found.group(1) not in settings_class.model_fields:
        return f"{env_prefix(settings_class)}*: {unreadable}"
    name = found.group(1)
    return f"{variable(settings_class, name)}: not valid JSON; e.g. {assignment(settings_class, name)}"


def variable(settings_class: type[BaseSettings], name: str) -> str:
    """The environment variable a field is read from (the class's prefix and the field's name, upper-cased)."""
    return f"{env_prefix(settings_class)}{name.upper()}"


def assignment(settings_class: type[BaseSettings], name: str) -> str:
    return f"{variable(settings_class, name)}={example(settings_class, name)}"


def example(settings_class: type[BaseSettings], name: str) -> str:
    """A value that works, as it is written in a shell: the default where there is a plain one."""
    if name in EXAMPLES:
        return EXAMPLES[name]
    field = settings_class.model_fields[name]
    value = default_value(field)
    if value is None or isinstance(value, SecretStr) or value == "":
        return f"<{type_name(field.annotation)}>"
    return shlex.quote(environment_text(field, value))


def default_value(field: FieldInfo) -> Any:
    if field.default is PydanticUndefined and field.default_factory is None:
        return None
    return field.get_default(call_default_factory=True)


def environment_text(field: FieldInfo, value: object) -> str:
    """A value as the environment carries it: plain for strings and numbers, JSON for lists and mappings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    adapter: TypeAdapter[object] = TypeAdapter(field.annotation or object)
    return json.dumps(adapter.dump_python(value, mode="json"), ensure_ascii=False)


def every_field() -> Iterator[tuple[type[BaseSettings], str]]:
    """Each settings class with each of its fields (the tests check every example)."""
    for settings_class in SETTINGS_CLASSES:
        for name in settings_class.model_fields:
            yield settings_class, name
