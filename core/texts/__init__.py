"""Every Hungarian text a customer or clerk reads, as jinja2 templates.

Templates live beside this module: `chat/…` for Telegram (HTML parse mode;
autoescaped, so user-supplied values are always escaped), `mail/…` for mail
(`.txt` plain, `.html` autoescaped). Filters format money and dates the
Hungarian way, so a template never formats by hand.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from core.formats import format_amount, format_date, format_invoice_number, format_number


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("core", "texts"),
        autoescape=autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["ft"] = format_amount
    env.filters["ft4"] = lambda amount: format_amount(amount, group_four=True)
    env.filters["num"] = format_number
    env.filters["date"] = format_date
    env.filters["invoice"] = format_invoice_number
    env.filters["due"] = _due
    return env


def _due(summary: Any) -> str:
    """`s | due`: the case of a ticket's deadline (core.staff.due), for the staff texts."""
    # Imported here: core.staff imports core.outbox, which imports this module.
    from core.staff import due

    return due(summary).value


def render(name: str, /, **context: Any) -> str:
    """Render `chat/x.txt`, `mail/x.txt` or `mail/x.html`; HTML-escaping where it matters.

    Chat texts are sent with Telegram's HTML parse mode and mail `.html` bodies
    are HTML, so both escape every value; plain mail text does not.
    """
    escape = name.startswith("chat/") or name.endswith(".html")
    return _environment(escape).get_template(name).render(**context).strip()
