"""Files that come with a customer's mail: sorted out, kept, listed and opened.

Taking a mail in (the mail chain, `core.inbound.chain`):

- `sort_out` reads each attachment of a parsed mail and checks its type by its
  content (magic bytes, read by the `filetype` library: a name or a
  Content-Type can lie), caps its size (`MAX_FILE_BYTES` a file,
  `MAX_MAIL_BYTES` a mail, `MAX_FILES` files), withholds programs, and leaves
  out the little pictures of signatures (an Outlook logo is no customer's photo);
- `with_note` puts a line per file at the top of the ticket's text ("📎 Kép
  érkezett: …"), so a photo-only mail is no blank ticket and staff read that a
  file came;
- `keep` stores the files numbered within their ticket (1, 2, …), a withheld one
  without its content, so the list still names it and says why.

Staff, in the staff chat and on the command line alike: `files_of` lists a
ticket's files, `open_file` hands one over (audited as `attachment_opened`).
The raw mail stays in `inbound_mails` either way: nothing a cap withholds is lost.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import filetype

from core.mail import Attachment as MailAttachment
from core.mail import ParsedMail
from core.texts import render
from core.tickets import ticket_number
from storage import attachments as store
from storage import audit
from storage import tickets as tickets_store
from storage.db import Queryable

MAX_FILE_BYTES = 10 * 1024 * 1024  # Telegram sends a bot's documents up to 50 MB
MAX_MAIL_BYTES = 25 * 1024 * 1024
MAX_FILES = 20  # kept from one mail; more are listed, withheld
MAX_LISTED = 50  # listed from one mail; more are only counted
DECORATION_BYTES = 16 * 1024  # an inline picture with a Content-ID this small: a logo
MAX_NAME = 120

# Why a file's content was not kept.
TOO_BIG = "too_big"
TOO_MANY = "too_many"
PROGRAM = "program"

_PROGRAM_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-msdos-program",
        "application/vnd.microsoft.portable-executable",
        "application/x-dosexec",
        "application/x-executable",
        "application/x-elf",
        "application/x-mach-binary",
        "application/x-sharedlib",
        "application/vnd.android.package-archive",
        "application/x-msi",
        "application/x-ms-shortcut",
        "application/java-archive",
        "application/x-sh",
        "application/x-bat",
        "application/hta",
    }
)
# Names Windows runs when double-clicked, whatever their content looks like.
_PROGRAM_EXTENSIONS = frozenset(
    {
        "exe", "scr", "com", "pif", "bat", "cmd", "vbs", "vbe", "js", "jse", "wsf", "wsh",
        "msi", "ps1", "jar", "hta", "lnk", "cpl", "reg", "dll", "apk", "iso", "img",
    }
)  # fmt: skip
_KINDS = (
    ("image/", "image"),
    ("video/", "video"),
    ("audio/", "audio"),
    ("application/pdf", "pdf"),
    ("message/", "mail"),
    ("text/", "text"),
)
_DOCUMENT_WORDS = (
    ("spreadsheet", "spreadsheet"),
    ("excel", "spreadsheet"),
    ("presentation", "presentation"),
    ("powerpoint", "presentation"),
    ("word", "document"),
    ("opendocument.text", "document"),
    ("rtf", "document"),
)
_ARCHIVES = frozenset(
    {
        "application/zip",
        "application/x-rar-compressed",
        "application/x-7z-compressed",
        "application/gzip",
        "application/x-tar",
        "application/x-bzip2",
        "application/x-xz",
    }
)
_UNSAFE_NAME_CHARACTERS = re.compile(r'[\\/<>:"|?*]')
# The parts of a report (a bounce, a read receipt): what a machine says, never a customer's file.
_REPORT_PARTS = frozenset(
    {"message/delivery-status", "message/disposition-notification", "text/rfc822-headers"}
)


# --- what a file is ---------------------------------------------------------------------


def kind_of(content_type: str) -> str:
    """What a person calls a file of this type: image, video, pdf, document, program, …"""
    lowered = content_type.lower()
    if lowered in _PROGRAM_TYPES:
        return "program"
    for prefix, kind in _KINDS:
        if lowered.startswith(prefix):
            return kind
    for word, kind in _DOCUMENT_WORDS:
        if word in lowered:
            return kind
    return "archive" if lowered in _ARCHIVES else "file"


def size_text(size: int) -> str:
    """`830 B`, `12 KB`, `1,2 MB`: a size as a clerk reads it (decimal comma)."""
    if size < 1024:
        return f"{size} B"
    if size < 10 * 1024:
        return f"{size / 1024:.1f} KB".replace(".", ",")
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / 1024 / 1024:.1f} MB".replace(".", ",")


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return False
    sample = data[:8192]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        # A sample cut inside a character is still text; anything else is not UTF-8.
        if error.start < len(sample) - 3:
            return all(byte >= 0x20 or byte in b"\t\r\n\f" for byte in sample)
    return True


def sniff(data: bytes, declared: str) -> str:
    """The content type by the content's first bytes; text stays as declared (text/csv …)."""
    guess = filetype.guess(bytes(data[:8192])) if data else None
    if guess is not None:
        return str(guess.mime)
    if declared.startswith("message/") and b":" in data[:200]:
        return declared
    if data and _looks_like_text(data):
        return declared if declared.startswith("text/") else "text/plain"
    return "application/octet-stream"


