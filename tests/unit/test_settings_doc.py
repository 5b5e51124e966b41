"""docs/settings.md is what the generator produces from today's settings classes, and names what operators set."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from scripts.settings_doc import render, table

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
REGENERATE = ".venv/bin/python -m scripts.settings_doc > docs/settings.md (or make docs)"


def test_the_committed_document_is_current() -> None:
    assert DOCUMENT.exists(), f"docs/settings.md is missing; generate it: {REGENERATE}"
    assert DOCUMENT.read_text(encoding="utf-8") == render(), (
        f"docs/settings.md is out of date with the settings classes; regenerate it: {REGENERATE}"
    )


def test_variables_carry_each_class_env_prefix() -> None:
    document = render()
    for variable in (
        "`SHOP_<SERVICE>_DATABASE_POOL_SIZE`",
        "`SHOP_ORDERS_TAX_RATES`",
        "`SHOP_PAYMENTS_PSP_WEBHOOK_SECRETS`",
        "`SHOP_NOTIFICATIONS_SMTP_HOST`",
        "`SHOP_STAFF_API_KEY`",
        "`SHOP_GATEWAY_PORT`",
        "`SHOP_CATALOG_URL`",
    ):
        assert f"| {variable} |" in document


def test_a_field_without_a_description_shows_an_empty_cell() -> None:
    class ExampleSettings(BaseSettings):
        model_config = SettingsConfigDict(env_prefix="SHOP_EXAMPLE_")

        described: int = Field(default=1, description="Said | once.")
        bare: str | None = None

    assert table(ExampleSettings, prefix="SHOP_EXAMPLE_").splitlines()[2:] == [
        "| `SHOP_EXAMPLE_DESCRIBED` | `int` | `1` | Said \\| once. |",
        "| `SHOP_EXAMPLE_BARE` | `str \\| None` | unset |  |",
    ]
