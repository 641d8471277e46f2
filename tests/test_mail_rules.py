"""The mail rules: never answer a machine, recognise bounces and auto-replies, find tickets
and the known problems a customer writes about."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.mail import (
    AUTOMATIC_CHECKS,
    MailContext,
    ParsedMail,
    automatic_reason,
    bounced_message_id,
    fold,
    is_bounce,
    is_out_of_office,
    parse_mail,
    self_help_topics,
)
from core.tickets import ticket_numbers_in_subject
from tests.mail_kinds import CUSTOMER_MAILS as KIND_CUSTOMER_MAILS
from tests.mail_kinds import TOPICS as KIND_TOPICS

CORPUS = Path(__file__).parent / "mail_corpus"
OURS = MailContext.of("petkomm@petkomm.hu", "ugyfelszolgalat@petkomm.hu")


def corpus(name: str) -> ParsedMail:
    return parse_mail((CORPUS / name).read_bytes())


def make_mail(headers: str = "", body: str = "Jó napot!\n", **fields: str) -> ParsedMail:
    """A small customer mail; `headers` lines are added, `fields` replace defaults."""
    defaults = {
        "From": "Kiss Anna <kiss.anna@example.hu>",
        "To": "petkomm@petkomm.hu",
        "Subject": "Kérdés",
        "Message-ID": "<abc.123@example.hu>",
    }
    defaults.update({key.replace("_", "-"): value for key, value in fields.items()})
    head = "".join(f"{name}: {value}\n" for name, value in defaults.items())
    extra = "".join(f"{line.strip()}\n" for line in headers.strip().splitlines() if line.strip())
    raw = (
        head + extra + "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n" + body
    )
    return parse_mail(raw.encode("utf-8"))


CUSTOMER_MAILS = [
    "gmail_hu_reply.eml",
    "gmail_en_reply.eml",
    "outlook_hu_reply.eml",
    "outlook_en_reply.eml",
    "outlook_hu_eredeti_uzenet.eml",
    "thunderbird_hu_reply.eml",
    "thunderbird_en_reply.eml",
    "iphone_hu_reply.eml",
    "samsung_hu_reply.eml",
    "marker_reply.eml",
    "subject_long_folded_b.eml",
    "subject_long_folded_q.eml",
    "new_iso88592_qp.eml",
    "new_windows1250_base64.eml",
    "unknown_charset.eml",
    "undeclared_8bit_cp1250.eml",
    "html_only.eml",
    "no_message_id.eml",
    "broken_mime_no_closing_boundary.eml",
    "broken_mime_no_boundary_param.eml",
    "garbage_headers.eml",
    "topic_activation_accents.eml",
    "topic_activation_plain.eml",
    "topic_activation_english.eml",
    "topic_password_accents.eml",
    "topic_password_plain.eml",
    "topic_invoices_accents.eml",
    "topic_invoices_plain.eml",
    "topic_personal_data_accents.eml",
    "topic_personal_data_plain.eml",
    "unrelated_report.eml",
    *KIND_CUSTOMER_MAILS,  # issue 12's kinds: tests/mail_kinds.py
]

MACHINE_MAILS = {
    "out_of_office_hu.eml": "auto-submitted: auto-replied",
    "bounce_dsn_postfix.eml": "auto-submitted: auto-replied",
    "bounce_exchange_headers_only.eml": "machine sender: postmaster@ceg.hu",
    "mailing_list.eml": "mailing list: list-id present",
    "noreply_notification.eml": "machine sender: noreply@posta.example.hu",
    "own_mail_looped.eml": "sent from our own address petkomm@petkomm.hu",
}


def test_every_corpus_mail_is_classified_here():
    names = sorted(path.name for path in CORPUS.glob("*.eml"))
    assert names == sorted(CUSTOMER_MAILS + list(MACHINE_MAILS))


# --- never answer a machine ---------------------------------------------------------------


@pytest.mark.parametrize("name", CUSTOMER_MAILS)
def test_a_customer_mail_may_be_answered(name):
    assert automatic_reason(corpus(name), OURS) is None


@pytest.mark.parametrize(("name", "reason"), sorted(MACHINE_MAILS.items()))
def test_a_machine_mail_is_never_answered(name, reason):
    assert automatic_reason(corpus(name), OURS) == reason


@pytest.mark.parametrize(
    ("headers", "fields", "reason"),
    [
        ("Auto-Submitted: auto-generated", {}, "auto-submitted: auto-generated"),
        ("Auto-Submitted: auto-replied; owner-email=x@y.hu", {}, "auto-submitted: auto-replied"),
        ("Return-Path: <>", {}, "null return-path"),
        (
            "",
            {"From": "MAILER-DAEMON@mx.example.hu"},
            "machine sender: mailer-daemon@mx.example.hu",
        ),
        ("", {"From": "postmaster@example.hu"}, "machine sender: postmaster@example.hu"),
        ("", {"From": "No-Reply <no-reply@bank.hu>"}, "machine sender: no-reply@bank.hu"),
        ("", {"From": "szamla.noreply@mvm.hu"}, "machine sender: szamla.noreply@mvm.hu"),
        ("", {"From": "owner-hirlevel@lists.hu"}, "machine sender: owner-hirlevel@lists.hu"),
        ("", {"From": "hirlevel-request@lists.hu"}, "machine sender: hirlevel-request@lists.hu"),
        ("Sender: donotreply@portal.hu", {}, "machine sender: donotreply@portal.hu"),
        ("List-Id: <hirlevel.example.hu>", {}, "mailing list: list-id present"),
        ("List-Unsubscribe: <mailto:x@y.hu>", {}, "mailing list: list-unsubscribe present"),
        ("Precedence: bulk", {}, "precedence: bulk"),
        ("Precedence: junk", {}, "precedence: junk"),
        ("Precedence: list", {}, "precedence: list"),
        ("Precedence: auto_reply", {}, "precedence: auto_reply"),
        ("X-Autoreply: yes", {}, "x-autoreply present"),
        ("X-Autorespond: vacation", {}, "x-autorespond present"),
        ("X-Auto-Response-Suppress: All", {}, "x-auto-response-suppress: all"),
        (
            "X-Auto-Response-Suppress: DR, OOF, AutoReply",
            {},
            "x-auto-response-suppress: autoreply, oof",
        ),
        (
            "Content-Type: multipart/report; report-type=disposition-notification; boundary=x",
            {},
            "report: disposition-notification",
        ),
        (
            "",
            {"From": "PÉTKOMM <Ugyfelszolgalat@PETKOMM.hu>"},
            "sent from our own address ugyfelszolgalat@petkomm.hu",
        ),
        ("", {"Message_ID": "<20240601.1@petkomm.hu>"}, "message-id from our domain petkomm.hu"),
        ("", {"Message_ID": "<x.1@mail.petkomm.hu>"}, "message-id from our domain mail.petkomm.hu"),
        ("X-Loop: PETKOMM@petkomm.hu", {}, "x-loop is ours"),
    ],
)
def test_each_automatic_check(headers, fields, reason):
    assert automatic_reason(make_mail(headers, **fields), OURS) == reason


@pytest.mark.parametrize(
    ("headers", "fields"),
    [
        ("Auto-Submitted: no", {}),
        ("Return-Path: <kiss.anna@example.hu>", {}),
        ("Precedence: first-class", {}),
        ("X-Auto-Response-Suppress: DR, RN, NRN", {}),
        ("X-Loop: someone-else@example.hu", {}),
        ("", {"From": "Nóra Replik <nora.replik@example.hu>"}),
        ("", {"From": "requester@example.hu"}),
        ("", {"Message_ID": "<x.1@notpetkomm.hu>"}),
        ("", {"From": "kiss.anna@petkomm.hu.example.com"}),
    ],
)
def test_look_alikes_of_machines_are_still_customers(headers, fields):
    assert automatic_reason(make_mail(headers, **fields), OURS) is None


def test_checks_run_in_the_checklist_order():
    names = [check.__name__ for check in AUTOMATIC_CHECKS]
    assert names == [
        "auto_submitted",
        "null_return_path",
        "machine_sender",
        "mailing_list",
        "bulk_precedence",
        "autoreply_header",
        "auto_response_suppress",
        "delivery_report",
        "from_ourselves",
        "our_message_id",
        "our_x_loop",
    ]


def test_mail_context_defaults_from_the_first_address():
    ours = MailContext.of("Petkomm@Petkomm.hu")
    assert ours.addresses == frozenset({"petkomm@petkomm.hu"})
    assert ours.domain == "petkomm.hu"
    assert ours.x_loop == "petkomm@petkomm.hu"
    with pytest.raises(ValueError):
        MailContext.of()


# --- out of office ----------------------------------------------------------------------------


def test_hungarian_exchange_out_of_office():
    mail = corpus("out_of_office_hu.eml")
    assert is_out_of_office(mail)
    assert not is_bounce(mail)


@pytest.mark.parametrize(
    "subject",
    [
        "Automatikus válasz: [#PK-000042] Bejelentését rögzítettük",
        "Automatic reply: [#PK-000042] Bejelentését rögzítettük",
        "Out of Office: Re: hibabejelentés",
        "Out of Office AutoReply: Kérdés",
        "Házon kívül: [#PK-000042]",
        "HAZON KIVUL",
        "Abwesenheitsnotiz: [#PK-000042]",
        "Re: Automatikus válasz: számla",
        "AutoReply: hello",
    ],
)
def test_out_of_office_by_subject(subject):
    assert is_out_of_office(make_mail(Subject=subject))


@pytest.mark.parametrize(
    "headers", ["Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: auto_reply"]
)
def test_out_of_office_by_header(headers):
    assert is_out_of_office(make_mail(headers))


@pytest.mark.parametrize(
    "subject",
    [
        "Házon kívül voltam, nem kaptam meg a levelet",
        "Re: [#PK-000042] Bejelentését rögzítettük",
        "Automatikus válaszuk nem érkezett meg",
    ],
)
def test_a_customer_is_not_out_of_office(subject):
    assert not is_out_of_office(make_mail(Subject=subject))


@pytest.mark.parametrize("name", [*CUSTOMER_MAILS, "bounce_dsn_postfix.eml", "mailing_list.eml"])
def test_no_other_corpus_mail_is_out_of_office(name):
    assert not is_out_of_office(corpus(name))


# --- bounces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "original"),
    [
        ("bounce_dsn_postfix.eml", "<20240604093012.5151.7@petkomm.hu>"),
        ("bounce_exchange_headers_only.eml", "<20240605101500.777.3@petkomm.hu>"),
    ],
)
def test_a_bounce_names_our_original_mail(name, original):
    mail = corpus(name)
    assert is_bounce(mail)
    assert bounced_message_id(mail) == original


def test_an_old_style_bounce_with_the_original_pasted_into_the_text():
    mail = make_mail(
        "Return-Path: <>",
        body=(
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered.\n\n"
            "------ This is a copy of the message, including all the headers. ------\n"
            "From: petkomm@petkomm.hu\nMessage-Id: <20240601.77@petkomm.hu>\n"
        ),
        From="Mail Delivery System <Mailer-Daemon@mx.example.hu>",
        Subject="Mail delivery failed: returning message to sender",
    )
    assert is_bounce(mail)
    assert bounced_message_id(mail) == "<20240601.77@petkomm.hu>"


@pytest.mark.parametrize("name", [*CUSTOMER_MAILS, "out_of_office_hu.eml", "mailing_list.eml"])
def test_no_other_corpus_mail_is_a_bounce(name):
    mail = corpus(name)
    assert not is_bounce(mail)
    assert bounced_message_id(mail) is None


def test_a_forwarded_mail_attached_is_not_a_bounce():
    raw = (
        b"From: kiss.anna@example.hu\nSubject: Fw: level\nMIME-Version: 1.0\n"
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
        b"Lasd lent.\n--b\nContent-Type: message/rfc822\n\n"
        b"Message-ID: <20240601.1@petkomm.hu>\nSubject: x\n\nbody\n--b--\n"
    )
    mail = parse_mail(raw)
    assert mail.embedded_message_ids == ["<20240601.1@petkomm.hu>"]
    assert not is_bounce(mail)
    assert bounced_message_id(mail) is None


def test_a_customer_complaining_about_delivery_is_not_a_bounce():
    mail = make_mail(Subject="Undeliverable: a számla nem érkezett meg")
    assert not is_bounce(mail)


# --- ticket numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "numbers"),
    [
        ("Re: [#PK-000123] Bejelentését rögzítettük", ["PK-000123"]),
        ("VS: PK-000123 számú bejelentés", ["PK-000123"]),
        ("pk000123", ["PK-000123"]),
        ("Re: Pk-000123 és PK000124, megint [#PK-000123]", ["PK-000123", "PK-000124"]),
        ("PK 000042 hiba", ["PK-000042"]),
        ("PK–000042 (Word dash)", ["PK-000042"]),
        ("[#PK-1234567]", ["PK-1234567"]),
        ("Számla 2016-000123", []),
        ("PK-123", []),
        ("APK-000123 és PK-0001234567890", []),
        ("", []),
    ],
)
def test_ticket_numbers_in_subject(subject, numbers):
    assert ticket_numbers_in_subject(subject) == numbers


@pytest.mark.parametrize(
    ("name", "numbers"),
    [
        ("gmail_hu_reply.eml", ["PK-000042"]),
        ("outlook_hu_reply.eml", ["PK-000042"]),
        ("subject_long_folded_b.eml", ["PK-000042"]),
        ("out_of_office_hu.eml", ["PK-000042"]),
        ("own_mail_looped.eml", ["PK-000044"]),
        ("unrelated_report.eml", []),
    ],
)
def test_ticket_numbers_in_corpus_subjects(name, numbers):
    assert ticket_numbers_in_subject(corpus(name).subject) == numbers


# --- self-help topics ----------------------------------------------------------------------------

TOPIC_MAILS = {
    "topic_activation_accents.eml": ["activation_code_missing"],
    "topic_activation_plain.eml": ["activation_code_missing"],
    "topic_activation_english.eml": ["activation_code_missing"],
    "topic_password_accents.eml": ["forgotten_password"],
    "topic_password_plain.eml": ["forgotten_password"],
    "topic_invoices_accents.eml": ["where_invoices"],
    "topic_invoices_plain.eml": ["where_invoices"],
    "topic_personal_data_accents.eml": ["personal_data_change"],
    "topic_personal_data_plain.eml": ["personal_data_change"],
    **KIND_TOPICS,
}


@pytest.mark.parametrize(("name", "topics"), sorted(TOPIC_MAILS.items()))
def test_self_help_topic_of_each_topic_mail(name, topics):
    assert self_help_topics(corpus(name)) == topics


@pytest.mark.parametrize(
    "name", sorted(set(CUSTOMER_MAILS) - set(TOPIC_MAILS)) + sorted(MACHINE_MAILS)
)
def test_no_self_help_topic_in_unrelated_mail(name):
    assert self_help_topics(corpus(name)) == []


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("Nem kaptam meg az aktiváló kódot.", ["activation_code_missing"]),
        ("nem kaptam meg az aktivalo kodot", ["activation_code_missing"]),
        ("Mi az aktiválási kód?", ["activation_code_missing"]),
        ("A regisztrációs kód nem érkezett meg.", ["activation_code_missing"]),
        ("Regisztráltam, de nem jött meg a levél.", ["activation_code_missing"]),
        ("Where is my activation code?", ["activation_code_missing"]),
        ("Megkaptam az aktiváló kódot, köszönöm, minden rendben.", []),
        ("Elfelejtettem a jelszavam.", ["forgotten_password"]),
        ("A jelszavamat elfelejtettem", ["forgotten_password"]),
        ("Kérek egy jelszó emlékeztetőt", ["forgotten_password"]),
        ("Nem tudok belépni a portálra.", ["forgotten_password"]),
        ("I forgot my password", ["forgotten_password"]),
        ("Hol látom a számláimat?", ["where_invoices"]),
        ("Mennyi a tartozásom?", ["where_invoices"]),
        ("Szeretném a számla megtekintése menüpontot megtalálni", ["where_invoices"]),
        ("Hol nézhetem meg az egyenlegemet?", ["where_invoices"]),
        ("Adatmódosítást kérek.", ["personal_data_change"]),
        ("Lakcím változás bejelentése", ["personal_data_change"]),
        ("Megváltozott a telefonszámom.", ["personal_data_change"]),
        ("A telefonszámom változott", ["personal_data_change"]),
        ("Elköltöztem, az új címem Pécs, Fő u. 1.", ["personal_data_change"]),
        ("Névváltozás miatt írok.", ["personal_data_change"]),
        ("Nem költöztem el, csak a szomszéd.", []),
        ("Csőtörés van az utcában, folyik a víz.", []),
        ("A költség túl magas, a víz barna.", []),
        (
            "Elfelejtettem a jelszavam, és hol látom a számláimat?",
            ["forgotten_password", "where_invoices"],
        ),
    ],
)
def test_self_help_topics_from_the_words(text, topics):
    assert self_help_topics(make_mail(body=text + "\n", Subject="Kérdés")) == topics


def test_self_help_reads_the_subject_too():
    mail = make_mail(body="Segítsenek!\n", Subject="=?utf-8?q?Elfelejtettem_a_jelszavam?=")
    assert self_help_topics(mail) == ["forgotten_password"]


def test_self_help_ignores_the_quoted_part():
    body = (
        "Köszönöm, minden rendben.\n\n"
        "On Mon, 3 Jun 2024 at 10:00, PÉTKOMM <petkomm@petkomm.hu> wrote:\n"
        "> Ha nem kapta meg az aktiváló kódot, vagy elfelejtette a jelszavát, írjon.\n"
    )
    mail = make_mail(body=body, Subject="Re: [#PK-000042] Válasz")
    assert "aktiváló" in mail.text
    assert self_help_topics(mail) == []


def test_self_help_understands_broken_iso_8859_2_letters():
    # ISO-8859-2 text shown as Latin-1 turns ő into õ and ű into û.
    mail = make_mail(body="Segítsenek!\n", Subject="jelszó emlékeztetõ")
    assert self_help_topics(mail) == ["forgotten_password"]


# --- fold -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ÁRVÍZTŰRŐ TÜKÖRFÚRÓGÉP", "arvizturo tukorfurogep"),
        ("árvíztűrő tükörfúrógép", "arvizturo tukorfurogep"),
        ("emlékeztetõ, fûtés", "emlekezteto, futes"),
        ("Ügyfélszolgálat\u00a0Ön", "ugyfelszolgalat on"),
        ("plain ascii", "plain ascii"),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded
