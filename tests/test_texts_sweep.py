"""Every template, rendered with representative values, reads like a person wrote it.

A sweep over core/texts: each template is rendered with a base context (values
that start with a vowel where the article matters: an address "anna@…", the
customer ID U0027, 5 000 Ft) and once more for each value its branches compare
a variable with, so most branches are read. No text may say "a(z)", glue two
sentences (".Kérjük", where trim_blocks ate a line break), or put an article
before a value that does not fit it ("a anna@…", "az PK-000123").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from importlib import resources
from pathlib import PurePosixPath
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest
from jinja2 import nodes

from conversations.common import plain_label
from core import paying, texts
from core.facts import Facts
from core.formats import hungarian_article
from core.payment_qr import Payee
from core.statement import AccountStatement, MonthTotals, Period, Statement, YearPicture
from core.texts import labels, render
from storage.billing import Booking, Customer, Invoice

FACTS = Facts(
    support_phone="+36 88 555 010",
    opening_hours="H–Cs 8–16, P 8–13",
    emergency_phone="+36 80 555 111",
    support_email="ugyfelszolgalat@petkomm.hu",
    payee_name="PÉTKOMM Kft.",
    payee_iban="HU42117730161111101800000000",
    payee_bic="OTPVHUHB",
    qr_payee=Payee("PÉTKOMM Kft.", "HU42117730161111101800000000", "OTPVHUHBXXX"),
    qr_off=None,
)

CUSTOMER = Customer("U0027", "Eötvös Ilona", "8105 Pétfürdő, Ősz u. 5.", "", "", "átutalás")
INVOICES = [
    Invoice(2026_002168, "U0027", "2026-01-05", "2026-01-20", 11_894, 11_894),
    Invoice(2026_000051, "U0027", "2026-02-05", "2026-02-20", 5_000, 1_500),
]
BOOKINGS = [
    (Booking("T1", "U0027", "2026-01-05", "charge", 11_894, 2026_002168, "Víz", -11_894), -11_894),
    (Booking("T2", "U0027", "2026-01-19", "payment", 11_894, None, "", 11_894), 0),
    (Booking("T3", "U0027", "2026-02-01", "adjustment", 500, None, "Jóváírás", 500), 500),
]

# The account statement and the chart (issue 16): a period with bookings, months with both.
ACCOUNT_STATEMENT = AccountStatement(
    "U0027", CUSTOMER, Period("2025-12-01", "2026-11-25"), -500, BOOKINGS, "2026-11-25"
)
PICTURE = YearPicture(
    "U0027",
    Period("2025-12-01", "2026-11-25"),
    [MonthTotals("2025-12", 11_894, 0), MonthTotals("2026-01", 5_000, 11_894)],
)


def _summary(**changes: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "ticket": SimpleNamespace(urgent=True, holder_id=9001),
        "number": "PK-000123",
        "customer_name": "Eötvös Ilona",
        "customer_id": "U0027",
        "email": "ilona@example.hu",
        "channel": "telegram",
        "subject": "Elfolyik a víz",
        "received": "2026. 02. 03. 14:30",
        "age_days": 1,
        "age_hours": 26,
        "due_date": date(2026, 2, 18),
        "days_left": 5,
        "overdue": False,
        "closed": False,
        "near": True,
        "holder": "Kiss Péter",
        "stars": 4,
    }
    values.update(changes)
    return SimpleNamespace(**values)


FILE = SimpleNamespace(
    number=1,
    filename="óraallas.jpg",
    content_type="image/jpeg",
    kind="image",
    size_text="1,2 MB",
    withheld=None,
)

# Representative values by name; the sweep also tries each value a branch compares with.
BASE: dict[str, Any] = {
    "minutes": 15,
    "username": "ilona.eotvos",
    "name": "Eötvös Ilona",
    "number": "PK-000123",
    "ticket_number": "PK-000123",
    "marker": "[PK-000123]",
    "step": 3,
    "steps": 6,
    "value": "U27",
    "address": "ilona@example.hu",
    "email": "ilona@example.hu",
    "problem": "form",
    "code": "ABCD2345EFGH6789JKLM2345",
    "link": "https://t.me/petkomm_bot?start=ABCD2345EFGH6789JKLM2345",
    "bot_link": "https://t.me/petkomm_bot",
    "why": "no_mailbox",
    "reply": "550 5.1.1",
    "logged_in": True,
    "in_dialogue": False,
    "until": "14:30",
    "urgent": ["leak"],
    "who": "Kiss Péter",
    "expires_at": "2026. 02. 05. 14:30",
    "when": "2026. 02. 03. 14:30",
    "limit": 4096,
    "text": "Elnézést a késésért, holnap kimegyünk.",
    "state": "sent",
    "length": 23,
    "foreign": "Ő",
    "per_hour": 3,
    "social": ["greeting"],
    "options": [("Regisztráció", "register"), ("Belépés", "login")],
    "choices": ["Tartozás", "Számlák"],
    "hours": 48,
    "pages": 2,
    "page": 1,
    "total": 12,
    "rows": INVOICES,
    "today": "2026-02-10",
    "balance": -13_394,
    "statement": Statement("U0027", CUSTOMER, -13_394, INVOICES, "2026-02-10"),
    "customer": CUSTOMER,
    "account": SimpleNamespace(username="ilona.eotvos", email="ilona@example.hu"),
    "draft": SimpleNamespace(
        email="ilona@example.hu", username="ilona.eotvos", customer_id="U0027", amount=5_000
    ),
    "invoice": "2026-002168",
    "kept": True,
    "correcting": True,
    "old_year": 2023,
    "mismatch": True,
    "by": "pair",
    "customer_id": "U0027",
    "days": 15,
    "long": True,
    "logout_hint": True,
    "what": "text",
    "dialogue": "registration",
    "given": ["email", "username", "password"],
    "going": "Tartozás",
    "summary": _summary(),
    "event": "new",
    "excerpt": "Elfolyik a víz a mérőóránál.",
    "cut": True,
    "answered": SimpleNamespace(number="PK-000123", via="mail", recipient="ilona@example.hu"),
    "user_id": 4242,
    "change": SimpleNamespace(number="PK-000123", changed=True),
    "kind": "not_found",
    "reason": "túl nagy",
    "position": 1,
    "file": FILE,
    "files": [FILE],
    "refused": [FILE],
    "files_shown": 1,
    "hidden": 2,
    "entries": [
        SimpleNamespace(
            who="customer",
            at="2026. 02. 03. 14:30",
            text="Elfolyik a víz.",
            author="",
            by_mail=True,  # merged with a chat ticket: each message names its way
        ),
        SimpleNamespace(
            who="auto", at="2026. 02. 03. 14:31", text="Megkaptuk.", author="", by_mail=True
        ),
        SimpleNamespace(
            who="staff",
            at="2026. 02. 04. 09:00",
            text="Kimegyünk.",
            author="staff:9001",
            clerk="Kiss",
            by_mail=False,
        ),
        SimpleNamespace(
            who="note",
            by_mail=None,
            at="2026. 02. 04. 09:05",
            text="Visszahívni délután.",
            author="Kiss",
            note_id=3,
            edited="2026. 02. 04. 10:00",
            machine=None,
        ),
    ],
    "listing": SimpleNamespace(
        include_closed=False, mine=False, total=1, pages=2, page=0, items=[_summary()]
    ),
    "beside": SimpleNamespace(
        known=True,
        statement=Statement("U0027", CUSTOMER, -13_394, INVOICES, "2026-02-10"),
        last_payment=SimpleNamespace(booked_on="2026-01-19", amount=11_894),
        chat=SimpleNamespace(account_status="active", logged_in=1),
        earlier=[
            SimpleNamespace(
                number="PK-000101", received="2026. 01. 03. 10:00", subject="Óraállás", closed=True
            )
        ],
        earlier_total=1,
    ),
    "linked": SimpleNamespace(
        number="PK-000123", name="Eötvös Ilona", customer_id="U0027", previous="U0031"
    ),
    "edited": True,
    "found": SimpleNamespace(
        query="víz", by="words", items=[_summary()], page=0, pages=2, total=12
    ),
    "merged": SimpleNamespace(number="PK-000123", gone="PK-000130"),
    "digest": SimpleNamespace(
        day=date(2026, 11, 30),
        overdue=[_summary(overdue=True)],
        due_soon=[_summary()],
        waiting=[_summary()],
        answered=12,
        median=5.2 * 3600,
        p90=1.8 * 86400,
        rating=SimpleNamespace(average=4.33, count=7),
        shown=10,
    ),
    "rated": SimpleNamespace(number="PK-000123", stars=4),
    "links": [(n, f"https://t.me/petkomm_bot?start=rt_abc_{n}") for n in range(1, 6)],
    "debt": 13_394,
    "next_due": "2026-02-20",
    "reference": "U0027 2026-000051",
    "unpaid": INVOICES,
    "canned": [SimpleNamespace(name="tartozas", description="Tartozás és befizetés")],
    "held": SimpleNamespace(
        number="PK-000123", holder="Kiss Péter", previous="Nagy Anna", changed=True
    ),
    "details": {"waiting": 3, "failed": 1, "reason": "Connection refused"},
    "topic": "mail_failing",
    "error": "Forbidden: bot was blocked by the user",
    "command": "reply",
    "subject": "Elfolyik a víz",
    "due_date": "2026. 02. 18.",
    "answer_days": 15,
    "request": "Az új telefonszámom: +36 30 555 1234.",
    "how": "changed",
    "code_ttl_hours": 48,
    "wait_until": "14:30",
    "max_file": "10 MB",
    "max_mail": "25 MB",
    "max_files": 10,
    "unlisted": 1,
    "mail_dir": "/tmp/demo/mail",
    "db_path": "/tmp/demo/petkomm.sqlite3",
    "customers": 50,
    "amount": "5000 Ft",
    "invoices": 600,
    "recipient": "ilona@example.hu",
    "path": "/tmp/demo/mail/1.eml",
    "note": "edited",
    "placeholder": "code",
    "picture": PICTURE,
    "years": [2026, 2025],
    # Notifications (issue 15)
    "on": True,
    "quiet_from": 21,
    "quiet_to": 7,
    "all_button": "off",  # the 🔔 page asked in words to switch them all
    "town": "Pétfürdő",
    "street": "Ady Endre u.",
    "invoice_no": 2026_002168,
    "outstanding": 12_345,
    "paid": 12_345,
    "prefs": SimpleNamespace(new_invoice=True, reminder=False, payment=True, outage=True),
}
# Where a name means something else in one template.
PLACES = [
    SimpleNamespace(
        customer_id="U0027",
        name="Eötvös Ilona",
        address="8105 Pétfürdő, Ősz u. 5.",
        own=True,
        shown=False,
    ),
    SimpleNamespace(
        customer_id="U1234",
        name="Eötvös Ilona",
        address="8200 Veszprém, Kossuth u. 1.",
        own=False,
        shown=True,
    ),
]
OVERRIDES: dict[str, dict[str, Any]] = {
    # The clerk's command line (cli/tickets.py): one template, a branch per line (`say`).
    "cli/tickets.txt": {
        "say": "not_found",
        "program": "run_bot.py",
        "detail": "@kata",
        "file": SimpleNamespace(**{**vars(FILE), "withheld": "too_big"}),
        "file_line": "óraallas.jpg, image/jpeg, 1.2 MB",
        "target": "óraallas.jpg",
        "reason": "Permission denied",
        "db_path": "/var/lib/petkomm/petkomm.sqlite3",
        "holders": "process 4242 (python run_bot.py import)",
        "answer": True,
        "customer": "Eötvös Ilona (U0027) <ilona@example.hu>",
        "mine": False,
        "holder": "@kata",
        "include_closed": False,
        "warn_days": 3,
        "case": "days_left",
        "due_date": date(2026, 2, 18),
        "closed": False,
        "channel": "mail",
        "stars": 4,
        "age": "2 napja",
        "deadline": "2026. 02. 18. (még 3 nap)",
        "received": "2026. 02. 03. 14:30",
        "note_id": 2,
        "author": "Kiss Péter",
        "at": "2026. 02. 03. 14:30",
        "edited": "2026. 02. 04. 09:10",
        "who": "staff",
        "machine": "bounce",
        "way": "mail",
        "payment": "csekk",
        "balance": "\u221213 394 Ft",
        "owes": True,
        "invoice": "2026-002168",
        "amount": "12 345 Ft",
        "due": "2026. 02. 18.",
        "overdue": True,
        "paid": "2026. 01. 10., 9800 Ft",
        "status": "active",
        "via": "mail",
        "recipient": "ilona@example.hu",
        "message_id": "<petkomm.123@petkomm.hu>",
        "changed": True,
        "previous": "Kiss Péter",
        "gone": "PK-000124",
        "query": "víz",
        "day": date(2026, 2, 3),
        "part": "overdue",
        "answered": 12,
        "median": "3,5 óra",
        "p90": "2,0 nap",
        "seconds": 5400,
        "count": 3,
        "average": 4.3333,
        "where": "/etc/petkomm/sablonok",
        "missing": "PETKOMM_PAYEE_NAME, PETKOMM_PAYEE_IBAN",
        "other_chat": True,
    },
    "chat/places/list.txt": {"places": PLACES},
    "chat/places/removed_alert.txt": {"removed": True},
    "chat/places/locked.txt": {"mismatch": True, "until": "14:30"},
    "chat/staff/refused.txt": {"in_group": True, "bot_username": "petkomm_bot"},
    "chat/staff/desk/noted.txt": {
        "note": SimpleNamespace(id=12, ticket_id=123, author_name="Kiss Péter", body="Visszahívni.")
    },
    "chat/staff/desk/held.txt": {"how": "take"},
    "chat/staff/desk/canned_preview.txt": {
        "draft": SimpleNamespace(id=7, ticket_id=123, name="tartozas", text="Tisztelt Ilona!"),
        "cautions": [
            SimpleNamespace(kind="no_payee", missing=("PETKOMM_PAYEE_NAME", "PETKOMM_PAYEE_IBAN")),
            SimpleNamespace(kind="other_chat", missing=()),
            SimpleNamespace(kind="other_address", missing=()),
        ],
    },
    "chat/menu/account.txt": {"rows": BOOKINGS, "balance": -11_394},
    "chat/pay/qr.txt": {
        "request": paying.for_invoice(FACTS, INVOICES[0], 1_795_600_000.0),
        "invoices": 2,
        "place": PLACES[1],  # the login has several customer IDs: the one it pays
    },
    "chat/menu/statement_sent.txt": {"statement": ACCOUNT_STATEMENT},
    "documents/statement.txt": {"statement": ACCOUNT_STATEMENT},
    "chat/staff/file_caption.txt": {"number": "PK-000123"},
    "tickets/attached_mail.txt": {
        "filename": "Gázszámla.eml",
        "sender": "Kiss Péter <kiss.peter@example.hu>",
        "date": "2026. 02. 03. 14:30",
        "subject": "Gázszámla",
        "text": "A mérőállás 4512, nem 4215.",
    },
    "tickets/machine_note.txt": {"redirected_by": "osz.gyulane@example.hu"},
    "chat/notify/new_invoice.txt": {
        "elsewhere": True,  # the user's pages show another customer ID of the login
        "invoices": [
            {
                "invoice_no": 2026_002168,
                "amount": 12_345,
                "outstanding": 12_345,
                "due_date": date(2026, 2, 18),
            },
            {
                "invoice_no": 2026_002169,
                "amount": 500,
                "outstanding": 0,
                "due_date": date(2026, 2, 20),
            },
        ]
    },
    "chat/notify/reminder_before.txt": {"due_date": date(2026, 2, 18)},
    "chat/notify/reminder_after.txt": {"due_date": date(2026, 2, 18)},
    "chat/notify/payment.txt": {
        "invoices": [{"invoice_no": 2026_002168, "amount": 12_345}],
    },
    "chat/notify/staff_preview.txt": {
        "draft": SimpleNamespace(
            customers=12,
            users=14,
            preview="🚧 Üzemzavar, tervezett munka\nPétfürdő\n\nHolnap vízszünet.",
            town="Pétfürdő",
            street="Ady Endre u.",
        )
    },
}
_FALSY = {bool: False, str: "", int: 0, list: []}

_ROOT = resources.files("core").joinpath("texts")


def _templates() -> Iterator[str]:
    def walk(folder: Any, prefix: str) -> Iterator[str]:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                yield from walk(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith((".txt", ".html")) and not entry.name.startswith("_"):
                yield f"{prefix}{entry.name}"

    yield from walk(_ROOT, "")


def _compared(template: str) -> dict[str, list[Any]]:
    """The values each top-level variable is compared with in the template's branches."""
    env = jinja2.Environment()
    tree = env.parse(_ROOT.joinpath(template).read_text("utf-8"))
    found: dict[str, list[Any]] = {}
    for compare in tree.find_all(nodes.Compare):
        operands = [compare.expr, *(op.expr for op in compare.ops)]
        names = [n.name for n in operands if isinstance(n, nodes.Name)]
        consts = [n.value for n in operands if isinstance(n, nodes.Const)]
        tuples = [n for n in operands if isinstance(n, nodes.Tuple)]
        for name in names:
            if any(op.op in ("in", "notin") for op in compare.ops) and consts:
                # `"thanks" in social`: a list holding it.
                found.setdefault(name, []).extend([[c] for c in consts])
            else:
                found.setdefault(name, []).extend(consts)
            for items in tuples:
                found.setdefault(name, []).extend(
                    i.value for i in items.items if isinstance(i, nodes.Const)
                )
    return found


