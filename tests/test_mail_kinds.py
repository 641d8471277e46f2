"""Mail as real clients send it (issue 12), through Dovecot and the real reader, to what
staff and the customer see.

Each test delivers the corpus mails of one kind (tests/mail_corpus, described in
tests/mail_kinds.py) into the support mailbox, lets the IMAP reader and its processor
turn them into tickets, and reads what came of each: the ticket's text, the staff
chat's announcement and thread (the real bot, polling the Bot API emulator), the
files a clerk opens there or on the command line, and the mails queued for the
customer. Each mail's shortfalls are collected, so a failure names every mail that
is not handled right.
"""

from __future__ import annotations

import base64
import email
import os
import subprocess
import sys
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.staff import button_label
from core import attachments
from core.config import Settings
from core.formats import hungarian_article
from core.inbound import InboundContext
from core.mail import SUBJECT_MAX
from mailer.inbox import InboxReader
from storage import audit
from storage import inbound as inbound_store
from storage import tickets as tickets_store
from tests.botkit import StaffBotEnv
from tests.mail_kinds import LONG_SUBJECTS, OUR_ID, READS
from tests.test_mail_parse import make_big_attachment_mail

CORPUS = Path(__file__).parent / "mail_corpus"
ROOT = Path(__file__).resolve().parents[1]
ACK = "Bejelentését rögzítettük"


def corpus(name: str) -> bytes:
    """A corpus mail as it travels: CRLF line endings."""
    return (CORPUS / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def message_id_of(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=policy.default)["Message-ID"]).strip()


def attached(raw: bytes, filename: str) -> bytes:
    """The decoded bytes of the file `filename` in a raw mail."""
    message = email.message_from_bytes(raw, policy=policy.default)
    for part in message.walk():
        if part.get_filename() == filename:
            return part.get_payload(decode=True)
    raise AssertionError(f"no {filename} in the mail")


def customer_mail(n: int, sender: str, subject: str, body: str) -> bytes:
    """A plain mail a customer's client sends, opening a ticket."""
    return (
        f"From: <{sender}>\r\nTo: petkomm@petkomm.hu\r\nSubject: {subject}\r\n"
        f"Date: Mon, 10 Jun 2024 08:00:00 +0200\r\nMessage-ID: <kinds.{n}@example.hu>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n" + body + "\r\n"
    ).encode()


@dataclass
class Shortfalls:
    """What each mail did not get right, by mail."""

    found: dict[str, list[str]] = field(default_factory=dict)

    def check(self, name: str, condition: bool, what: str) -> None:
        if not condition:
            self.found.setdefault(name, []).append(what)


@dataclass
class Desk:
    """The support mailbox, the mail worker and the staff chat, as one desk."""

    env: StaffBotEnv
    reader: InboxReader
    dovecot: object
    user: str

    async def receive(self, *raws: bytes) -> None:
        """The mails arrive; the reader stores them, the processor makes tickets, and the
        staff chat is told."""
        self.dovecot.deliver_many(self.user, raws, arrived=self.env.clock())
        await self.reader.poll_once()
        await self.reader.processor.process_pending()
        await self.env.announcer.run_once()

    async def ticket(self, raw: bytes) -> tickets_store.Ticket | None:
        stored = await inbound_store.by_message_id(self.env.db, message_id_of(raw))
        if stored is None or stored.ticket_id is None:
            return None
        return await tickets_store.get(self.env.db, stored.ticket_id)

    async def text(self, ticket: tickets_store.Ticket, nth: int = -1) -> str:
        """The new text staff read of the ticket's n-th customer message."""
        messages = [m for m in await tickets_store.messages(self.env.db, ticket.id)]
        customer = [m for m in messages if m.direction == "in"]
        return customer[nth].new_text if customer else ""

    def announcement(self, number: str, event: str = "Új bejelentés"):
        for message in reversed(self.env.group.replies):
            text = message.text or ""
            if number in text and event in text:
                return message
        return None

    async def thread(self, number: str):
        """A clerk presses Megnyitás on the ticket's announcement."""
        post = self.announcement(number) or self.announcement(number, "Új üzenet")
        if post is None:
            return None
        replies = await self.env.clerk().press(post, button_label("open"))
        return replies[-1] if replies else None

    async def mails_to(self, address: str) -> list[EmailMessage]:
        return await self.env.mails_to(address)


