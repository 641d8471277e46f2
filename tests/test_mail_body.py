"""What a mail's body becomes, rule by rule (issue 12): half-broken charsets, forwards,
webmail adverts, short subjects, self-help precision and the files a mail brings.

The corpus mails of these kinds go end to end in tests/test_mail_kinds.py; these are
the domain functions on their own, with the edges the corpus does not show.
"""

from __future__ import annotations

import base64

import pytest

from core.attachments import (
    MAX_FILES,
    PROGRAM,
    TOO_MANY,
    safe_name,
    size_text,
    sniff,
    sort_out,
)
from core.mail import (
    answer_subject,
    decode_bytes,
    decode_header_value,
    forward_context,
    parse_mail,
    self_help_topics,
    shorten,
    strip_quoted,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)


def mail_with(*parts: tuple[str, str, bytes], report: bool = False) -> bytes:
    """A multipart mail: a line of text and the given (headers, content type, bytes) parts."""
    kind = "multipart/report; report-type=delivery-status" if report else "multipart/mixed"
    out = [
        "From: Kiss Anna <kiss.anna@example.hu>",
        "To: petkomm@petkomm.hu",
        "Subject: Fotók",
        "Message-ID: <parts.1@example.hu>",
        "MIME-Version: 1.0",
        f'Content-Type: {kind}; boundary="b"',
        "",
        "--b",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Küldöm.",
    ]
    for headers, content_type, data in parts:
        out += ["--b", f"Content-Type: {content_type}", "Content-Transfer-Encoding: base64"]
        out += [*filter(None, headers.split("\n")), "", base64.encodebytes(data).decode()]
    out.append("--b--")
    return "\n".join(out).encode()


# --- half-broken charsets ---------------------------------------------------------------------

TEXT = "Köszönöm szépen, üdvözlettel: Szőke Ödönné"


def test_utf8_cut_inside_its_last_character_keeps_every_other_accent():
    text, problem = decode_bytes(TEXT.encode()[:-1], "utf-8")
    assert text == TEXT[:-1] + "\ufffd"
    assert problem == "text not valid utf-8: 1 broken byte run(s) replaced"


def test_undeclared_utf8_cut_inside_a_character_is_still_utf8():
    text, problem = decode_bytes(TEXT.encode()[:-1])
    assert text == TEXT[:-1] + "\ufffd"
    assert problem == "undeclared 8-bit text, decoded as utf-8, 1 broken byte run(s) replaced"


def test_windows_1250_with_one_undefined_byte_stays_windows_1250():
    data = "„Kérem” – árvíztűrő".encode("cp1250") + b"\x98"
    assert decode_bytes(data, "windows-1250")[0] == "„Kérem” – árvíztűrő\ufffd"
    # Windows-1250 labelled UTF-8 is not mostly UTF-8: its accented letters never make
    # valid UTF-8, so the whole text still goes down the chain.
    assert decode_bytes("Üdvözlöm, Győző".encode("cp1250"), "utf-8")[0] == "Üdvözlöm, Győző"


def test_utf8_labelled_as_a_one_byte_charset_is_read_as_utf8():
    text, problem = decode_bytes("árvíztűrő".encode(), "iso-8859-1")
    assert text == "árvíztűrő"
    assert problem == "text declared iso-8859-1 is utf-8, decoded as utf-8"


def test_a_subject_cut_inside_a_character_keeps_its_accents():
    cut = base64.b64encode("Csőtörés a Fő".encode()[:-1]).decode()
    assert decode_header_value(f"=?utf-8?B?{cut}?=") == "Csőtörés a F\ufffd"


# --- forwards -----------------------------------------------------------------------------------

FORWARD = (
    "Anyám levelét küldöm.\n\n"
    "---------- Forwarded message ---------\n"
    "From: Anya <anya@example.hu>\n"
    "Subject: víz\n\n"
    "Nincs víz a házban.\n\n"
    "On Sun, Jun 9, 2024 at 5:10 PM Péter <p@example.hu> wrote:\n"
    "> Van víz?\n"
)


