"""`notices send`: a notice about an outage or planned works, to the subscribed customers
of a town (and street), from the command line — as staff do with /notice in the staff chat.

It shows the text as customers will read it and how many it reaches, then asks before it
goes (`--yes` answers for a script; without a terminal and without `--yes` nothing is
sent). The running service sends it, in quiet hours too. Audited as `cli:<the OS user>`.
Output is for operators, in English; the notice itself is the customers' Hungarian.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import sys
import time

from cli.common import REFUSED, Subparsers, error, os_user, printable
from core.config import Settings

_TAG = re.compile(r"<[^>]+>")


def register(sub: Subparsers) -> None:
    """Add `notices` and its action to the subcommands."""
    p = sub.add_parser(
        "notices",
        help="send an outage or planned-works notice to a town's (street's) customers",
        description="Notices about outages and planned works, sent in the customers' chats.",
    )
    n_sub = p.add_subparsers(dest="notices_command", required=True, metavar="ACTION")
    s = n_sub.add_parser(
        "send",
        help="preview a notice, then send it to the subscribed customers at an address",
        description="Show the notice as customers will read it and how many subscribed "
        "customers (🔔 Értesítések → Üzemzavar, tervezett munka) whose address is in TOWN "
        "(and on STREET) it reaches, then ask before it is sent. Accents, case and 'u.' or "
        "'utca' do not matter in TOWN and STREET. The running service sends it, also in "
        "quiet hours.",
        epilog="Exit status: 0 when the notice was queued; 1 when it was not (answered no, "
        "no terminal to ask and no --yes); 2 for a usage error.",
    )
    s.add_argument("--town", required=True, help="the town, e.g. Pétfürdő")
    s.add_argument("--street", default="", help="the street, e.g. 'Ady Endre utca'")
    s.add_argument("--text", required=True, help="the notice (Hungarian, as customers read it)")
    s.add_argument("--yes", action="store_true", help="send without asking")
    p.set_defaults(func=cmd_notices)


def _plain(text: str) -> str:
    return html.unescape(_TAG.sub("", text))


async def cmd_notices(args: argparse.Namespace, settings: Settings) -> int:
    """Preview, ask, then queue the notice."""
    from core import notifications
    from core.db import open_database

    town, street, text = args.town.strip(), args.street.strip(), args.text.strip()
    if not town or not text:
        return error("error: a notice needs --town and --text")
    db = await open_database(settings.db_path, create=False)
    try:
        actor = f"cli:{os_user()}"
        draft = await notifications.draft_outage(db, town, street, text, actor, time.time())
        where = town + (f", {street}" if street else "")
        print(f"Notice for {printable(where)}:")
        print()
        for line in _plain(draft.preview).splitlines():
            print(f"  {printable(line)}")
        print()
        print(
            f"Recipients: {draft.customers} customers ({draft.users} Telegram users) who asked"
            " for outage notices."
        )
        if not args.yes:
            if not sys.stdin.isatty():
                await notifications.cancel_outage(db, draft.id, time.time())
                return error("Not sent: no terminal to ask; add --yes to send it.", REFUSED)
            question = f"Send it to {draft.customers} customers? [y/N] "
            answer = (await asyncio.to_thread(input, question)).strip().lower()
            if answer not in ("y", "yes", "i", "igen"):
                await notifications.cancel_outage(db, draft.id, time.time())
                print("Not sent.")
                return REFUSED
        count = await notifications.send_outage(db, draft.id, actor, time.time())
        print(f"Queued for {count} customers; the running service sends it.")
        return 0
    finally:
        await db.close()