def _contexts(template: str) -> Iterator[dict[str, Any]]:
    base = {**BASE, **OVERRIDES.get(template, {})}
    yield base
    for name, values in _compared(template).items():
        if name in base:
            for value in values:
                yield {**base, name: value}
    for name, value in base.items():
        falsy = _FALSY.get(type(value))
        if falsy is not None:
            yield {**base, name: falsy}


def _renders(template: str) -> Iterator[str]:
    """The template rendered in each context; a variant its code never sends is skipped."""
    for number, context in enumerate(_contexts(template)):
        try:
            yield render(template, **context)
        except (TypeError, AttributeError, AssertionError, jinja2.TemplateRuntimeError) as exc:
            if number == 0:
                raise AssertionError(f"{template} does not render: {exc}") from exc


_TAG = re.compile(r"<[^>]+>")
_GLUED = re.compile(r"[^\W_][.!?][A-ZÁÉÍÓÖŐÚÜŰ]")
_ARTICLE = re.compile(r"(?<![^\W_])(a|az|A|Az) ([„\"]?[^\s,;:()]+)")
# Where "az" is a pronoun, not an article ("az nem…"), or a lowercase word a link holds.
_NOT_ARTICLES = re.compile(r"^(nem|sem|is|volt|lesz|marad)$")