def test_a_forward_keeps_its_headers_and_text_but_not_its_own_quote():
    assert strip_quoted(FORWARD) == (
        "Anyám levelét küldöm.\n\n"
        "---------- Forwarded message ---------\n"
        "From: Anya <anya@example.hu>\n"
        "Subject: víz\n\n"
        "Nincs víz a házban."
    )
    # A forward inside the quote of a reply is part of the quoted conversation.
    reply = (
        "Köszönöm.\n\n"
        "2024. jún. 3., hétfő 10:00 időpontban PÉTKOMM <petkomm@petkomm.hu> ezt írta:\n"
        + "\n".join(f"> {line}" for line in FORWARD.splitlines())
        + "\n---------- Forwarded message ---------\nFrom: x@example.hu\n"
    )
    assert strip_quoted(reply) == "Köszönöm."


def test_a_forward_of_a_forward_keeps_both():
    inner = FORWARD.replace("Anyám levelét küldöm.\n\n", "")
    text = "Nézzék.\n\n---------- Továbbított üzenet ---------\nFeladó: Péter\n\nLásd lent.\n\n"
    assert strip_quoted(text + inner).endswith("Lásd lent.\n\n" + inner.split("\n\nOn Sun")[0])


def test_an_outlook_header_block_is_a_forward_only_in_a_forward_context():
    text = (
        "Lásd lent.\n\n________________________________\nFeladó: Anya\nElküldve: 2024. június 9.\n"
        "Címzett: Péter\nTárgy: víz\n\nNincs víz.\n"
    )
    assert strip_quoted(text) == "Lásd lent."
    assert strip_quoted(text, forwarded=True) == (
        "Lásd lent.\n\nFeladó: Anya\nElküldve: 2024. június 9.\nCímzett: Péter\nTárgy: víz\n\n"
        "Nincs víz."
    )


def test_forward_context():
    cases = [
        ("TO: vízóra", True, True),
        ("Fwd: Re: víz", True, True),
        ("Továbbítás: ház", False, True),
        ("Vízóra", False, True),  # replies to nothing: a header block in it is a forward
        ("Vízóra", True, False),
        ("Re: Vízóra", False, False),
        ("VS: [#PK-000042] Bejelentését rögzítettük", True, False),
    ]
    assert [forward_context(subject, replied) for subject, replied, _ in cases] == [
        forwarded for _, _, forwarded in cases
    ]


# --- webmail adverts ----------------------------------------------------------------------------


def test_a_webmail_advert_at_the_end_goes_but_a_customer_naming_a_webmail_stays():
    text = "Nincs víz.\nKiss Anna\n\n____\nFreemail - ingyenes levelezés: https://freemail.hu\n"
    assert strip_quoted(text) == "Nincs víz.\nKiss Anna\n\n____"
    text = text.replace("____", "______________________")
    assert strip_quoted(text) == "Nincs víz.\nKiss Anna"
    customers = [
        "Kérem, a freemail.hu címemre küldjék a számlát.\nKiss Anna",
        "Kiss Anna\nA Citromail nem enged belépni, innen írok, más ingyenes levelezőm nincs.",
        "Kiss Anna\nA régi címem (www.freemail.hu) megszűnt, kérem, ezt használják.",
        "Kiss Anna\nkiss.anna@freemail.hu",
    ]
    assert [strip_quoted(text) for text in customers] == customers


# --- short subjects -------------------------------------------------------------------------------


def test_a_long_subject_is_cut_at_a_word():
    subject = "Kérem, segítsenek, mert napok óta nincs víz a házban " * 40
    ours = answer_subject(subject)
    assert len(ours) <= 150 - len("[#PK-000123] ") and ours.endswith("…")
    assert subject.startswith(ours[:-1]) and subject[len(ours) - 1] == " "


def test_a_short_subject_stays_and_one_without_spaces_is_cut_hard():
    assert answer_subject("Csőtörés  a\tFő utcában") == "Csőtörés a Fő utcában"
    assert shorten("x" * 300, 50) == "x" * 49 + "…"


# --- self-help precision ------------------------------------------------------------------------


def topics_of(text: str) -> list[str]:
    raw = (
        "From: a@example.hu\nSubject: Kérdés\nMIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + text
    )
    return self_help_topics(parse_mail(raw.encode()))


