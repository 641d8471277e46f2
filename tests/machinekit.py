"""Helpers for the tests of mail as real clients send it: the corpus's tickets, what staff see.

The corpus folders `machine/`, `forms/`, `floods/` and `doubles/` of
`tests/mail_corpus` hold mails of machines and people answering tickets that
`seed_ticket` puts in place (see the README there): each machine mail answers
our acknowledgement (or a clerk's answer) of its own ticket, PK-000101 and on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core import attachments, staff
from core.accounts import CodeMailer
from core.config import Settings
from core.inbound import InboundContext
from core.mail import MailContext
from core.texts import render
from storage import tickets as tickets_store
from storage.db import Database
from tests.botkit import START as BOT_START

CORPUS = Path(__file__).parent / "mail_corpus"
START = BOT_START  # 2026-11-25 10:46 Budapest: the corpus's "now", the staff bot's too
DAY = 86400.0
SEEDED_AT = START - 2 * DAY + 3600  # 2026-11-23 09:00: our acknowledgements went out
SETTINGS = Settings({})
STAFF_CHAT = -1001


def corpus(folder: str, name: str) -> bytes:
    """A corpus mail with CRLF line ends, as a mail server hands it over."""
    raw = (CORPUS / folder / name).read_bytes()
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def corpus_names(folder: str) -> list[str]:
    return sorted(path.name for path in (CORPUS / folder).glob("*.eml"))


def chain_context(**limits: object) -> InboundContext:
    """The mail chain's context as the service builds it (limits may be changed)."""
    return InboundContext(
        ours=MailContext.of("petkomm@petkomm.hu"),
        settings=SETTINGS,
        answer_days=15,
        code_mailer=CodeMailer(SETTINGS, lambda: "petkomm_bot"),
        bot_username="petkomm_bot",
        **limits,  # type: ignore[arg-type]
    )


def ack_id(number: int) -> str:
    """The Message-ID of our acknowledgement of PK-000<number> in the corpus."""
    return f"<179537640001.48213.{number}@petkomm.hu>"


def answer_id(number: int) -> str:
    """The Message-ID of a clerk's answer in PK-000<number> in the corpus."""
    return f"<179546280001.48213.{number}1@petkomm.hu>"


@dataclass(frozen=True)
class Seed:
    owner: str
    subject: str
    answered: bool = False  # a clerk's answer went out after the acknowledgement


#: The tickets the machine corpus answers (tests/mail_corpus/README.md, "Machine mail").
MACHINE_TICKETS = {
    101: Seed("kovacs.janos@ceg.hu", "Nincs víz a Petőfi utcában"),
    102: Seed("szabo.eva@citromail.hu", "Számla kérdés"),
    103: Seed("iroda@nagyesfia.hu", "Vízóra leolvasás"),
    104: Seed("toth.marta@freemail.hu", "Vízóra csere"),
    105: Seed("horvath.ildiko@pelda-kft.hu", "Szennyvízdíj"),
    106: Seed("nemletezo.cim.1987@gmail.com", "Csőtörés"),
    107: Seed("iroda@kisvallalat.hu", "Számlamásolat", answered=True),
    108: Seed("info@bt-pelda.hu", "Csatornadugulás", answered=True),
    109: Seed("kiss.geza@citromail.hu", "Alacsony víznyomás"),
    110: Seed("papp.lajos@upcmail.hu", "Vízdíj részletfizetés"),
    111: Seed("farkas.eszter@gmail.com", "Hibás számla"),
    112: Seed("balogh.terez@freemail.hu", "Csőtörés a kertben"),
    113: Seed("nemeth.adam@outlook.com", "Vízóra plomba"),
    114: Seed("lakatos.bela@digikabel.hu", "Vízdíj"),
    115: Seed("gal.zsuzsa@citromail.hu", "Bekötés"),
    116: Seed("iroda@oroszlan-kft.hu", "Vízmérő csere"),
    117: Seed("molnar.tamas@gmail.com", "Locsolási mellékmérő"),
    118: Seed("szucs.robert@szucsbt.hu", "Díjhátralék"),
    119: Seed("titkarsag@pelda-ugyved.hu", "Közműegyeztetés"),
    # Other helpdesks acknowledging our mail without automatic headers (issue 12 trial).
    120: Seed("ugyfelszolgalat@masikceg.hu", "Számlareklamáció", answered=True),
    121: Seed("support@gyartoceg.hu", "Vízbekötés ajánlat"),
    122: Seed("facility@intl-logistics.com", "Water meter reading", answered=True),
    123: Seed("ugyfelkapu@pelda-onkormanyzat.hu", "Közterületi csőtörés"),
    124: Seed("ugyfelszolgalat@lakasszov.hu", "Közös mérő", answered=True),
    # People thanking us for an answer (people/): customers, not machines.
    125: Seed("kertesz.ilona@gmail.com", "Csőtörés a pincében", answered=True),
    126: Seed("bodnar.jozsef@freemail.hu", "Vízóra csere", answered=True),
    127: Seed("j.smith@intl-school.hu", "Water bill", answered=True),
    # Machine mail about our mail with no reference but our subject tag.
    128: Seed("nemeth.kata@gmail.com", "Számla kérdés"),
    129: Seed("horvath.peter@t-online.hu", "Vízóra"),
    130: Seed("fekete.anna@upcmail.hu", "Csatorna"),
    131: Seed("vincze.gabor@invitel.hu", "Számla"),
    # Our own mail redirected back by the customer's mailbox (Resent-From).
    132: Seed("osz.gyulane@vipmail.hu", "Vízdíj visszatérítés"),
    133: Seed("nagy.ilona@outlook.hu", "Lakcímváltozás", answered=True),
    134: Seed("csizmadia.pal@szerver-otthon.hu", "Szivárgás"),
}


