"""Jinja2 templates for subjects, bodies and tasks.

Undefined variables are errors (StrictUndefined), and a lead's empty fields are left out of
its context rather than rendered as "None": "Quick question, {{ first_name }}" for a lead
without a first name fails at enrolment (the lead is not enrolled, and the reason is
counted) instead of greeting someone with "Quick question, ". `default` still works:
`{{ first_name | default("there") }}`.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, StrictUndefined, Template


@cache
def _environment(html: bool) -> Environment:
    return Environment(
        undefined=StrictUndefined, autoescape=html, keep_trailing_newline=True, cache_size=400
    )


@cache
def compile_template(text: str, html: bool = False) -> Template:
    return _environment(html).from_string(text)


def render(text: str, context: dict[str, Any], html: bool = False) -> str:
    return compile_template(text, html).render(context)
