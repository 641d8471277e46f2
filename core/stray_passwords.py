"""A password typed where nobody asked for one: recognised so the chat can delete it.

Older customers type their password into the chat when they think the bot wants
it: right after a report, in the menu, as a reply. Such a text must not stay on
screen, and must never be stored (a report's follow-up, a ticket). Two tests,
both for a single token only (a password has no spaces; a sentence is not one):

- `shaped_like_password`: at least `passwords.MIN_LENGTH` characters, no
  spaces, and not one of the values customers type on purpose (an e-mail
  address, a customer ID, an invoice or ticket number, one of our codes, a
  link, a phone number).
- `is_own_password`: a logged-in customer's text that matches their own hash.
  Deleting a text only when it is the password would answer a guess (someone
  at an unlocked phone trying words), so at most `OWN_CHECKS` such comparisons
  a day are made per account, counted atomically, and the chat's note reads the
  same whether it was the password or not. Counting is a write, and the text is
  on its way to a page ("Tartozás" typed is a single token of eight letters): when
  another process holds the write lock (the daily import) the comparison is
  skipped rather than the page kept waiting (`CHECK_PATIENCE`).
- `looks_like_password`: for a guest, or a text that is not their password,
  the shape plus letters mixed with digits or signs (a plain word is a word).
"""

from __future__ import annotations

import logging
import re

from core import passwords, throttle, tickets
from core.accounts import looks_like_code
from core.formats import parse_customer_id, parse_invoice_number
from storage.accounts import Account
from storage.db import Database, DatabaseBusy

log = logging.getLogger(f"petkomm.{__name__}")

# Comparisons of stray texts with a logged-in customer's hash, per account and day.
OWN_CHECKS = throttle.Rule("stray-password:account", 10, throttle.DAY, throttle.DAY)
# How long counting a comparison waits for another process's write lock: the customer
# typed a page's word or a sentence far more often than their password, and a page is a
# read that must not wait for an import (the customer trial: "Tartozás" typed waited
# 10-15 s behind a held lock, and every later page of the chat behind it).
CHECK_PATIENCE = 0.5

_LINK = re.compile(r"^(https?://|www\.)|\.(hu|com|eu|org|net)(/|$)", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d()/-]+$")
_SIGNS = frozenset("!#$%&*?_=+@§~^<>")


def _typed_value(token: str) -> bool:
    """A value customers type on purpose: never taken for a password."""
    if "@" in token or looks_like_code(token) or _LINK.search(token) or _PHONE.match(token):
        return True
    if tickets.parse_ticket_number(token) is not None:
        return True
    for parse in (parse_customer_id, parse_invoice_number):
        try:
            parse(token, lenient=True)
        except ValueError:
            continue
        return True
    return False


def shaped_like_password(text: str) -> bool:
    """One token as long as a password may be, and not a value typed on purpose."""
    token = text.strip()
    if not passwords.MIN_LENGTH <= len(token) <= passwords.MAX_LENGTH:
        return False
    if any(c.isspace() for c in token):
        return False
    return not _typed_value(token)


def looks_like_password(text: str) -> bool:
    """Shaped like a password, with letters mixed with digits or signs ("Rozsaviz1958")."""
    token = text.strip()
    if not shaped_like_password(token):
        return False
    letters = any(c.isalpha() for c in token)
    return letters and (any(c.isdigit() for c in token) or any(c in _SIGNS for c in token))


async def is_own_password(db: Database, account: Account | None, text: str, now: float) -> bool:
    """Whether a single-token text is the logged-in customer's own password (False once
    the account's comparisons of the day are used up: `OWN_CHECKS`)."""
    if account is None or not shaped_like_password(text):
        return False
    try:
        with db.patience(CHECK_PATIENCE, skippable=True):
            async with db.transaction() as tx:
                if await throttle.use(tx, OWN_CHECKS, account.id, now) is not None:
                    return False
    except DatabaseBusy:
        # Not compared uncounted (the limit is what makes this no password oracle); a
        # password with digits or signs is still caught by its shape (`looks_like_password`).
        log.info("database busy: a stray text of account %s was not compared", account.id)
        return False
    return await passwords.verify_password(account.password_hash, text.strip())
