"""Benchmark of the IMAP reader against a bare imap-tools fetch (run on demand).

    .venv/bin/python bench/mail_bench.py [--messages N] [--new K] [--rounds R]

Starts a throwaway Dovecot (tests/dovecot.py; needs `dovecot-imapd`, see
scripts/install-test-deps) and writes N customer mails straight into mailbox
files (Dovecot indexes them before anything is timed). The mail worker has two
stages: the reader (stage 1) fetches new mail and stores it raw in the
database as 'received', batch by batch, and moves it off the inbox; the
processor (stage 2) turns the stored mails into tickets and answers. Then:

1. floor       - a bare imap-tools `fetch` of the whole folder (bulk, no marking
                 seen): what reading alone costs;
2. first sync  - stage 1, `InboxReader.poll_once` over the same folder into a
                 fresh database: every mail safely stored (one transaction per
                 batch, with the cursor), left in place; and again on a copy of
                 the folder, moving each batch to `Processed`;
3. stage 2     - `InboundProcessor.process_pending` over the stored mails:
                 parse, thread, ticket, acknowledgement queued, one transaction
                 per mail (tickets and acknowledgements per second);
4. together    - `InboxReader.run` on a third copy, the processor running
                 alongside as in production: when every mail is stored and
                 moved, and when the whole mailbox is processed;
5. incremental - K new mails delivered into a folder already holding 1 000 and
                 N old (synced) mails, and the next poll timed (median of R
                 rounds), their processing timed apart; an empty poll too.

Prints the figures and a table of targets with PASS/MISS; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import itertools
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from imap_tools import MailBoxUnencrypted  # noqa: E402

from core.accounts import CodeMailer  # noqa: E402
from core.config import Settings  # noqa: E402
from core.inbound import InboundContext, InboundResult  # noqa: E402
from mailer.inbox import BATCH_SIZE, InboxReader  # noqa: E402
from storage.db import Database, open_database  # noqa: E402
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


async def new_reader(
    user: ImapUser,
    workdir: Path,
    move: bool,
    name: str,
    on_result: Callable[[InboundResult], None] | None = None,
) -> InboxReader:
    """A reader of `user`'s INBOX into a fresh database `<name>.sqlite3`."""
    settings = Settings(user.env)
    db = await open_database(workdir / f"{name}.sqlite3")
    ctx = InboundContext.from_settings(settings, code_mailer=CodeMailer(settings, lambda: "bot"))
    # Ten thousand customers of one domain in minutes would be a flood; here they are the
    # load to measure, so every one is acknowledged as in the figures before.
    ctx = replace(ctx, domain_answer_limit=10**9, overall_answer_limit=10**9)
    return InboxReader(
        db,
        settings,
        ctx=ctx,
        processed_folder="Processed" if move else None,
        use_idle=False,
        poll_interval=3600.0,
        on_result=on_result,
    )


async def timed_poll(reader: InboxReader) -> tuple[float, int]:
    """Stage 1: one poll, (seconds, mails fetched and stored)."""
    started = time.perf_counter()
    count = await reader.poll_once()
    return time.perf_counter() - started, count


async def timed_processing(reader: InboxReader) -> tuple[float, int]:
    """Stage 2: every stored mail through the chain, (seconds, mails)."""
    started = time.perf_counter()
    count = await reader.processor.process_pending()
    return time.perf_counter() - started, count


async def count(db: Database, sql: str) -> int:
    return int(await db.fetch_value(sql))


async def together(user: ImapUser, workdir: Path, expected: int) -> tuple[float, float, int]:
    """`run` as in production: (seconds until stored and moved, until processed, mails)."""
    processed = 0
    all_done = asyncio.Event()

    def on_result(result: InboundResult) -> None:
        nonlocal processed
        processed += 1
        if processed >= expected:
            all_done.set()

    reader = await new_reader(user, workdir, move=True, name="together", on_result=on_result)
    first_poll = reader.poll_once
    stored_after: float | None = None

    async def poll_once() -> int:
        nonlocal stored_after
        fetched = await first_poll()
        if stored_after is None:
            stored_after = time.perf_counter() - started
        return fetched

    reader.poll_once = poll_once  # type: ignore[method-assign]
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(reader.run(stop))
    try:
        await all_done.wait()
        processed_after = time.perf_counter() - started
    finally:
        stop.set()
        await task
        await reader.db.close()
    assert stored_after is not None
    return stored_after, processed_after, processed


