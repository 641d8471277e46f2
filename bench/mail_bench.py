"""Benchmark of the IMAP reader against a bare imap-tools fetch (run on demand).

    .venv/bin/python bench/mail_bench.py [--messages N] [--new K] [--rounds R]

Starts a throwaway Dovecot (tests/dovecot.py; needs `dovecot-imapd`, see
scripts/install-test-deps) and writes N customer mails straight into mailbox
files (Dovecot indexes them before anything is timed). Then:

1. floor       - a bare imap-tools `fetch` of the whole folder (bulk, no marking
                 seen): what reading alone costs;
2. first sync  - `InboxReader.poll_once` over the same folder into a fresh
                 database, each mail through the whole domain chain (parse,
                 dedupe, thread, ticket, acknowledgement queued), one
                 transaction per mail, leaving the mail in place; and again on a
                 copy of the folder, moving each mail to `Processed`;
   For where the time goes, two parts are timed alone: the domain chain over
   the same bytes held in memory (no IMAP), and the reader with the domain
   chain replaced by a stub (IMAP, batching and the per-mail cursor only);
3. incremental - K new mails delivered into a folder already holding 1 000 and
                 N old (synced) mails, and the next poll timed (median of R
                 rounds); an empty poll is timed too.

Prints the figures and a table of targets with PASS/MISS; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from imap_tools import MailBoxUnencrypted  # noqa: E402

from core.accounts import CodeMailer  # noqa: E402
from core.config import Settings  # noqa: E402
from core.inbound import InboundContext, InboundResult, process_mail  # noqa: E402
from mailer import inbox as inbox_module  # noqa: E402
from mailer.inbox import BATCH_SIZE, InboxReader  # noqa: E402
from storage.db import open_database  # noqa: E402
from tests.dovecot import Dovecot, ImapUser, start_dovecot, stop_dovecot  # noqa: E402

TARGET_SYNC_RATIO = 0.5  # the first sync reaches at least half the floor's rate
TARGET_FLAT = 1.5  # the poll over the big folder takes at most 1.5x the small one's

_TOPICS = [
    "Elfelejtettem a jelszavamat, nem tudok belépni.",
    "Hol látom a számláimat és az egyenlegemet?",
    "Elköltöztem, az új címem: Pécs, Rákóczi út 12.",
    "Regisztráltam, de nem jött meg a levél az aktiváló kóddal.",
]
_WORDS = (
    "víz nyomás csőtörés óra mérőóra számla befizetés hátralék utca ház lakás hiba szivárgás "
    "csatorna dugulás hétfő kedd reggel este szomszéd kérem köszönöm sürgős holnap"
).split()


def customer_mail(n: int, rng: random.Random) -> bytes:
    """A realistic new report of about 1 KB from its own sender."""
    topic = _TOPICS[n % len(_TOPICS)] if n % 5 == 0 else ""
    words = " ".join(rng.choice(_WORDS) for _ in range(120))
    body = f"Tisztelt Ügyfélszolgálat!\n\n{topic}\n{words}\n\nÜdvözlettel:\nÜgyfél {n}\n"
    head = (
        f"From: =?utf-8?q?=C3=9Cgyf=C3=A9l_{n}?= <ugyfel{n}@example.hu>\n"
        "To: petkomm@petkomm.hu\n"
        f"Subject: =?utf-8?q?Bejelent=C3=A9s_{n}?=\n"
        "Date: Mon, 10 Jun 2024 08:00:00 +0200\n"
        f"Message-ID: <bench.{n}.{rng.getrandbits(32)}@example.hu>\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
    )
    return (head + body).replace("\n", "\r\n").encode("utf-8")


def fill(server: Dovecot, user: ImapUser, first: int, count: int, seed: int) -> None:
    rng = random.Random(seed)
    server.fill_maildir(user.name, (customer_mail(n, rng) for n in range(first, first + count)))
    server.folder_uids(user.name)  # Dovecot indexes the new files now, before any timing


def floor(user: ImapUser) -> tuple[float, int]:
    """A bare imap-tools fetch of the whole INBOX: (seconds, messages)."""
    started = time.perf_counter()
    count = 0
    with MailBoxUnencrypted(user.host, user.port).login(user.name, user.password) as mailbox:
        for message in mailbox.fetch("ALL", mark_seen=False, bulk=BATCH_SIZE):
            count += bool(message.uid)
    return time.perf_counter() - started, count


async def new_reader(user: ImapUser, workdir: Path, move: bool, name: str) -> InboxReader:
    """A reader of `user`'s INBOX into a fresh database `<name>.sqlite3`."""
    settings = Settings(user.env)
    db = await open_database(workdir / f"{name}.sqlite3")
    ctx = InboundContext.from_settings(settings, code_mailer=CodeMailer(settings, lambda: "bot"))
    return InboxReader(
        db, settings, ctx=ctx, processed_folder="Processed" if move else None, use_idle=False
    )