def test_self_help_follows_what_the_customer_asks():
    cases = {
        "Kérem, a számláimat küldjék az új címemre.": ["personal_data_change"],
        "A tartozásomat tegnap átutaltam, kérem, írják jóvá.": [],
        "Kérem, a számláimat ezentúl e-mailben küldjék.": [],
        "A szomszéd elköltözött, azóta folyik a víz.": [],
        "Az egyenlegem hibás, mindent befizettem.": [],
        # the bare words still count when nothing else is asked with them
        "Mekkora az egyenlegem?": ["where_invoices"],
        "Hogyan tudom megnézni a számláimat?": ["where_invoices"],
        "Költözés miatt írok, az új címem Pécs.": ["personal_data_change"],
    }
    assert {text: topics_of(text) for text in cases} == cases


# --- attachments --------------------------------------------------------------------------------


def test_a_signature_logo_is_left_out_but_a_small_attached_picture_is_kept():
    logo = 'Content-Disposition: inline; filename="image001.png"\nContent-ID: <image001.png@x>'
    photo = 'Content-Disposition: attachment; filename="foto.png"\nContent-ID: <f_1>'
    intake = sort_out(parse_mail(mail_with((logo, "image/png", PNG), (photo, "image/png", PNG))))
    assert [(f.filename, f.content_type, f.withheld) for f in intake.files] == [
        ("foto.png", "image/png", None)
    ]


def test_more_files_than_kept_are_listed_withheld():
    part = ('Content-Disposition: attachment; filename="f.png"', "image/png", PNG)
    intake = sort_out(parse_mail(mail_with(*[part] * (MAX_FILES + 1))))
    assert [f.withheld for f in intake.files] == [None] * MAX_FILES + [TOO_MANY]
    assert intake.files[-1].content is None


def test_a_program_is_withheld_by_its_content_or_its_name():
    exe = b"MZ\x90\x00" + b"\x00" * 60
    script = b'WScript.Echo "hi"\r\n'
    parts = [
        ('Content-Disposition: attachment; filename="foto.jpg"', "image/jpeg", exe),
        ('Content-Disposition: attachment; filename="szamla.pdf.vbs"', "text/plain", script),
    ]
    intake = sort_out(parse_mail(mail_with(*parts)))
    assert [(f.content_type, f.withheld) for f in intake.files] == [
        ("application/x-msdownload", PROGRAM),
        ("text/plain", PROGRAM),
    ]


def test_a_bounce_brings_no_files():
    original = b"From: petkomm@petkomm.hu\r\nSubject: x\r\n\r\nszia\r\n"
    intake = sort_out(parse_mail(mail_with(("", "message/rfc822", original), report=True)))
    assert intake.files == []


@pytest.mark.parametrize(
    ("name", "content_type", "safe"),
    [
        ("../../etc/passwd", "text/plain", "passwd"),
        ("C:\\Users\\anna\\fotó.jpg", "image/jpeg", "fotó.jpg"),
        ("szamla\u202egpj.exe", "application/x-msdownload", "szamlagpj.exe"),
        ("..", "image/png", "melléklet-3.png"),
        (None, "application/pdf", "melléklet-3.pdf"),
        (None, "message/rfc822", "melléklet-3.eml"),  # a mail forwarded as an attachment
        ("a:b?.txt", "text/plain", "a_b_.txt"),
        ("x" * 300 + ".jpeg", "image/jpeg", "x" * 115 + ".jpeg"),
    ],
)
def test_safe_name(name, content_type, safe):
    assert safe_name(name, content_type, 3) == safe


def test_sniff_and_sizes():
    assert sniff(PNG, "application/octet-stream") == "image/png"
    assert sniff("mérőállás: 123".encode(), "application/octet-stream") == "text/plain"
    assert sniff(b"a;b\n1;2\n", "text/csv") == "text/csv"
    assert sniff(b"\x00\x01\x02\x03", "image/jpeg") == "application/octet-stream"
    assert [size_text(n) for n in (101, 1232, 20_000, 3_500_000)] == [
        "101 B",
        "1,2 KB",
        "20 KB",
        "3,3 MB",
    ]
