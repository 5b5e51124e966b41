"""Turning an email draft into its subject, plain text and HTML with the Jinja2 templates of its locale."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from shop_notifications.delivery import RenderedEmail
from shop_notifications.emails import EmailDraft

TEMPLATES_PATH = Path(__file__).parent / "templates"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_PATH),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_email(draft: EmailDraft) -> RenderedEmail:
    """Render ``draft`` in its recipient's locale: ``<locale>/<template>.subject.j2`` and ``.txt.j2``."""
    environment = _environment()
    values = dict(draft.values)
    subject = environment.get_template(f"{draft.locale}/{draft.template}.subject.j2").render(values)
    text = environment.get_template(f"{draft.locale}/{draft.template}.txt.j2").render(values)
    subject = " ".join(subject.split())  # one header line, whatever the template's whitespace
    html = environment.get_template("email.html.j2").render(locale=draft.locale, subject=subject, text=text)
    return RenderedEmail(subject=subject, text=text, html=html)
