"""Written copies for the account's owner: what they asked for in the chat, by mail.

A data-change request typed in the chat (Ügyféladatok → Módosítás kérése) opens
a ticket; its owner also gets a copy at the account's registered address, with
what they asked for and the ticket's number, so that they have it in writing.
(The password notices are made with the change itself: `sessions`, `codes`.)
"""

from __future__ import annotations

from core import journal
from core.accounts.codes import CodeMailer
from core.accounts.rules import local_time
from storage import accounts as store
from storage.db import Database

CHANGE_REQUEST_COPY = "change_request_copy"  # the mail's template, outbox kind and effect


async def mail_change_request(
    db: Database,
    mailer: CodeMailer,
    account: store.Account,
    *,
    ticket_number: str,
    text: str,
    once: str | None = None,
    now: float,
) -> None:
    """Queue the copy of a data-change request (ticket `ticket_number`, the customer's own
    `text`) to the account's address; once for the message `once`."""
    async with db.transaction() as tx:
        if await journal.done(tx, once, CHANGE_REQUEST_COPY) is not None:
            return
        await mailer.notice(
            tx,
            account,
            CHANGE_REQUEST_COPY,
            now,
            ticket_number=ticket_number,
            number=ticket_number,
            request=text,
            when=local_time(now),
        )
        await journal.record(tx, once, CHANGE_REQUEST_COPY, now)