class BareClient:
    """The incremental floor: a bare imaplib session on the selected INBOX that learns of
    new mail and fetches it (NOOP, then one `UID FETCH last+1:* BODY.PEEK[]`)."""

    def __init__(self, user: ImapUser) -> None:
        self.client = imaplib.IMAP4(user.host, user.port)
        self.client.login(user.name, user.password)
        self.client.select("INBOX")
        [uidnext] = self.client.response("UIDNEXT")[1]
        self.last = int(uidnext) - 1

    def poll(self) -> int:
        self.client.noop()
        _typ, data = self.client.uid("FETCH", f"{self.last + 1}:*", "(UID BODY.PEEK[])")
        lines = b" ".join(item[0] if isinstance(item, tuple) else item for item in data)
        uids = [int(uid) for uid in re.findall(rb"UID (\d+)", lines) if int(uid) > self.last]
        self.last = max([self.last, *uids])
        return len(uids)

    def close(self) -> None:
        self.client.logout()


async def incremental(
    server: Dovecot,
    folders: list[tuple[ImapUser, InboxReader]],
    bare: list[tuple[ImapUser, BareClient]],
    new: int,
    rounds: int,
) -> tuple[list[tuple[float, float, float]], list[float]]:
    """Per reader: median seconds of a poll finding `new` fresh mails (stage 1), of
    processing them (stage 2), and of an empty poll; per bare client: of its poll.

    The folders take turns round by round, so a busy moment of the machine
    falls on all of them alike.
    """
    rng = random.Random(3)
    busy: list[list[float]] = [[] for _ in folders]
    work: list[list[float]] = [[] for _ in folders]
    empty: list[list[float]] = [[] for _ in folders]
    floor_busy: list[list[float]] = [[] for _ in bare]
    serial = itertools.count(10_000_000, new)
    for _round in range(rounds):
        for index, (user, reader) in enumerate(folders):
            first = next(serial)
            server.deliver_many(user.name, [customer_mail(first + i, rng) for i in range(new)])
            seconds, fetched = await timed_poll(reader)
            assert fetched == new, (fetched, new)
            busy[index].append(seconds)
            seconds, processed = await timed_processing(reader)
            assert processed == new, (processed, new)
            work[index].append(seconds)
            seconds, fetched = await timed_poll(reader)
            assert fetched == 0
            empty[index].append(seconds)
        for index, (user, client) in enumerate(bare):
            first = next(serial)
            server.deliver_many(user.name, [customer_mail(first + i, rng) for i in range(new)])
            started = time.perf_counter()
            fetched = client.poll()
            floor_busy[index].append(time.perf_counter() - started)
            assert fetched == new, (fetched, new)
    medians = [
        (statistics.median(b), statistics.median(w), statistics.median(e))
        for b, w, e in zip(busy, work, empty, strict=True)
    ]
    return medians, [statistics.median(f) for f in floor_busy]


def line(label: str, mails: int, seconds: float, extra: str = "") -> None:
    print(f"{label:<34} {mails:>6} mails {seconds:7.2f} s {mails / seconds:8.0f} msg/s{extra}")


