"""Canned answers (issue 17, point 2): answer templates the operator edits, filled for a ticket.

Each is a file `NAME.txt` (lower-case letters, digits, `_` or `-`), a jinja2
template in Hungarian that addresses the customer formally (Ön). The shipped
ones are in core/texts/canned; with PETKOMM_CANNED_DIR the operator's own folder
replaces them (copy the shipped files there and edit them). A first line
`{# … #}` describes the answer for the clerk. The fields, from the ticket and
the customer as the billing data has them now:

- `name` (None when the customer is not known), `customer_id`, `ticket_number`;
- `debt` (what the unpaid invoices still ask for, in forints; None: not known),
  `balance`, `next_due` (the earliest due date ahead, ISO, or None), `unpaid`
  (the invoices: `invoice_no`, `outstanding`, `due_date`);
- `reference`: the közlemény for paying (one invoice, or the balance);
- `facts`: the payment settings and contacts (`facts.payee_name`,
  `facts.account_number`, `facts.support_phone`, …);

and the filters of every text (`ft`, `date`, `invoice`, `az`, …). A template is
rendered in jinja2's sandbox: an operator's file cannot reach into the program.

The clerk sees the filled text before it goes and may change it: the staff
chat keeps it as a draft (`fill_draft`, `send_draft`), the command line shows it
and asks. Both show the same cautions above it (`Caution`):

- `no_payee`: the answer asked for the payment details, but the payee settings
  (PETKOMM_PAYEE_NAME, PETKOMM_PAYEE_IBAN) are not set where it was filled, so
  the transfer block was left out;
- `other_chat` / `other_address`: the answer tells the customer's debt or
  invoices, and the ticket's chat is not logged in to that customer now (or the
  ticket's address is not one the customer gave): whoever reads it there may not
  be the customer. The chat's ✅ Elküldöm confirms it; the command line will not
  send it with --yes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from core import journal
from core.desk import DeskError
from core.facts import Facts
from core.formats import (
    format_amount,
    format_balance,
    format_date,
    format_invoice_number,
    format_number,
    hungarian_article,
    with_article,
)
from core.outbox import HasMailFrom
from core.staff import Answered, answer, answer_in, clean_text, find, way_back
from core.statement import statement
from core.tickets import ticket_number
from storage import audit
from storage import desk as store
from storage.db import Database, Queryable

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
# The fields that tell where a customer stands: a canned answer using one is personal.
PERSONAL_FIELDS = frozenset({"debt", "balance", "next_due", "unpaid", "reference"})
# What of the facts gives the payment details (the transfer block).
PAYMENT_FACTS = frozenset(
    {"can_be_paid", "payee_name", "payee_iban", "iban", "account_number", "payee_bic"}
)
# The settings the transfer block needs (core.facts.Facts.can_be_paid).
PAYEE_SETTINGS = (("PETKOMM_PAYEE_NAME", "payee_name"), ("PETKOMM_PAYEE_IBAN", "payee_iban"))
_DESCRIPTION = re.compile(r"^\s*\{#\s*(.*?)\s*#\}")

Draft = store.Draft


@dataclass(frozen=True)
class Canned:
    """A canned answer as the clerk picks it: its name and what it is for."""

    name: str
    description: str


@dataclass(frozen=True)
class Caution:
    """Something the clerk should know before a filled canned answer goes (`kind`:
    no_payee, other_chat or other_address; `missing`: the settings not set)."""

    NO_PAYEE = "no_payee"
    OTHER_CHAT = "other_chat"
    OTHER_ADDRESS = "other_address"

    kind: str
    missing: tuple[str, ...] = ()

    @property
    def personal(self) -> bool:
        """The answer may reach someone who is not the customer."""
        return self.kind in (self.OTHER_CHAT, self.OTHER_ADDRESS)


@dataclass(frozen=True)
class Filled:
    """A canned answer filled for a ticket, and the cautions to show with it."""

    text: str
    cautions: tuple[Caution, ...] = ()

    @property
    def personal_caution(self) -> bool:
        return any(c.personal for c in self.cautions)


@dataclass(frozen=True)
class Preview:
    """A draft for the staff chat, with its cautions."""

    draft: Draft
    cautions: tuple[Caution, ...] = ()


class _WatchedFacts:
    """The facts as a template reads them, noting which it asked for (the payee's?)."""

    def __init__(self, facts: Facts, asked: set[str]) -> None:
        self._facts = facts
        self._asked = asked

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        self._asked.add(name)
        return getattr(self._facts, name)


def _environment(folder: Path | None) -> jinja2.Environment:
    loader: jinja2.BaseLoader = (
        jinja2.FileSystemLoader(folder)
        if folder is not None
        else jinja2.PackageLoader("core", "texts/canned")
    )
    env = SandboxedEnvironment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ft=format_amount,
        balance=format_balance,
        num=format_number,
        date=format_date,
        invoice=format_invoice_number,
        az=with_article,
        article=hungarian_article,
    )
    return env