async def seed_ticket(
    db: Database, number: int, seed: Seed, *, status: str = "closed", at: float = SEEDED_AT
) -> None:
    """PK-000<number>: the customer's report, our acknowledgement (and a clerk's answer)."""
    await db.execute(
        "INSERT INTO tickets(id, channel, status, subject, email, created_at, updated_at,"
        " closed_at) VALUES (?, 'mail', ?, ?, ?, ?, ?, ?)",
        (number, status, seed.subject, seed.owner, at, at, at if status == "closed" else None),
    )
    messages = [
        ("in", "customer", f"<report.{number}@example.hu>", "A bejelentés szövege."),
        ("out", "auto", ack_id(number), "Bejelentését rögzítettük."),
    ]
    if seed.answered:
        messages.append(("out", "staff:1", answer_id(number), "A kért iratot küldjük."))
    for offset, (direction, author, message_id, text) in enumerate(messages):
        await tickets_store.add_message(
            db,
            number,
            direction=direction,
            author=author,
            body=text,
            new_text=text,
            mail_message_id=message_id,
            inbound_mail_id=None,
            now=at + offset,
        )
        if direction == "in":  # the report was announced in the staff chat long ago
            await db.execute(
                "INSERT INTO staff_announcements(ticket_id, event, created_at, sent_at)"
                " VALUES (?, 'new', ?, ?)",
                (number, at, at),
            )


async def seed_machine_tickets(db: Database, *, status: str = "closed") -> None:
    for number, seed in MACHINE_TICKETS.items():
        await seed_ticket(db, number, seed, status=status)


# --- what staff see, as the bot renders it ---------------------------------------------------


async def staff_posts(db: Database, now: float) -> list[str]:
    """The announcements the staff chat gets now (rendered as the bot does), marked posted."""
    posts = []
    for item in await staff.pending_announcements(db, answer_days=15, now=now, limit=500):
        posts.append(
            render(
                "chat/staff/announcement.txt",
                event=item.event,
                summary=item.summary,
                excerpt=item.excerpt,
                cut=item.cut,
            )
        )
        await staff.announcement_posted(db, item, STAFF_CHAT, 10_000 + item.id, now)
    return posts


async def thread_text(db: Database, number: int, now: float) -> str:
    """A ticket's thread as the staff chat shows it (/ticket PK-000123)."""
    view = await staff.thread(db, number, answer_days=15, actor="cli:test", now=now)
    return render(
        "chat/staff/thread.txt",
        summary=view.summary,
        entries=view.entries,
        hidden=0,
        limit=3000,
        files=await attachments.files_of(db, number),
        files_shown=10,
    )


async def outbox_rows(db: Database) -> list[tuple[str, str, str]]:
    """(kind, recipient, subject) of every mail queued, oldest first."""
    rows = await db.fetch_all("SELECT kind, recipient, subject FROM outbox ORDER BY id")
    return [(row[0], row[1], row[2]) for row in rows]
