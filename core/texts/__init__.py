"""Every Hungarian text a customer or clerk reads, as jinja2 templates.

Templates live beside this module: `chat/…` for Telegram (HTML parse mode;
autoescaped, so user-supplied values are always escaped), `mail/…` for mail
(`.txt` plain, `.html` autoescaped). Filters format money and dates the
Hungarian way, so a template never formats by hand, and choose the article
before a value (`az`, `article`), so no text says "a(z)".

Every render also sees `facts` (core.facts.Facts): the company's phone numbers,
payee, deadlines. The service puts its own in place for each update it handles
(`telling`); a render outside one gets the defaults unless given `facts=`.

Short labels — button captions and the command list's descriptions — are one
catalogue, `chat/labels.json`, in sections by who reads them: `customer`
(buttons in a customer's chat), `staff` (buttons in the staff chat) and
`commands` (Telegram's command menu, in the order it is shown).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from importlib import resources
from typing import Any, Literal

import jinja2

from core.facts import Facts
from core.formats import (
    format_amount,
    format_balance,
    format_date,
    format_invoice_number,
    format_month,
    format_number,
    hungarian_article,
    with_article,
)

LabelSection = Literal["customer", "staff", "commands"]

_FACTS: ContextVar[Facts] = ContextVar("petkomm_facts", default=Facts())  # noqa: B039 - frozen


@contextmanager
def telling(facts: Facts) -> Iterator[None]:
    """Within this block (this task and the tasks it starts), texts tell these facts."""
    token = _FACTS.set(facts)
    try:
        yield
    finally:
        _FACTS.reset(token)


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
    env.filters["balance"] = format_balance
    env.filters["num"] = format_number
    env.filters["date"] = format_date
    env.filters["month"] = format_month  # "2026-05" -> "2026. május"
    env.filters["invoice"] = format_invoice_number
    env.filters["due"] = _due
    # `{{ email | az }}` writes "az anna@…" or "a kovacs@…"; `{{ username | article }}` only
    # the article, for a value set in bold after it. Never "a(z)".
    env.filters["az"] = with_article
    env.filters["article"] = hungarian_article
    return env


def _due(summary: Any) -> str:
    """`summary | due`: the case of a ticket's deadline (core.staff.due), for the staff texts."""
    # Imported here: core.staff imports core.outbox, which imports this module.
    from core.staff import due

    return due(summary).value


def render(name: str, /, **context: Any) -> str:
    """Render `chat/x.txt`, `mail/x.txt` or `mail/x.html`; HTML-escaping where it matters.

    Chat texts are sent with Telegram's HTML parse mode and mail `.html` bodies
    are HTML, so both escape every value; plain mail text does not.
    """
    escape = name.startswith("chat/") or name.endswith(".html")
    context.setdefault("facts", _FACTS.get())
    return _environment(escape).get_template(name).render(**context).strip()


@cache
def _catalogue() -> dict[str, dict[str, str]]:
    text = resources.files("core").joinpath("texts/chat/labels.json").read_text("utf-8")
    catalogue: dict[str, dict[str, str]] = json.loads(text)
    return catalogue


def labels(section: LabelSection) -> Mapping[str, str]:
    """One section of the label catalogue: purpose -> Hungarian label, in the file's order."""
    return _catalogue()[section]
