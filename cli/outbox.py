"""`outbox list` and `outbox requeue`: the mail queue as the operator sees and mends it.

After a long outage (about five hours of retries) a mail is failed for good;
`requeue` puts it back, due at once with its attempts reset, and audits it
(actor `cli:<the OS user>`). A failed code mail (activation, reset) is not
requeued: its body, and so its code, was removed when it failed, and the code
may have expired since; its customer asks for a new one in the chat (Aktiválás
→ Új kód kérése, or Elfelejtett jelszó). Output is for operators, in English.
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING

from cli.common import REFUSED, Subparsers, age, error, os_user, printable
from core.config import Settings

if TYPE_CHECKING:
    from core.db import Database
    from core.outbox import OutboxEntry, Requeued

LIST_LIMIT = 200
ERROR_WIDTH = 70
# Why a mail was not requeued, worded for the operator (core.outbox.RequeueRefusal).
REFUSALS = {
    "not_found": "no such mail",
    "not_failed": "it is {status}, not failed",
    "code_removed": "its code was removed when it failed (and may have expired); "
    "the customer should ask for a new code in the chat "
    "(Aktiválás → Új kód kérése, or Elfelejtett jelszó)",
}


def register(sub: Subparsers) -> None:
    """Add `outbox` and its actions to the subcommands."""
    p = sub.add_parser(
        "outbox",
        help="list queued and failed mail, requeue failed mail",
        description="The outgoing mail queue on PETKOMM_DB.",
    )
    o_sub = p.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")
    o = o_sub.add_parser(
        "list",
        help="mail waiting or failed, oldest first",
        description="Mail not yet sent (queued, perhaps retrying) and mail given up "
        f"(failed), oldest first, at most {LIST_LIMIT}: id, status, kind, attempts, age, "
        "recipient, last error.",
    )
    which = o.add_mutually_exclusive_group()
    which.add_argument("--failed", action="store_true", help="failed mail only")
    which.add_argument("--queued", action="store_true", help="queued mail only")
    o = o_sub.add_parser(
        "requeue",
        help="put failed mail back in the queue",
        description="Put failed mail back in the queue, due at once with its attempts "
        "reset (audited); the running service sends it at its next try (within a minute, "
        "or within the hour while it waits out an outage). A failed "
        "activation or reset mail is refused: its code was removed, so the customer "
        "asks for a new code.",
        epilog="Exit status: 0 when mail was requeued (with --all-failed, the code mails it "
        "leaves are explained); 1 when nothing was requeued, or a named mail could not be; "
        "2 for a usage error.",
    )
    o.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox ids (see `outbox list`)")
    o.add_argument("--all-failed", action="store_true", help="every failed mail")
    p.set_defaults(func=cmd_outbox)


async def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    """Check the arguments, then list or requeue.

    `requeue` exits 1 (`REFUSED`) when it requeued nothing (no failed mail, or only
    code mails), or when a mail named by its id could not be requeued; 0 otherwise.
    """
    from core.db import open_database

    if args.outbox_command == "requeue" and bool(args.ids) == bool(args.all_failed):
        if args.ids:
            return error("error: name the mail to requeue (ID …) or use --all-failed, not both")
        return error(
            "error: name the mail to requeue (ID …, see `outbox list`) or use --all-failed"
        )
    db = await open_database(settings.db_path, create=False)
    try:
        if args.outbox_command == "list":
            await _list(db, failed=args.failed, queued=args.queued)
            return 0
        return await _requeue(db, None if args.all_failed else args.ids)
    finally:
        await db.close()


async def _list(db: Database, *, failed: bool, queued: bool) -> None:
    from core import outbox

    statuses = ["failed"] if failed else ["queued"] if queued else ["queued", "failed"]
    entries, total = await outbox.list_mails(db, statuses, LIST_LIMIT)
    words = " and ".join(statuses)
    if not entries:
        print(f"No {words} mail.")
        return
    print(f"Outbox, {words}: {total} (oldest first)")
    print(f"{'ID':>6}  {'STATUS':<7} {'KIND':<11} {'TRIES':>5}  {'AGE':>4}  RECIPIENT / LAST ERROR")
    now = time.time()
    for entry in entries:
        print(_line(entry, now))
    if total > len(entries):
        print(f"… and {total - len(entries)} more")
    if any(e.status == "failed" and e.kind in outbox.CODE_KINDS for e in entries):
        print(
            "* a code mail: its code was removed; it cannot be requeued "
            "(the customer asks for a new code)"
        )


def _line(entry: OutboxEntry, now: float) -> str:
    from core.outbox import CODE_KINDS

    mark = "*" if entry.status == "failed" and entry.kind in CODE_KINDS else ""
    line = (
        f"{entry.id:>6}  {entry.status:<7} {entry.kind + mark:<11} {entry.attempts:>5}  "
        f"{age(now - entry.created_at):>4}  {printable(entry.recipient)}"
    )
    if entry.last_error:  # a server's words, which may quote the address
        reason = printable(" ".join(entry.last_error.split()))
        if len(reason) > ERROR_WIDTH:
            reason = reason[: ERROR_WIDTH - 1] + "…"
        line += f"  ({reason})"
    return line


async def _requeue(db: Database, ids: list[int] | None) -> int:
    from core import outbox
    from core.staff import cli_actor

    results = await outbox.requeue(db, ids, actor=cli_actor(os_user()), now=time.time())
    if not results:
        print("No failed mail: nothing requeued.")
        return REFUSED
    for result in results:
        print(_outcome(result))
    requeued = sum(r.ok for r in results)
    if not requeued:
        print("Nothing requeued.")
        return REFUSED
    print(
        f"{requeued} mail(s) queued again; the running service sends them at its next try "
        "(within a minute, or within the hour while it waits out an outage)."
    )
    # Every mail named must be requeued; --all-failed explains the code mails it leaves.
    named_refusals = ids is not None and any(not r.ok for r in results)
    return REFUSED if named_refusals else 0


def _outcome(result: Requeued) -> str:
    what = f"outbox {result.mail_id}" + (f" ({result.kind})" if result.kind else "")
    if result.refusal is None:
        return f"{what}: queued again"
    return f"{what}: not requeued: " + REFUSALS[result.refusal].format(status=result.status)