def _extension(name: str) -> str:
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def _is_program(name: str, declared: str, content_type: str) -> bool:
    return (
        content_type in _PROGRAM_TYPES
        or declared.lower() in _PROGRAM_TYPES
        or _extension(name) in _PROGRAM_EXTENSIONS
    )


def safe_name(name: str | None, content_type: str, number: int) -> str:
    """A file name that is safe to show and to save: no folders, no control characters.

    A mail without one gets `melléklet-1.jpg` (the extension from the content).
    """
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if ch.isprintable() and unicodedata.category(ch) != "Cf")
    base = _UNSAFE_NAME_CHARACTERS.sub("_", base).strip().lstrip(".").strip()
    if len(base) > MAX_NAME:
        stem, dot, extension = base.rpartition(".")
        keep = extension[:10] if dot and stem else ""
        base = base[: MAX_NAME - len(keep) - 1].rstrip() + (f".{keep}" if keep else "")
    if base:
        return base
    guess = filetype.get_type(mime=content_type)
    extension = {"text": "txt", "mail": "eml"}.get(kind_of(content_type), "bin")
    if guess is not None:
        extension = str(guess.extension)
    return f"{render('tickets/attachment_name.txt')}-{number}.{extension}"


# --- taking a mail's files in -------------------------------------------------------------


@dataclass(frozen=True)
class Incoming:
    """One file of an incoming mail, sorted out: what it is and whether it is kept."""

    filename: str
    declared_type: str
    content_type: str  # by content
    size: int
    content: bytes | None = field(repr=False)  # None when withheld
    withheld: str | None  # TOO_BIG, TOO_MANY, PROGRAM, or None

    @property
    def kind(self) -> str:
        return kind_of(self.content_type)

    @property
    def size_text(self) -> str:
        return size_text(self.size)


@dataclass(frozen=True)
class Intake:
    """The files of one mail: listed ones in order, and how many more were not even listed."""

    files: list[Incoming]
    unlisted: int = 0


def _decoration(attachment: MailAttachment) -> bool:
    """A little inline picture the HTML shows (a signature's logo), not a customer's file."""
    return (
        attachment.content_id is not None
        and attachment.content_type.startswith("image/")
        and attachment.size <= DECORATION_BYTES
        and (attachment.inline or attachment.filename is None or _only_inline(attachment))
    )


def _only_inline(attachment: MailAttachment) -> bool:
    """No `Content-Disposition: attachment` (a file the sender attached on purpose)."""
    part = attachment.part
    if part is None:
        return True
    try:
        return part.get_content_disposition() != "attachment"
    except Exception:  # noqa: BLE001 - a garbage header says nothing either way
        return True


def sort_out(mail: ParsedMail) -> Intake:
    """The mail's files, each type checked by content, capped, programs withheld."""
    files: list[Incoming] = []
    unlisted = 0
    kept_bytes = 0
    kept_files = 0
    report = mail.content_type == "multipart/report"
    for attachment in mail.attachments:
        if _decoration(attachment) or attachment.content_type in _REPORT_PARTS:
            continue
        if report and attachment.content_type in ("message/rfc822", "message/global"):
            continue  # the returned original of a bounce: one of our own mails
        if len(files) >= MAX_LISTED:
            unlisted += 1
            continue
        data = attachment.payload()
        content_type = sniff(data, attachment.content_type)
        name = safe_name(attachment.filename, content_type, len(files) + 1)
        withheld: str | None = None
        if _is_program(name, attachment.content_type, content_type):
            withheld = PROGRAM
        elif len(data) > MAX_FILE_BYTES or kept_bytes + len(data) > MAX_MAIL_BYTES:
            withheld = TOO_BIG
        elif kept_files >= MAX_FILES:
            withheld = TOO_MANY
        else:
            kept_bytes += len(data)
            kept_files += 1
        files.append(
            Incoming(
                filename=name,
                declared_type=attachment.content_type,
                content_type=content_type,
                size=len(data),
                content=None if withheld else data,
                withheld=withheld,
            )
        )
    return Intake(files, unlisted)