def _problems(text: str) -> list[str]:
    plain = _TAG.sub("", text)
    problems = []
    if "a(z)" in plain.lower():
        problems.append("says a(z)")
    for line in plain.splitlines():
        glued = _GLUED.search(line)
        if glued and "://" not in line and "run_bot.py" not in line:
            problems.append(f"sentences glued: {line.strip()!r}")
        for article, word in _ARTICLE.findall(line):
            if _NOT_ARTICLES.match(word):
                continue
            if article.lower() != hungarian_article(word):
                problems.append(f"{article} {word}: {line.strip()!r}")
    return problems


@pytest.mark.parametrize("template", list(_templates()))
def test_template_reads_like_a_person_wrote_it(template: str) -> None:
    """No a(z), no glued sentences, every article fits its word, in every branch tried."""
    problems: list[str] = []
    with texts.telling(FACTS):
        for text in _renders(template):
            problems.extend(p for p in _problems(text) if p not in problems)
    assert not problems, f"{template}:\n" + "\n".join(problems)


# "a <b>Belépés</b> gombot": a button named in a customer text.
_NAMED_BUTTON = re.compile(r"<b>([^<]+)</b>\)? gomb")


@pytest.mark.parametrize(
    "template", [t for t in _templates() if t.startswith("chat/") and "/staff/" not in t]
)
def test_a_named_button_is_one_the_customer_has(template: str) -> None:
    """A text names a button by its label (the emoji left out), never one that does not exist;
    tests/screen.py checks in every story that it is on the screen too."""
    buttons = {plain_label(name) for name in labels("customer")}
    with texts.telling(FACTS):
        named = {n for text in _renders(template) for n in _NAMED_BUTTON.findall(text)}
    assert named <= buttons, f"{template} names {named - buttons}"


def test_the_sweep_reads_every_folder() -> None:
    """The sweep reaches the chat, the mail and the ticket texts alike."""
    folders = {PurePosixPath(t).parts[0] for t in _templates()}
    assert {"chat", "mail", "tickets"} <= folders


@pytest.mark.parametrize(
    ("word", "article"),
    [
        ("anna@example.hu", "az"),
        ("kovacs@example.hu", "a"),
        ("U0027", "az"),
        ("PK-000123", "a"),
        ("1", "az"),
        ("1.", "az"),
        ("5", "az"),
        ("50", "az"),
        ("500", "az"),
        ("5000 Ft", "az"),
        ("1 500 Ft", "az"),
        ("1000000", "az"),
        ("2", "a"),
        ("10", "a"),
        ("100", "a"),
        ("11 894 Ft", "a"),
        ("150 000", "a"),
        ("2026-002168", "a"),
        ("Ödön", "az"),
        ("SMS", "az"),
        ("HUF", "a"),
    ],
)
def test_the_article_follows_the_sound(word: str, article: str) -> None:
    """a or az as the word is read aloud: vowels, numbers by their spoken form, letters by name."""
    assert hungarian_article(word) == article
