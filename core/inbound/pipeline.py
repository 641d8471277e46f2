"""The two stages of an incoming mail: keep the raw bytes, then take them through the chain.

First the raw mail is kept as 'received' under its Message-ID
(`stored_message_id` reads only the header block; the IMAP reader stores a
whole fetched batch in one transaction, `store_mail` does it for one mail).
Then `process_stored` takes a stored mail through the chain
(`chain.handle_mail`) in one transaction. Bad mail never raises: an
unreadable one (or one a bug chokes on) is quarantined with its reason.
`process_mail` does both stages for one mail's bytes.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace

from core.inbound.chain import handle_mail
from core.inbound.context import InboundContext, InboundResult, Outcome
from core.mail import MailParseError, ParsedMail, is_stand_in, parse_mail, stored_message_id
from storage import inbound as store
from storage.db import Database

log = logging.getLogger(f"petkomm.{__name__}")


async def store_mail(
    db: Database,
    raw: bytes,
    *,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    now: float,
) -> int | None:
    """Keep one raw mail as 'received'; its row id, or None when its Message-ID is known.

    The IMAP reader stores whole batches at once (`storage.inbound.insert_received`);
    this is the same for one mail.
    """
    mails = [(stored_message_id(raw), uid, raw, None)]
    async with db.transaction() as tx:
        added = await store.insert_received(
            tx, mails, folder=folder, uidvalidity=uidvalidity, now=now
        )
        if not added:
            return None
        return int(await tx.fetch_value("SELECT last_insert_rowid()"))


async def store_batch(
    db: Database,
    mails: list[tuple[int, bytes, float | None]],
    *,
    folder: str,
    uidvalidity: int,
    now: float,
) -> int:
    """The IMAP reader's fetched batch, (UID, raw, arrival) each, kept as 'received' with the
    folder's cursor moved past it, in one transaction; returns how many were new."""
    rows = [(stored_message_id(raw), uid, raw, arrived) for uid, raw, arrived in mails]
    newest = max(uid for uid, _raw, _arrived in mails)
    async with db.transaction() as tx:
        added = await store.insert_received(
            tx, rows, folder=folder, uidvalidity=uidvalidity, now=now
        )
        await store.advance(tx, folder, uidvalidity, newest, now)
    return added


async def folder_cursor(db: Database, folder: str) -> store.InboxState | None:
    """Where the reader is in `folder` (its UIDVALIDITY and last UID), if it read it before."""
    return await store.get_state(db, folder)


async def restart_folder(db: Database, folder: str, uidvalidity: int, now: float) -> None:
    """Read `folder` again from the start under a (new) UIDVALIDITY; mails seen before are
    recognised by their Message-ID."""
    await store.reset_state(db, folder, uidvalidity, now)


async def waiting_mails(db: Database, limit: int) -> list[int]:
    """Ids of stored mails waiting for the chain, oldest first."""
    return await store.received_ids(db, limit)


async def start_attempt(db: Database, mail_id: int) -> int | None:
    """Count a start on a waiting mail (committed before the work); its number, or None
    when the mail is not waiting any more."""
    return await store.start_attempt(db, mail_id)


async def process_stored(
    db: Database, mail_id: int, *, ctx: InboundContext, now: float
) -> InboundResult:
    """Take one stored 'received' mail through the chain, in one transaction.

    The ticket, its messages, the answers queued in the outbox, the throttle
    counts and the mail's final status commit together or not at all. Never
    raises for a bad mail: an unreadable one (or one a bug chokes on) is
    quarantined with its reason, so one mail cannot block the queue. Only
    database failures propagate, and then the mail is still 'received': the
    caller tries again later. A mail that is not waiting (any more) is left
    alone (outcome "duplicate").
    """
    row = await store.get(db, mail_id)
    if row is None or row.status != store.RECEIVED:
        message_id = row.message_id if row else ""
        return InboundResult(Outcome.DUPLICATE, message_id, reason="already processed")
    where = f"{row.folder} uid={row.uid}"
    try:
        try:
            mail = _parse_stored(row.raw, row.message_id)
        except MailParseError as error:
            result = await _set_aside(db, mail_id, row.message_id, f"unreadable: {error}")
            log.warning("mail %s quarantined: %s", where, result.reason)
            return result
        async with db.transaction() as tx:
            if await store.status_of(tx, mail_id) != store.RECEIVED:  # done meanwhile
                return InboundResult(Outcome.DUPLICATE, row.message_id, reason="already processed")
            result = await handle_mail(tx, mail, mail_id, ctx, now, row.arrived_at)
    except sqlite3.Error:
        raise  # the database itself failed: the mail waits, the caller tries again
    except Exception as error:
        log.exception("mail %s %s could not be processed", where, row.message_id)
        reason = f"processing failed: {type(error).__name__}"
        result = await _set_aside(db, mail_id, row.message_id, reason)
    _log_result(where, result)
    return result


def _log_result(where: str, result: InboundResult) -> None:
    """One line per processed mail: where it was, what became of it."""
    log.info(
        "mail %s %s: %s%s%s%s",
        where,
        result.message_id,
        result.outcome,
        f" {result.ticket_number}" if result.ticket_number else "",
        f" answers={','.join(result.answers)}" if result.answers else "",
        f" ({result.reason})" if result.reason else "",
    )


def _parse_stored(raw: bytes, stored_id: str) -> ParsedMail:
    """The stored mail parsed, under the id it was stored by."""
    mail = parse_mail(raw)
    if mail.message_id != stored_id:  # 8-bit in the header: the stored id rules
        mail = replace(mail, message_id=stored_id, message_id_missing=is_stand_in(stored_id))
    return mail


async def process_mail(
    db: Database,
    raw: bytes,
    *,
    ctx: InboundContext,
    folder: str,
    uidvalidity: int | None,
    uid: int | None,
    now: float,
) -> InboundResult:
    """Store one raw mail and take it through the chain now (`store_mail` + `process_stored`).

    For callers holding one mail's bytes; the IMAP reader stores batches and
    leaves the processing to `mailer.processor`. A mail seen before does
    nothing (outcome "duplicate").
    """
    mail_id = await store_mail(db, raw, folder=folder, uidvalidity=uidvalidity, uid=uid, now=now)
    if mail_id is None:
        return InboundResult(
            Outcome.DUPLICATE, stored_message_id(raw), reason="Message-ID seen before"
        )
    return await process_stored(db, mail_id, ctx=ctx, now=now)


# --- setting a mail aside ------------------------------------------------------------------


async def quarantine_stored(db: Database, mail_id: int, reason: str) -> InboundResult:
    """Set a waiting mail aside with `reason` (e.g. after it failed too often)."""
    message_id = await store.message_id_of(db, mail_id)
    result = await _set_aside(db, mail_id, str(message_id), reason)
    log.warning("mail #%d %s quarantined: %s", mail_id, result.message_id, reason)
    return result


async def _set_aside(db: Database, mail_id: int, message_id: str, reason: str) -> InboundResult:
    """Quarantine a waiting mail (kept raw, with its reason)."""
    async with db.transaction() as tx:
        await store.set_outcome(
            tx, mail_id, status=store.QUARANTINED, reason=reason, ticket_id=None
        )
    return InboundResult(Outcome.QUARANTINED, message_id, mail_id, reason=reason)