async def domain_alone(user: ImapUser, workdir: Path, raws: list[bytes]) -> tuple[float, int]:
    """`process_mail` over bytes in memory into a fresh database: (seconds, mails)."""
    settings = Settings(user.env)
    db = await open_database(workdir / "domain-alone.sqlite3")
    ctx = InboundContext.from_settings(settings, code_mailer=CodeMailer(settings, lambda: "bot"))
    try:
        started = time.perf_counter()
        for uid, raw in enumerate(raws, start=1):
            await process_mail(
                db, raw, ctx=ctx, folder="INBOX", uidvalidity=1, uid=uid, now=time.time()
            )
        return time.perf_counter() - started, len(raws)
    finally:
        await db.close()


async def reader_alone(user: ImapUser, workdir: Path) -> tuple[float, int]:
    """The reader with a stub instead of the domain chain: IMAP, batches and cursor only."""

    async def stub(db, raw, *, ctx, folder, uidvalidity, uid, now):  # noqa: ANN001
        return InboundResult("new", f"<{uid}@stub>")

    reader = await new_reader(user, workdir, move=False, name="reader-alone")
    real = inbox_module.process_mail
    inbox_module.process_mail = stub  # type: ignore[assignment]
    try:
        return await timed_poll(reader)
    finally:
        inbox_module.process_mail = real
        await reader.close()
        await reader.db.close()


async def timed_poll(reader: InboxReader) -> tuple[float, int]:
    started = time.perf_counter()
    count = await reader.poll_once()
    return time.perf_counter() - started, count


async def incremental(
    server: Dovecot, folders: list[tuple[ImapUser, InboxReader]], new: int, rounds: int
) -> list[tuple[float, float]]:
    """Per folder: median seconds of a poll finding `new` fresh mails, and of an empty poll.

    The folders take turns round by round, so a busy moment of the machine
    falls on all of them alike.
    """
    rng = random.Random(3)
    busy: list[list[float]] = [[] for _ in folders]
    empty: list[list[float]] = [[] for _ in folders]
    for round_no in range(rounds):
        for index, (user, reader) in enumerate(folders):
            first = 10_000_000 + (round_no * len(folders) + index) * new
            server.deliver_many(user.name, [customer_mail(first + i, rng) for i in range(new)])
            seconds, count = await timed_poll(reader)
            assert count == new, (count, new)
            busy[index].append(seconds)
            seconds, count = await timed_poll(reader)
            assert count == 0
            empty[index].append(seconds)
    return [(statistics.median(b), statistics.median(e)) for b, e in zip(busy, empty, strict=True)]