def available(folder: Path | None) -> list[Canned]:
    """The canned answers, by name."""
    env = _environment(folder)
    found = []
    for template in sorted(env.list_templates(extensions=["txt"])):
        name = template.removesuffix(".txt")
        if "/" in name or not _NAME.match(name):
            continue
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, template)
        match = _DESCRIPTION.match(source)
        found.append(Canned(name, match[1] if match else ""))
    return found


def valid_name(name: str) -> bool:
    """Whether `name` could name a canned answer (a file name we read, never a path)."""
    return bool(_NAME.match(name))


async def fields(db: Queryable, number: int, facts: Facts, now: float) -> dict[str, Any]:
    """The values a canned answer may use, for the ticket `number`."""
    ticket = await find(db, number)
    values: dict[str, Any] = {
        "ticket_number": ticket_number(ticket.id),
        "customer_id": ticket.customer_id,
        "name": None,
        "debt": None,
        "balance": None,
        "next_due": None,
        "unpaid": [],
        "reference": None,
        "facts": facts,
    }
    if ticket.customer_id:
        now_stands = await statement(db, ticket.customer_id, now)
        unpaid = now_stands.unpaid
        values.update(
            name=now_stands.customer.name if now_stands.customer else None,
            debt=now_stands.owed,
            balance=now_stands.balance,
            next_due=now_stands.next_due,
            unpaid=unpaid,
            reference=facts.reference(
                ticket.customer_id, unpaid[0].invoice_no if len(unpaid) == 1 else None
            ),
        )
    return values


async def fill(
    db: Queryable, folder: Path | None, number: int, name: str, facts: Facts, now: float
) -> Filled:
    """The canned answer `name` filled for the ticket, with its cautions (DeskError
    NO_CANNED or BROKEN_CANNED)."""
    label = ticket_number(number)
    if not valid_name(name):
        raise DeskError(DeskError.NO_CANNED, label, detail=name)
    asked: set[str] = set()
    values = await fields(db, number, facts, now)
    values["facts"] = _WatchedFacts(facts, asked)
    env = _environment(folder)
    try:
        template = env.get_template(f"{name}.txt")
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, f"{name}.txt")
        used = jinja2.meta.find_undeclared_variables(env.parse(source))
    except jinja2.TemplateNotFound:
        raise DeskError(DeskError.NO_CANNED, label, detail=name) from None
    except jinja2.TemplateSyntaxError as exc:
        raise DeskError(DeskError.BROKEN_CANNED, label, detail=f"{name}: {exc}") from None
    try:
        text = template.render(**values)
    except (jinja2.TemplateError, TypeError, ValueError) as exc:
        raise DeskError(DeskError.BROKEN_CANNED, label, detail=f"{name}: {exc}") from None
    cautions = []
    missing = tuple(var for var, field in PAYEE_SETTINGS if getattr(facts, field) is None)
    if asked & PAYMENT_FACTS and missing:
        cautions.append(Caution(Caution.NO_PAYEE, missing))
    if used & PERSONAL_FIELDS:
        reader = await _unverified_reader(db, number)
        if reader is not None:
            cautions.append(Caution(reader))
    filled = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return Filled(filled, tuple(cautions))


async def _unverified_reader(db: Queryable, number: int) -> str | None:
    """Whether the answer may be read by someone who is not the ticket's customer: the
    chat is not logged in to the customer now (OTHER_CHAT), or the mail goes to an
    address the customer never gave (OTHER_ADDRESS); None when it goes to them."""
    ticket = await find(db, number)
    if not ticket.customer_id:
        return None  # no customer, no debt in the answer
    if await way_back(db, ticket) == "mail":  # where the answer goes (core.staff.answer)
        known = ticket.email and await store.address_of_customer(
            db, ticket.customer_id, ticket.email
        )
        return None if known else Caution.OTHER_ADDRESS
    if ticket.telegram_user_id is not None and await store.chat_logged_in_as(
        db, ticket.telegram_user_id, ticket.customer_id
    ):
        return None
    return Caution.OTHER_CHAT