@pytest.fixture
async def desk(staff_bot, dovecot, imap_user):
    env = await staff_bot()
    settings = Settings({**env.settings.env, **imap_user.env})
    reader = InboxReader(
        env.db, settings, ctx=InboundContext.from_settings(settings), clock=env.clock
    )
    try:
        yield Desk(env, reader, dovecot, imap_user.name)
    finally:
        await reader.close()


def number_of(ticket: tickets_store.Ticket | None) -> str:
    return f"PK-{ticket.id:06d}" if ticket else "PK-?"


def plain(mail: EmailMessage) -> str:
    return mail.get_body(("plain",)).get_content()


def buttons(message) -> list[str]:
    return [b["text"] for row in message.inline_keyboard or [] for b in row] if message else []


def run_cli(env: StaffBotEnv, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command line, as an operator runs it beside the running bot."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment["PETKOMM_DB"] = env.settings.env["PETKOMM_DB"]
    return subprocess.run(
        [sys.executable, str(ROOT / "run_bot.py"), *args],
        env=environment,
        cwd=cwd,
        capture_output=True,
        timeout=120,
    )


# --- 3. forwards ---------------------------------------------------------------------------

# A sentence of the forwarded complaint, and who wrote it.
FORWARDS = {
    "forward_gmail_hu.eml": ("folyik a víz az úttestre", "Kovács Jánosné"),
    "forward_gmail_en.eml": ("a pincénkben is áll a víz", "Szilágyi Irén"),
    "forward_outlook_hu.eml": ("kétszer annyit mutat", "Lengyel István"),
    "forward_outlook_en.eml": ("megjött a vízszámla, 48 000 Ft", "Bognár Gergelyné"),
    "forward_outlook_no_prefix.eml": ("barna a csapvíz", "Vass Ernő"),
    "forward_iphone_en.eml": ("kétszer vonta le a májusi vízdíjat", "Szőke Margit"),
    "forward_iphone_hu.eml": ("alig jön víz", "Szabó Lajos"),
    "forward_thunderbird_hu.eml": ("14 m3 eltérés volt", "Közös képviselet"),
    "forward_freemail.eml": ("üvege megrepedt", "Papp Eszter"),
    "forward_citromail.eml": ("3 köbméter", "Takács Dávid"),
}


async def test_a_forwarded_complaint_is_what_staff_read_not_a_quote_cut_away(desk):
    raws = {name: corpus(name) for name in FORWARDS}
    await desk.receive(*raws.values())

    short = Shortfalls()
    for name, (complaint, writer) in FORWARDS.items():
        ticket = await desk.ticket(raws[name])
        short.check(name, ticket is not None, "no ticket")
        if ticket is None:
            continue
        text = await desk.text(ticket)
        short.check(name, complaint in text, "the forwarded complaint is not in the ticket")
        short.check(name, writer in text, "who wrote the forwarded mail is not said")
        short.check(name, "Freemail" not in text and "Citromail" not in text, "advert kept")
        thread = await desk.thread(number_of(ticket))
        short.check(name, thread is not None and complaint in thread.text, "not in the thread")
        # The acknowledgement goes to the one who forwarded, and to nobody else.
        sender = READS[name].from_address
        mails = await desk.mails_to(sender)
        short.check(name, [ACK in m["Subject"] for m in mails] == [True], "not one ack")
    assert short.found == {}


# A sentence of the complaint inside the attached mail, its writer, its subject.
FORWARDS_AS_ATTACHMENT = {
    "forward_attachment_thunderbird.eml": ("38 köbméter szerepel", "Oláh Ernőné", "Gázszámla"),
    "forward_attachment_gmail.eml": ("dől a víz az aknából", "Sipos Tamás", "Csőtörés a Radóti"),
    "forward_attachment_outlook.eml": ("harmadszor nem olvasták le", "Bartók Gréta", "Vízmérő"),
}


async def test_a_mail_forwarded_as_an_attachment_is_read_by_staff_and_kept(desk):
    raws = {name: corpus(name) for name in FORWARDS_AS_ATTACHMENT}
    await desk.receive(*raws.values())

    short = Shortfalls()
    for name, (complaint, writer, subject) in FORWARDS_AS_ATTACHMENT.items():
        ticket = await desk.ticket(raws[name])
        short.check(name, ticket is not None, "no ticket")
        if ticket is None:
            continue
        text = await desk.text(ticket)
        short.check(name, complaint in text, "the attached complaint is not in the ticket")
        short.check(name, f"Feladó: {writer}" in text, "who wrote it is not said")
        short.check(name, f"Tárgy: {subject}" in text, "its subject is not said")
        short.check(name, "Dátum: " in text, "its date is not said")
        short.check(name, READS[name].new_text.splitlines()[0] in text, "the customer's words lost")
        short.check(name, "📎 Fájl érkezett" in text and "(levél," in text, "the file not listed")
        thread = await desk.thread(number_of(ticket))
        short.check(name, thread is not None and complaint in thread.text, "not in the thread")
        files = await attachments.files_of(desk.env.db, ticket.id)
        short.check(name, len(files) == 1, "the attached mail is not kept as a file")
    assert short.found == {}


# --- 4. attachments ------------------------------------------------------------------------


def make_big_video_reply(in_reply_to: str, size: int = 11 * 1024 * 1024) -> bytes:
    """An iPhone reply to our acknowledgement with a burst-pipe video too big to keep."""
    content = (b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * (size // 256 + 1))[:size]
    head = (
        "From: =?utf-8?Q?Horv=C3=A1th_P=C3=A9ter?= <horvath.peter@citromail.hu>\r\n"
        "Content-Type: multipart/mixed;\r\n"
        "\tboundary=Apple-Mail-7F3E2A10-44C1-4B2E-9D0A-1F2E3D4C5B6A\r\n"
        "Content-Transfer-Encoding: 7bit\r\nMime-Version: 1.0 (1.0)\r\n"
        "Subject: Re: [#PK-000042]\r\n"
        " =?utf-8?Q?Bejelent=C3=A9s=C3=A9t_r=C3=B6gz=C3=ADtett=C3=BCk?=\r\n"
        "Date: Wed, 5 Jun 2024 18:02:11 +0200\r\n"
        "Message-Id: <0C9E7B51-2D3A-4F6B-8C1D-9E0F1A2B3C4D@citromail.hu>\r\n"
        f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n"
        "To: petkomm@petkomm.hu\r\nX-Mailer: iPhone Mail (21F90)\r\n\r\n"
        "--Apple-Mail-7F3E2A10-44C1-4B2E-9D0A-1F2E3D4C5B6A\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Itt a videó a csőtörésről.\r\n\r\nKüldve iPhone-ról\r\n\r\n"
        "--Apple-Mail-7F3E2A10-44C1-4B2E-9D0A-1F2E3D4C5B6A\r\n"
        'Content-Type: video/quicktime; name="IMG_0733.MOV"\r\n'
        'Content-Disposition: attachment; filename="IMG_0733.MOV"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    body = base64.encodebytes(content).replace(b"\n", b"\r\n")
    return head + body + b"--Apple-Mail-7F3E2A10-44C1-4B2E-9D0A-1F2E3D4C5B6A--\r\n"


def refused_line(filename: str) -> str:
    """How a refused file's line begins (a or az by the name: "az „IMG_0733.MOV” fájl")."""
    return f"Nem érkezett meg {hungarian_article(filename)} „{filename}” fájl: "


# The acknowledgement of each new mail names the file that did not arrive, and why.
REFUSED_IN_ACK = {
    "attachment_refused_program_outlook.eml": ("meroallas_rogzito.exe", "biztonsági okból"),
    "attachment_refused_script_gmail.eml": ("szamla_2024.pdf.js", "biztonsági okból"),
    "attachment_disguised_program.eml": ("szamla_2024_05.pdf", "biztonsági okból"),
}


async def test_the_customer_is_told_which_file_did_not_arrive_and_why(desk):
    raws = {name: corpus(name) for name in REFUSED_IN_ACK}
    big = make_big_attachment_mail(11 * 1024 * 1024).replace(b"\n", b"\r\n")
    photo = corpus("attachment_freemail_photo.eml")  # kept: nothing to tell
    report = customer_mail(2, "horvath.peter@citromail.hu", "Csőtörés", "Folyik a víz.")
    await desk.receive(*raws.values(), big, photo, report)

    short = Shortfalls()
    for name, (filename, why) in REFUSED_IN_ACK.items():
        mails = await desk.mails_to(READS[name].from_address)
        text = plain(mails[0]) if mails else ""
        html = mails[0].get_body(("html",)).get_content() if mails else ""
        line = next((x for x in text.splitlines() if refused_line(filename) in x), "")
        short.check(name, why in line, "the acknowledgement does not say the file was refused")
        short.check(name, f"„{filename}”" in html and why in html, "not in the HTML part")
        short.check(name, "mero.png" not in text, "a kept file is named as refused")
    [big_ack] = await desk.mails_to("kis.peter@gmail.com")
    line = next((x for x in plain(big_ack).splitlines() if "mérőakna.jpg" in x), "")
    short.check("big", "túl nagy" in line and "10 MB" in line, "the size limit is not said")
    [photo_ack] = await desk.mails_to(READS["attachment_freemail_photo.eml"].from_address)
    short.check("photo", "Nem érkezett meg" not in plain(photo_ack), "a kept photo refused")

    # Replies into the ticket: a program, then a burst-pipe video too big to keep.
    [ack] = await desk.mails_to("horvath.peter@citromail.hu")
    reply = corpus("attachment_refused_reply_thunderbird.eml").replace(
        OUR_ID.encode(), ack["Message-ID"].encode()
    )
    await desk.receive(reply)
    await desk.receive(make_big_video_reply(ack["Message-ID"]))
    _ack, *answers = await desk.mails_to("horvath.peter@citromail.hu")
    # The burst-pipe video's reply sounds urgent: it is also told whom to call, apart.
    urgent = [m for m in answers if "Sürgős esetben hívjon" in str(m["Subject"])]
    answers = [m for m in answers if m not in urgent]
    short.check("urgent", len(urgent) == 1, "the urgent reply is not told whom to call")
    subjects = [str(m["Subject"]) for m in answers]
    short.check("reply", len(answers) == 2, f"not one answer to each reply: {subjects}")
    for answer, (filename, why) in zip(
        answers,
        [("vizora_kiolvaso.bat", "biztonsági okból"), ("IMG_0733.MOV", "túl nagy")],
        strict=False,
    ):
        short.check(filename, "Csatolt fájlja nem érkezett meg" in answer["Subject"], "subject")
        short.check(filename, number_of(await desk.ticket(reply)) in answer["Subject"], "tag")
        line = next((x for x in plain(answer).splitlines() if refused_line(filename) in x), "")
        short.check(filename, why in line, "the answer does not say the file was refused")
        short.check(filename, answer["In-Reply-To"] is not None, "not threaded to the reply")
    assert short.found == {}


async def test_photos_and_files_are_kept_listed_and_opened_by_staff(desk, tmp_path):
    env = desk.env
    names = [
        "attachment_iphone_photo_only.eml",
        "attachment_android_gmail_photo_only.eml",
        "attachment_outlook_pdf_and_logo.eml",
        "attachment_freemail_photo.eml",
        "attachment_disguised_program.eml",
    ]
    raws = {name: corpus(name) for name in names}
    big = make_big_attachment_mail(11 * 1024 * 1024).replace(b"\n", b"\r\n")
    report = customer_mail(1, "horvath.peter@citromail.hu", "Akna", "Beázik a mérőakna.")
    await desk.receive(*raws.values(), big, report)
    [ack] = await desk.mails_to("horvath.peter@citromail.hu")
    # Photos sent later, in a reply to our acknowledgement.
    photos = corpus("attachment_reply_with_photos.eml").replace(
        OUR_ID.encode(), ack["Message-ID"].encode()
    )
    await desk.receive(photos)

    short = Shortfalls()
    clerk = env.clerk()
    # What each mail brought: (file name, the type staff read, what the announcement says).
    single = {
        "attachment_iphone_photo_only.eml": ("IMG_0412.jpeg", "JPEG-kép", "📎 Kép érkezett"),
        "attachment_android_gmail_photo_only.eml": (
            "20240610_111902.jpg",
            "JPEG-kép",
            "📎 Kép érkezett",
        ),
        "attachment_outlook_pdf_and_logo.eml": (
            "szamla_2024_05.pdf",
            "PDF-dokumentum",
            "📎 Fájl érkezett",
        ),
        "attachment_freemail_photo.eml": ("akna_fedel.png", "PNG-kép", "📎 Kép érkezett"),
    }
    for name, (filename, kind, said) in single.items():
        ticket = await desk.ticket(raws[name])
        number = number_of(ticket)
        post = desk.announcement(number)
        short.check(name, post is not None and f"{said}: {filename}" in post.text, "not said")
        thread = await desk.thread(number)
        listed = f"1. {filename} ({kind}, "
        short.check(name, thread is not None and listed in thread.text, "not listed")
        short.check(name, thread is not None and "2. " not in thread.text.split("📎")[-1], "logo")
        if thread is None or "📎 1" not in buttons(thread):
            short.check(name, False, "no 📎 button")
            continue
        [document] = await clerk.press(thread, "📎 1")
        sent = document.document or {}
        short.check(name, sent.get("file_name") == filename, "the document has another name")
        content = env.emulator.file_content(sent["file_id"]) if sent else b""
        short.check(name, content == attached(raws[name], filename), "other bytes sent")
        short.check(name, number in (document.caption or ""), "the caption names no ticket")

    # A program dressed as a PDF: named, typed by its content, never kept nor sent.
    name = "attachment_disguised_program.eml"
    number = number_of(await desk.ticket(raws[name]))
    post = desk.announcement(number)
    short.check(name, post is not None and "futtatható program" in post.text, "not told")
    thread = await desk.thread(number)
    short.check(name, thread is not None and "📎 1" not in buttons(thread), "offered to open")
    [refusal] = await clerk.command("file", f"{number} 1")
    short.check(name, "biztonsági okból nem tároltuk" in refusal.text, "no refusal")

    # An 11 MB photo: listed, not kept.
    number = number_of(await desk.ticket(big))
    post = desk.announcement(number)
    short.check("big", post is not None and "nem tároltuk: túl nagy" in post.text, "not told")

    # The photos of the reply join the first report's ticket as its files 1 and 2.
    name = "attachment_reply_with_photos.eml"
    ticket = await desk.ticket(photos)
    short.check(name, ticket is not None and ticket.id == (await desk.ticket(report)).id, "apart")
    number = number_of(ticket)
    post = desk.announcement(number, "Új üzenet")
    short.check(name, post is not None and "📎 Kép érkezett: akna1.jpg" in post.text, "not said")
    # On the command line: listed with the thread, saved by number, audited.
    shown = run_cli(env, "tickets", "show", number, cwd=tmp_path)
    out = shown.stdout.decode()
    short.check(name, "1. akna1.jpg, image/jpeg, 1.2 KB" in out, "CLI does not list it")
    short.check(name, "2. akna2.png, image/png, 101 B" in out, "CLI does not list the second")
    saved = run_cli(env, "tickets", "attachment", number, "2", cwd=tmp_path)
    written = tmp_path / "akna2.png"
    short.check(name, saved.returncode == 0 and written.exists(), "CLI did not save it")
    if written.exists():
        short.check(name, written.read_bytes() == attached(photos, "akna2.png"), "other bytes")
    again = run_cli(env, "tickets", "attachment", number, "2", cwd=tmp_path)
    short.check(
        name, again.returncode == 1 and "már létezik".encode() in again.stderr, "overwrote the file"
    )
    opened = [e for e in await audit.entries(env.db) if e.action == "attachment_opened"]
    short.check(name, any(e.target == number for e in opened), "not audited")
    assert short.found == {}


# --- 5. half-broken charsets -------------------------------------------------------------------

CHARSETS = [
    "charset_utf8_cut_last_character.eml",
    "charset_utf8_qp_cut.eml",
    "charset_windows1250_stray_byte.eml",
    "charset_subject_cut.eml",
    "charset_undeclared_utf8_cut.eml",
    "charset_utf8_labelled_latin2.eml",
    "charset_utf8_with_latin2_footer.eml",
]
GARBLED = ("Ă", "Ĺ", "Ã", "Å", "Ĺ‘", "Ă©")  # accents read in the wrong charset


async def test_a_mostly_valid_body_is_read_in_its_charset_with_only_the_broken_bytes_replaced(
    desk,
):
    raws = {name: corpus(name) for name in CHARSETS}
    await desk.receive(*raws.values())

    short = Shortfalls()
    for name in CHARSETS:
        reads = READS[name]
        ticket = await desk.ticket(raws[name])
        short.check(name, ticket is not None, "no ticket")
        if ticket is None:
            continue
        text = await desk.text(ticket)
        short.check(name, text == reads.new_text, "the ticket's text is not what was written")
        short.check(name, not any(g in text for g in GARBLED), "garbled accents")
        post = desk.announcement(number_of(ticket))
        first = reads.new_text.splitlines()[0]
        short.check(name, post is not None and first in post.text, "garbled announcement")
        short.check(name, ticket.subject == reads.subject, "garbled subject")
        [ack] = await desk.mails_to(reads.from_address)
        short.check(name, not any(g in ack["Subject"] for g in GARBLED), "garbled ack subject")
    assert short.found == {}


# Hungarian mail labelled with a Western charset (Outlook's iso-8859-1, a form's
# windows-1252, Pine's us-ascii): ő/ű must not read as õ/û.
LATIN1_LABELLED = [
    "charset_latin1_declared_outlook.eml",
    "charset_windows1252_declared_form.eml",
    "charset_usascii_declared_8bit.eml",
]


async def test_hungarian_mail_labelled_latin1_reads_with_its_o_and_u_double_acute(desk):
    raws = {name: corpus(name) for name in LATIN1_LABELLED}
    await desk.receive(*raws.values())

    short = Shortfalls()
    for name in LATIN1_LABELLED:
        reads = READS[name]
        ticket = await desk.ticket(raws[name])
        short.check(name, ticket is not None, "no ticket")
        if ticket is None:
            continue
        text = await desk.text(ticket)
        short.check(name, text == reads.new_text, "the ticket's text is not what was written")
        short.check(name, not any(g in text for g in "õûÕÛ"), "õ/û for ő/ű in the text")
        short.check(name, ticket.subject == reads.subject, "garbled subject")
        post = desk.announcement(number_of(ticket))
        first = reads.new_text.splitlines()[0]
        short.check(name, post is not None and first in post.text, "garbled announcement")
        [ack] = await desk.mails_to(reads.from_address)
        short.check(name, f"Tisztelt {reads.from_name}!" in plain(ack), "garbled name in the ack")
    assert short.found == {}


# --- 8. self-help precision ----------------------------------------------------------------------

# The self-help each new mail gets (subjects after the ticket tag), besides the acknowledgement.
SELF_HELP = {
    "selfhelp_invoices_to_new_address.eml": ["Ügyféladatai módosítása – teendők"],
    "selfhelp_payment_made.eml": [],
    "selfhelp_e_invoice.eml": [],
    "selfhelp_neighbour_moved.eml": [],
    "selfhelp_balance_disputed.eml": [],
}


async def test_self_help_answers_what_the_customer_asks_and_only_its_owner(desk):
    raws = {name: corpus(name) for name in SELF_HELP}
    owner = "juhasz.laszlo@gmail.com"
    report = customer_mail(2, owner, "Vízóra", "Jó napot! A vízóra plombája leszakadt.")
    await desk.receive(*raws.values(), report)

    short = Shortfalls()
    for name, expected in SELF_HELP.items():
        mails = await desk.mails_to(READS[name].from_address)
        subjects = [m["Subject"].split("] ", 1)[1] for m in mails]
        short.check(name, sum(s.startswith(ACK) for s in subjects) == 1, "not one ack")
        helped = [s for s in subjects if not s.startswith(ACK)]
        short.check(name, helped == expected, f"self-help {helped}, not {expected}")

    # The owner's wife answers our acknowledgement from her own address: her mail joins
    # the ticket, but no self-help (no code, no account advice) goes to an address that
    # does not own it, nor to the owner for words he did not write.
    name = "selfhelp_other_address_reply.eml"
    [ack] = await desk.mails_to(owner)
    wife = corpus(name).replace(OUR_ID.encode(), ack["Message-ID"].encode())
    await desk.receive(wife)
    ticket = await desk.ticket(wife)
    short.check(name, ticket is not None and ticket.id == (await desk.ticket(report)).id, "apart")
    short.check(name, await desk.mails_to(READS[name].from_address) == [], "mail to her")
    short.check(name, len(await desk.mails_to(owner)) == 1, "more mail to the owner")
    short.check(name, ticket is not None and ticket.email == owner, "the ticket changed hands")
    assert short.found == {}


# --- 9. long subjects and webmail adverts -------------------------------------------------------


def cut_at_a_word(ours: str, theirs: str) -> bool:
    """`ours` is the start of `theirs`, cut between two words and marked with "…"."""
    if not ours.endswith("…"):
        return False
    kept = ours[:-1]
    return theirs.startswith(kept) and theirs[len(kept) : len(kept) + 1] in (" ", "")


async def test_a_long_subject_is_cut_at_a_word_in_our_answers_subjects(desk):
    names = ["subject_2000_characters.eml", "subject_pasted_address.eml"]
    raws = {name: corpus(name) for name in names}
    await desk.receive(*raws.values())
    clerk = desk.env.clerk()

    short = Shortfalls()
    for name in names:
        theirs = LONG_SUBJECTS[name]
        ticket = await desk.ticket(raws[name])
        short.check(name, ticket is not None and ticket.subject == theirs, "subject lost")
        number = number_of(ticket)
        [ack] = await desk.mails_to(READS[name].from_address)
        subject = ack["Subject"]
        short.check(name, len(subject) <= SUBJECT_MAX, f"ack subject of {len(subject)}")
        short.check(name, subject.startswith(f"[#{number}] {ACK}: "), "ack subject lost its start")
        ours = subject.removeprefix(f"[#{number}] {ACK}: ")
        if name == "subject_2000_characters.eml":
            short.check(name, cut_at_a_word(ours, theirs), "not cut at a word")
        # A clerk answers: the answer's subject is cut the same way.
        await clerk.command("reply", f"{number} Holnap délelőtt kimegy a kollégánk.")
        *_, answer = await desk.mails_to(READS[name].from_address)
        subject = answer["Subject"]
        short.check(name, len(subject) <= SUBJECT_MAX, f"answer subject of {len(subject)}")
        short.check(name, subject.startswith(f"[#{number}] Re: "), "answer subject lost")
        short.check(name, "Holnap délelőtt" in plain(answer), "not the answer")
    assert short.found == {}


FREEMAIL = "legnagyobb ingyenes levelezőrendszere"
FOOTERS = {  # the customer's last words, and the advert that must not follow them
    "footer_freemail.eml": ("Oláh György", FREEMAIL),
    "footer_citromail.eml": ("Hajdú Márta", "ingyenes e-mail cím"),
    "footer_indamail_reply.eml": ("Szekeres Nóra", "ingyenes levelezés"),
    "footer_avast.eml": ("Barta Imre", "avast.com"),
    "forward_freemail.eml": ("Eszter", FREEMAIL),
    "footer_freemail_game.eml": ("Freemail-es címemre válaszoljanak.", "nyereményjáték"),
    # Nothing but a photo and the advert: the ticket says a picture came, and no more.
    "attachment_freemail_photo.eml": ("akna_fedel.png (PNG-kép, 101 B)", FREEMAIL),
}


async def test_webmail_adverts_are_stripped_from_what_staff_read(desk):
    raws = {name: corpus(name) for name in FOOTERS}
    await desk.receive(*raws.values())

    short = Shortfalls()
    for name, (last, advert) in FOOTERS.items():
        ticket = await desk.ticket(raws[name])
        text = await desk.text(ticket) if ticket else ""
        short.check(name, text.rstrip().endswith(last), "the customer's words do not end it")
        short.check(name, advert.lower() not in text.lower(), "the advert is in the ticket")
        post = desk.announcement(number_of(ticket))
        short.check(name, post is not None and advert not in post.text, "advert announced")
    assert short.found == {}