async def bench(args: argparse.Namespace) -> int:
    server = start_dovecot()
    workdir = Path(tempfile.mkdtemp(prefix="petkomm-mail-bench-"))
    readers: list[InboxReader] = []
    try:
        big, copy, third, small, bare_big, bare_small = (server.add_user() for _ in range(6))
        started = time.perf_counter()
        for user in (big, copy, third, bare_big):
            fill(server, user, 0, args.messages, seed=1)
        for user in (small, bare_small):
            fill(server, user, 0, 1000, seed=2)
        print(
            f"filled mailboxes: 4 x {args.messages} + 2 x 1000 mails in "
            f"{time.perf_counter() - started:.1f} s"
        )

        floor_s, floor_n = await asyncio.to_thread(floor, big)
        floor_rate = floor_n / floor_s
        line("floor       imap-tools fetch", floor_n, floor_s)

        reader = await new_reader(big, workdir, move=False, name="sync")
        readers.append(reader)
        sync_s, sync_n = await timed_poll(reader)
        ratio = (sync_n / sync_s) / floor_rate
        line("stage 1     first sync, no move", sync_n, sync_s, f"  ({ratio:.2f} of the floor)")

        mover = await new_reader(copy, workdir, move=True, name="sync-move")
        readers.append(mover)
        move_s, move_n = await timed_poll(mover)
        move_ratio = (move_n / move_s) / floor_rate
        line("stage 1     first sync + move", move_n, move_s, f"  ({move_ratio:.2f} of the floor)")
        assert server.folder_uids(copy.name) == [], "mail left in the inbox"

        proc_s, proc_n = await timed_processing(reader)
        tickets = await count(reader.db, "SELECT count(*) FROM tickets")
        acks = await count(reader.db, "SELECT count(*) FROM outbox WHERE kind = 'ack'")
        answers = await count(reader.db, "SELECT count(*) FROM outbox")
        line(
            "stage 2     processing",
            proc_n,
            proc_s,
            f"  ({tickets / proc_s:.0f} tickets/s, {acks / proc_s:.0f} acks/s,"
            f" {answers} mails queued)",
        )
        assert tickets == proc_n == sync_n, (tickets, proc_n, sync_n)

        stored_s, done_s, done_n = await together(third, workdir, args.messages)
        print(
            f"together    run(): {done_n} mails stored and moved after {stored_s:.2f} s"
            f" ({done_n / stored_s:.0f} msg/s), all processed after {done_s:.2f} s"
            f" ({done_n / done_s:.0f} msg/s)"
        )

        small_reader = await new_reader(small, workdir, move=False, name="small")
        readers.append(small_reader)
        await timed_poll(small_reader)
        await timed_processing(small_reader)
        bare = [(bare_small, BareClient(bare_small)), (bare_big, BareClient(bare_big))]
        try:
            (
                [(small_busy, small_work, small_empty), (big_busy, big_work, big_empty)],
                [
                    bare_small_s,
                    bare_big_s,
                ],
            ) = await incremental(
                server, [(small, small_reader), (big, reader)], bare, args.new, args.rounds
            )
        finally:
            for _user, client in bare:
                client.close()
        for old, busy, floor_s, work, empty in (
            (1000, small_busy, bare_small_s, small_work, small_empty),
            (args.messages, big_busy, bare_big_s, big_work, big_empty),
        ):
            print(
                f"incremental {args.new} new, {old:>6} old: poll {busy * 1000:5.1f} ms"
                f" (bare client {floor_s * 1000:5.1f} ms), processing {work * 1000:6.1f} ms,"
                f" empty poll {empty * 1000:4.1f} ms"
            )

        flat = big_busy / small_busy
        # A bare client's poll grows with the folder too (Dovecot's maildir re-reads its
        # UID list when new mail arrives); the reader's own part must not.
        server_growth = bare_big_s - bare_small_s
        flat_own = (big_busy - server_growth) / small_busy
        flat_work = big_work / small_work
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
                f"{flat:.2f}x <= {TARGET_FLAT}x (bare client {bare_big_s / bare_small_s:.2f}x)",
                flat <= TARGET_FLAT,
            ),
            (
                f"poll less the server's growth, {args.messages} vs 1000",
                f"{flat_own:.2f}x <= {TARGET_FLAT}x",
                flat_own <= TARGET_FLAT,
            ),
            (
                f"empty poll, {args.messages} vs 1000",
                f"{flat_empty:.2f}x <= {TARGET_FLAT}x",
                flat_empty <= TARGET_FLAT,
            ),
            (
                f"processing, {args.messages} vs 1000",
                f"{flat_work:.2f}x <= {TARGET_FLAT}x",
                flat_work <= TARGET_FLAT,
            ),
        ]
        print()
        width = max(len(label) for label, _, _ in rows)
        for label, measured, ok in rows:
            print(f"{label:<{width}}  {measured:<38}  {'PASS' if ok else 'MISS'}")
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