async def fill_draft(
    db: Database,
    folder: Path | None,
    number: int,
    name: str,
    facts: Facts,
    *,
    actor: str,
    now: float,
) -> Preview:
    """Fill a canned answer and keep it as a draft the clerk sends (or drops) after seeing
    it with its cautions."""
    filled = await fill(db, folder, number, name, facts, now)
    async with db.transaction() as tx:
        ticket = await find(tx, number)
        draft_id = await store.add_draft(tx, ticket.id, name, actor, filled.text, now)
        made = await store.draft(tx, draft_id)
    assert made is not None
    return Preview(made, filled.cautions)


async def draft(db: Queryable, draft_id: int) -> Draft:
    """A draft by its id (DeskError NO_DRAFT when there is none)."""
    found = await store.draft(db, draft_id)
    if found is None:
        raise DeskError(DeskError.NO_DRAFT, str(draft_id))
    return found


async def draft_posted(db: Queryable, draft_id: int, chat_id: int, message_id: int) -> None:
    """The draft is shown in this staff-chat message: a reply to it sends the changed text."""
    await store.draft_posted(db, draft_id, chat_id, message_id)


async def draft_of_post(db: Queryable, chat_id: int, message_id: int) -> Draft | None:
    """The draft a staff-chat message shows, if it shows one."""
    return await store.draft_of_post(db, chat_id, message_id)


def _used_error(found: Draft) -> DeskError:
    """What a clerk hears who comes to a used-up draft: who sent it, or who dropped it."""
    kind = DeskError.DRAFT_SENT if found.sent_at is not None else DeskError.DRAFT_DROPPED
    return DeskError(kind, ticket_number(found.ticket_id), detail=found.used_by)


async def send_draft(
    db: Database,
    settings: HasMailFrom,
    draft_id: int,
    *,
    text: str | None = None,
    actor: str,
    by: str,
    once: str | None = None,
    now: float,
) -> tuple[Draft, Answered]:
    """Send the draft's text as the clerk saw it (or `text`, the clerk's changed one).

    A draft is used up by whichever comes first: this, or Mégse. Anything later on
    it is refused (DeskError DRAFT_SENT or DRAFT_DROPPED, naming `by` who used it),
    in the same transaction as the answer: two clerks at once, one answer goes. The
    message `once`, handled again, is told where its answer went."""
    async with db.transaction() as tx:
        found = await draft(tx, draft_id)
        body = found.text if text is None else text
        if once is None or await journal.done(tx, once, "answered") is None:
            if not await store.use_draft(tx, draft_id, "sent", by, now):
                raise _used_error(await draft(tx, draft_id))
            edited = text is not None and clean_text(text) != found.text
            await audit.record(
                tx,
                now,
                actor,
                "canned_sent",
                ticket_number(found.ticket_id),
                f"{found.name} (draft {draft_id}{', edited' if edited else ''})",
            )
        result = await answer_in(
            tx, settings, found.ticket_id, body, actor=actor, once=once, now=now
        )
        return await draft(tx, draft_id), result


async def drop_draft(db: Database, draft_id: int, *, by: str, now: float) -> Draft:
    """Mégse: the draft is not sent, and nothing sends it later (DeskError DRAFT_SENT when
    it went already, DRAFT_DROPPED when it was dropped)."""
    async with db.transaction() as tx:
        await draft(tx, draft_id)
        if not await store.use_draft(tx, draft_id, "dropped", by, now):
            raise _used_error(await draft(tx, draft_id))
        return await draft(tx, draft_id)


async def answer_with(
    db: Database,
    settings: HasMailFrom,
    number: int,
    name: str,
    text: str,
    *,
    edited: bool,
    actor: str,
    now: float,
) -> Answered:
    """Send a canned answer the clerk has seen (and perhaps changed) from the command line."""
    result = await answer(db, settings, number, text, actor=actor, now=now)
    details = f"{name}{', edited' if edited else ''}"
    await audit.record(db, now, actor, "canned_sent", result.number, details)
    return result
