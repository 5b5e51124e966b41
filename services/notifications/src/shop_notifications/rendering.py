"""Turning an email draft into its subject, plain text and HTML with the Jinja2 templates of its locale, and adding
the preference links to an email as it goes out."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

import jinja2

from shop_notifications.delivery import OutgoingEmail, RenderedEmail
from shop_notifications.domain import Category, Locale
from shop_notifications.emails import EmailDraft, preferences_footer
from shop_notifications.links import PreferenceLinks

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
        auto_reload=False,  # the templates ship with the code: compiled once, never checked for changes again
    )


def render_email(draft: EmailDraft) -> RenderedEmail:
    """Render ``draft`` in its recipient's locale: ``<locale>/<template>.subject.j2`` and ``.txt.j2``."""
    environment = _environment()
    values = dict(draft.values)
    subject = environment.get_template(f"{draft.locale}/{draft.template}.subject.j2").render(values)
    text = environment.get_template(f"{draft.locale}/{draft.template}.txt.j2").render(values)
    subject = " ".join(subject.split())  # one header line, whatever the template's whitespace
    return RenderedEmail(subject=subject, text=text, html=render_html(draft.locale, subject, text))


def render_html(locale: Locale, subject: str, text: str) -> str:
    """The HTML alternative of a plain-text email: its paragraphs, web addresses as links."""
    return _environment().get_template("email.html.j2").render(locale=locale, subject=subject, text=text)


def with_preference_links(email: OutgoingEmail, category: Category, links: PreferenceLinks) -> OutgoingEmail:
    """``email`` as it goes out in a category a customer may turn off: ending with where to unsubscribe and choose,
    and naming the one-click link for ``List-Unsubscribe``. Added as it is sent, so the tokens are never stored."""
    footer = preferences_footer(
        locale=email.locale,
        category=category,
        unsubscribe_url=links.unsubscribe_page_url,
        preferences_url=links.preferences_url,
    )
    text = f"{email.text.rstrip()}\n\n--\n{footer}"
    return replace(
        email,
        text=text,
        html=render_html(email.locale, email.subject, text) if email.html is not None else None,
        one_click_url=links.one_click_url,
    )