async def bench(args: argparse.Namespace) -> int:
    server = start_dovecot()
    workdir = Path(tempfile.mkdtemp(prefix="petkomm-mail-bench-"))
    readers: list[InboxReader] = []
    try:
        big, copy, small = server.add_user(), server.add_user(), server.add_user()
        started = time.perf_counter()
        fill(server, big, 0, args.messages, seed=1)
        fill(server, copy, 0, args.messages, seed=1)
        fill(server, small, 0, 1000, seed=2)
        print(
            f"filled mailboxes: {args.messages} + {args.messages} + 1000 mails in "
            f"{time.perf_counter() - started:.1f} s"
        )

        floor_s, floor_n = await asyncio.to_thread(floor, big)
        print(
            f"floor       imap-tools fetch    {floor_n:>6} mails {floor_s:7.2f} s "
            f"{floor_n / floor_s:8.0f} msg/s"
        )

        part_s, part_n = await reader_alone(big, workdir)
        part_ratio = (part_n / part_s) / (floor_n / floor_s)
        print(
            f"part        reader, stub domain {part_n:>6} mails {part_s:7.2f} s "
            f"{part_n / part_s:8.0f} msg/s  ({part_ratio:.2f} of the floor)"
        )
        rng = random.Random(1)
        raws = [customer_mail(n, rng) for n in range(args.messages)]
        dom_s, dom_n = await domain_alone(big, workdir, raws)
        print(
            f"part        domain chain alone  {dom_n:>6} mails {dom_s:7.2f} s "
            f"{dom_n / dom_s:8.0f} msg/s"
        )

        reader = await new_reader(big, workdir, move=False, name="sync")
        readers.append(reader)
        sync_s, sync_n = await timed_poll(reader)
        print(
            f"first sync  reader, no move     {sync_n:>6} mails {sync_s:7.2f} s "
            f"{sync_n / sync_s:8.0f} msg/s"
        )

        mover = await new_reader(copy, workdir, move=True, name="sync-move")
        readers.append(mover)
        move_s, move_n = await timed_poll(mover)
        print(
            f"first sync  reader + move       {move_n:>6} mails {move_s:7.2f} s "
            f"{move_n / move_s:8.0f} msg/s"
        )

        small_reader = await new_reader(small, workdir, move=False, name="small")
        readers.append(small_reader)
        await timed_poll(small_reader)
        [(small_busy, small_empty), (big_busy, big_empty)] = await incremental(
            server, [(small, small_reader), (big, reader)], args.new, args.rounds
        )
        print(
            f"incremental {args.new} new, 1000 old      {small_busy * 1000:8.1f} ms"
            f"   empty poll {small_empty * 1000:6.1f} ms"
        )
        print(
            f"incremental {args.new} new, {args.messages} old    {big_busy * 1000:8.1f} ms"
            f"   empty poll {big_empty * 1000:6.1f} ms"
        )

        ratio = (sync_n / sync_s) / (floor_n / floor_s)
        move_ratio = (move_n / move_s) / (floor_n / floor_s)
        flat = big_busy / small_busy
        flat_empty = big_empty / small_empty
        rows = [
            (
                "first sync / floor (no move)",
                f"{ratio:.2f} >= {TARGET_SYNC_RATIO}",
                ratio >= TARGET_SYNC_RATIO,
            ),
            (
                "first sync / floor (with move)",
                f"{move_ratio:.2f} >= {TARGET_SYNC_RATIO}",
                move_ratio >= TARGET_SYNC_RATIO,
            ),
            (
                f"poll, {args.messages} vs 1000 old",
                f"{flat:.2f}x <= {TARGET_FLAT}x",
                flat <= TARGET_FLAT,
            ),
            (
                f"empty poll, {args.messages} vs 1000",
                f"{flat_empty:.2f}x <= {TARGET_FLAT}x",
                flat_empty <= TARGET_FLAT,
            ),
        ]
        print()
        width = max(len(label) for label, _, _ in rows)
        for label, measured, ok in rows:
            print(f"{label:<{width}}  {measured:<18}  {'PASS' if ok else 'MISS'}")
        return 0 if all(ok for _, _, ok in rows) else 1
    finally:
        for reader in readers:
            await reader.close()
            await reader.db.close()
        stop_dovecot(server)
        if args.keep:
            print(f"databases kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="mails in the big folder")
    parser.add_argument("--new", type=int, default=10, help="new mails per incremental poll")
    parser.add_argument("--rounds", type=int, default=9, help="incremental polls to time")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    sys.exit(asyncio.run(bench(args)))


if __name__ == "__main__":
    main()