def note(intake: Intake) -> str:
    """The lines the ticket's text gets about the files ("📎 Kép érkezett: …"), or ""."""
    if not intake.files and not intake.unlisted:
        return ""
    return render(
        "tickets/attachments_note.txt",
        files=intake.files,
        unlisted=intake.unlisted,
        max_file=size_text(MAX_FILE_BYTES),
        max_mail=size_text(MAX_MAIL_BYTES),
        max_files=MAX_FILES,
    )


def with_note(text: str, intake: Intake) -> str:
    """The note about the files, then the text (the note alone for no text).

    The note comes first so that the staff chat's announcement, which shows a
    report's first lines, always says that a file came.
    """
    lines = note(intake)
    if not lines:
        return text
    return f"{lines}\n\n{text.strip()}" if text.strip() else lines


async def keep(
    tx: Queryable, intake: Intake, *, ticket_id: int, inbound_mail_id: int, now: float
) -> list[int]:
    """Store the files as the ticket's next ones (in the mail's transaction); their numbers."""
    if not intake.files:
        return []
    message_id = await store.message_of_mail(tx, ticket_id, inbound_mail_id)
    return [
        await store.add(
            tx,
            ticket_id=ticket_id,
            ticket_message_id=message_id,
            inbound_mail_id=inbound_mail_id,
            filename=file.filename,
            declared_type=file.declared_type,
            content_type=file.content_type,
            size=file.size,
            content=file.content,
            withheld=file.withheld,
            now=now,
        )
        for file in intake.files
    ]


# --- staff: a ticket's files -------------------------------------------------------------


@dataclass(frozen=True)
class TicketFile:
    """One file of a ticket as staff see it (`number`: its place in the ticket, 1, 2, …)."""

    stored: store.Attachment = field(repr=False)

    @property
    def number(self) -> int:
        return self.stored.position

    @property
    def filename(self) -> str:
        return self.stored.filename

    @property
    def content_type(self) -> str:
        return self.stored.content_type

    @property
    def size(self) -> int:
        return self.stored.size

    @property
    def withheld(self) -> str | None:
        return self.stored.withheld

    @property
    def message_id(self) -> int | None:
        """The ticket message the file came with."""
        return self.stored.ticket_message_id

    @property
    def kind(self) -> str:
        return kind_of(self.stored.content_type)

    @property
    def size_text(self) -> str:
        return size_text(self.stored.size)


class AttachmentError(Exception):
    """A file staff asked for that cannot be handed over; `kind` says why (the door words it)."""

    NO_TICKET = "not_found"  # no such ticket
    NO_FILE = "no_file"  # the ticket has no file with that number
    WITHHELD = "withheld"  # listed, but its content was not kept (`reason`)

    def __init__(self, kind: str, number: str, position: int, reason: str | None = None) -> None:
        super().__init__(f"{number} #{position}: {kind}")
        self.kind = kind
        self.number = number
        self.position = position
        self.reason = reason


async def files_of(db: Queryable, ticket_id: int) -> list[TicketFile]:
    """A ticket's files in their order (without content)."""
    return [TicketFile(row) for row in await store.of_ticket(db, ticket_id)]


@dataclass(frozen=True)
class OpenedFile:
    """A ticket's file handed over to staff."""

    file: TicketFile
    content: bytes = field(repr=False)


async def open_file(
    db: Queryable, ticket_id: int, position: int, *, actor: str, now: float
) -> OpenedFile:
    """The ticket's file number `position`, with its content; audited (`attachment_opened`)."""
    label = ticket_number(ticket_id)
    if await tickets_store.get(db, ticket_id) is None:
        raise AttachmentError(AttachmentError.NO_TICKET, label, position)
    stored = await store.get(db, ticket_id, position)
    if stored is None:
        raise AttachmentError(AttachmentError.NO_FILE, label, position)
    if stored.withheld is not None:
        raise AttachmentError(AttachmentError.WITHHELD, label, position, stored.withheld)
    content = await store.content(db, stored.id)
    if content is None:  # withheld without saying so: nothing to hand over
        raise AttachmentError(AttachmentError.WITHHELD, label, position, None)
    await audit.record(
        db, now, actor, "attachment_opened", label, f"#{position} {stored.filename}"[:200]
    )
    return OpenedFile(TicketFile(stored), content)
