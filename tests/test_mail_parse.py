"""Reading real-shaped mail: the corpus in tests/mail_corpus, charsets, quotes, broken MIME."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.mail import (
    REPLY_ABOVE_MARKER,
    MailParseError,
    ParsedMail,
    decode_bytes,
    decode_header_value,
    html_to_text,
    parse_mail,
    strip_quoted,
)
from tests.mail_kinds import READS as KIND_READS

CORPUS = Path(__file__).parent / "mail_corpus"
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.eml"))
OUR_ID = "<20240603080000.4242.1@petkomm.hu>"
OUR_SUBJECT = "[#PK-000042] Bejelentését rögzítettük"


def lines(*parts: str) -> str:
    return "\n".join(parts)


@dataclass(frozen=True)
class Expected:
    """What a person reading the mail sees: sender, subject, the new words."""

    from_address: str
    from_name: str
    subject: str
    new_text: str
    in_reply_to: str | None = None


EXPECTED: dict[str, Expected] = {
    # --- customers replying to one of our mails -----------------------------------------
    "gmail_hu_reply.eml": Expected(
        "kovacs.janos1958@gmail.com",
        "Kovács János",
        f"Re: {OUR_SUBJECT}",
        lines(
            "Köszönöm a gyors visszajelzést! Azóta megjött a víz, de a nyomás még mindig",
            "nagyon gyenge a második emeleten.",
            "",
            "Üdvözlettel:",
            "Kovács János",
        ),
        OUR_ID,
    ),
    "gmail_en_reply.eml": Expected(
        "nagy.eva.1972@gmail.com",
        "Nagy Éva",
        f"Re: {OUR_SUBJECT}",
        lines(
            "Elnézést, a mérőóra gyári száma helyesen: 12345678. Kérem, javítsák a",
            "bejelentésben.",
            "",
            "Nagy Éva",
        ),
        OUR_ID,
    ),
    "outlook_hu_reply.eml": Expected(
        "szucs.odon@outlook.hu",
        "Szűcs Ödön",
        f"VS: {OUR_SUBJECT}",
        lines(
            "Jó napot!",
            "",
            "A víz továbbra sem folyik, kérem, küldjenek szerelőt még ma.",
            "",
            "Tisztelettel:",
            "Szűcs Ödön",
            "06 30 123 4567",
        ),
        OUR_ID,
    ),
    "outlook_en_reply.eml": Expected(
        "toth.gabor@ceg.hu",
        "Tóth Gábor",
        f"RE: {OUR_SUBJECT}",
        lines("Köszönöm, a hiba megszűnt, a bejelentést lezárhatják.", "", "Tóth Gábor"),
        OUR_ID,
    ),
    "outlook_hu_eredeti_uzenet.eml": Expected(
        "feher.ilona@t-online.hu",
        "Fehér Ilona",
        f"VS: {OUR_SUBJECT}",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "A számlán szereplő összeg nem egyezik a leolvasott mérőállással.",
            "Kérem, ellenőrizzék.",
            "",
            "Fehér Ilona",
        ),
        OUR_ID,
    ),
    "thunderbird_hu_reply.eml": Expected(
        "horvath.peter@citromail.hu",
        "Horváth Péter",
        f"Re: {OUR_SUBJECT}",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            # format=flowed: the soft line break is joined again
            "Köszönöm a tájékoztatást. A szerelő délután megérkezett, a hibát kijavította.",
            "",
            "Üdvözlettel:",
            "Horváth Péter",
        ),
        OUR_ID,
    ),
    "thunderbird_en_reply.eml": Expected(
        "balogh.erzsebet@freemail.hu",
        "Balogh Erzsébet",
        f"Re: {OUR_SUBJECT}",
        lines(
            "Jó napot kívánok!",
            "",
            "A múlt heti számlát kétszer vonták le a bankszámlámról. "
            "Kérem, utalják vissza a különbözetet.",
            "",
            "Balogh Erzsébet",
        ),
        OUR_ID,
    ),
    "iphone_hu_reply.eml": Expected(
        "kiss.anna@icloud.com",
        "Kiss Anna",
        f"Re: {OUR_SUBJECT}",
        "Rendben, holnap délelőtt otthon leszek.",
        OUR_ID,
    ),
    "samsung_hu_reply.eml": Expected(
        "lakatos.bela@freemail.hu",
        "Lakatos Béla",
        f"Re: {OUR_SUBJECT}",
        "Köszönöm, megkaptam.",
        OUR_ID,
    ),
    "marker_reply.eml": Expected(
        "molnar.zoltan@freemail.hu",
        "Molnár Zoltán",
        "Re: [#PK-000042] Vízmérő csere ügyében",
        lines("A mérőóra állása ma reggel: 01234 m3.", "", "Molnár Zoltán"),
        "<20240604120000.4343.2@petkomm.hu>",
    ),
    "subject_long_folded_b.eml": Expected(
        "olah.maria@outlook.com",
        "Oláh Mária",
        "Re: [#PK-000042] Kérem, sürgősen küldjenek szerelőt, mert a pincében áll a víz "
        "és a hőmérő is fagypont körül van",
        lines("A pincében már 10 cm-es a víz.", "", "Oláh Mária"),
        OUR_ID,
    ),
    # --- new reports in every charset and encoding ------------------------------------
    "new_iso88592_qp.eml": Expected(
        "varga.gyozo@vipmail.hu",
        "Varga Győző",
        "Szivárgás a Kossuth utcában, a tűzcsapnál",
        lines(
            "Tisztelt PÉTKOMM!",
            "",
            "A Kossuth utca 5. előtt ősz óta szivárog a víz a tűzcsap melletti aknafedélnél.",
            "Kérem, nézzék meg, mert az úttesten már jegesedik.",
            "",
            "Üdvözlettel:",
            "Varga Győző",
        ),
    ),
    "new_windows1250_base64.eml": Expected(
        "nemeth.tunde@t-online.hu",
        "Németh Tünde",
        "Reklamáció: hibás mérőóra-leolvasás, szűrőcsere díja",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "A május havi számlámon 18 450 Ft szerepel, pedig a fogyasztásunk",
            "nem változott. Kérem, vizsgálják felül a leolvasást, mert szerintem hibás az",
            "óraállás.",
            "",
            "Tisztelettel:",
            "Németh Tünde",
        ),
    ),
    "subject_long_folded_q.eml": Expected(
        "pinter.akos@gmail.com",
        "Pintér Ákos",
        "Hibabejelentés: a vízmérő óra nem működik, és a múlt havi számlán túl nagy "
        "összeg szerepel",
        lines("A vízmérő óra két napja áll, a kijelzője üres.", "", "Pintér Ákos"),
    ),
    "unknown_charset.eml": Expected(
        "sandor.gyozo@example.hu",
        "Sándor Győző",
        "Vízóra csere időpontja",
        "Jó napot! A vízóra cseréjének időpontját szeretném egyeztetni, lehetőleg délután.",
    ),
    "undeclared_8bit_cp1250.eml": Expected(
        "biro.ferenc@citromail.hu",
        "Bíró Ferenc",
        "Vízszolgáltatás megszűnt a Szőlő utcában",
        lines(
            "Tisztelt Cím!",
            "",
            "Értesítem, hogy a Szőlő utcai házunkban megszűnt a vízszolgáltatás.",
            "",
            "Bíró Ferenc",
        ),
    ),
    "html_only.eml": Expected(
        "olah.maria@freemail.hu",
        "Oláh Mária",
        "Re: Aknafedél",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "A vízmérő aknájában áll a víz, a fedél is törött.",
            "Kérem, nézzék meg & értesítsenek.",
            "Köszönettel: Oláh Mária <Kert u. 3.>",
        ),
    ),
    "no_message_id.eml": Expected(
        "kelemen.andrea@example.hu",
        "Kelemen Andrea",
        "Utcanév elírás a számlán",
        lines("A számlámon a Fő utca helyett Fő útca szerepel.", "", "Kelemen Andrea"),
    ),
    # --- broken mail: read what can be read ---------------------------------------------
    "broken_mime_no_closing_boundary.eml": Expected(
        "szabo.klara@gmail.com",
        "Szabó Klára",
        "Csatolt számla",
        lines("Csatolom a májusi számlát, kérem nézzék meg a 3. tételt.", "", "Szabó Klára"),
    ),
    "broken_mime_no_boundary_param.eml": Expected(
        "gulyas.erno@example.hu",
        "Gulyás Ernő",
        "Mérőállás",
        lines("A mérőállás június 11-én: 04567 m3.", "", "Gulyás Ernő"),
    ),
    "garbage_headers.eml": Expected(
        "kovacs.bela@example.hu",
        "Kovács Béla",
        # the undecodable encoded word is kept as it was, not dropped
        "Csőtörés =?utf-8?B?!!!notbase64?=",
        lines(
            # a header line without a colon ends the header block (as in every mail client)
            "THIS LINE HAS NO COLON AND ENDS THE HEADERS",
            "Csőtörés van a Rákóczi úton, a 14-es szám előtt.",
        ),
    ),
    # --- machines -------------------------------------------------------------------------
    "out_of_office_hu.eml": Expected(
        "toth.gabor@ceg.hu",
        "Tóth Gábor",
        f"Automatikus válasz: {OUR_SUBJECT}",
        lines(
            "Köszönöm levelét. Június 10-ig szabadságon vagyok, leveleimet nem olvasom.",
            "Sürgős ügyben kérem, keresse Kelemen Andreát (kelemen.andrea@ceg.hu).",
        ),
        OUR_ID,
    ),
    "bounce_dsn_postfix.eml": Expected(
        "mailer-daemon@mx.freemail.hu",
        "Mail Delivery System",
        "Undelivered Mail Returned to Sender",
        lines(
            "This is the mail system at host mx.freemail.hu.",
            "",
            "I'm sorry to have to inform you that your message could not",
            "be delivered to one or more recipients. It's attached below.",
            "",
            "<nemletezo.cim@freemail.hu>: host mx.freemail.hu[195.228.245.1] said: 550",
            "    5.1.1 <nemletezo.cim@freemail.hu>: Recipient address rejected: User unknown",
        ),
    ),
    "bounce_exchange_headers_only.eml": Expected(
        "postmaster@ceg.hu",
        "",
        "Kézbesíthetetlen: [#PK-000042] Válasz a bejelentésére",
        lines(
            "Nem sikerült kézbesíteni az üzenetet a következő címzetteknek:",
            "",
            "toth.gabor.regi@ceg.hu",
            "A címzett postafiókja nem létezik.",
        ),
        "<20240605101500.777.3@petkomm.hu>",
    ),
    "mailing_list.eml": Expected(
        "hirlevel@maviz.example",
        "Magyar Víziközmű Szövetség",
        "[MaVíz hírlevél] Júniusi számunk",
        lines(
            "Kedves Tagtársak!",
            "",
            "Júniusi számunkban a víziközmű-díjak változásáról és a nyári vízhasználatról "
            "olvashatnak.",
            "",
            "_______________________________________________",
            "Leiratkozás: https://lists.maviz.example/options/hirlevel",
        ),
    ),
    "noreply_notification.eml": Expected(
        "noreply@posta.example.hu",
        "Magyar Posta",
        "Küldeményét kézbesítettük",
        "RL123456789HU számú küldeményét kézbesítettük.",
    ),
    "own_mail_looped.eml": Expected(
        "petkomm@petkomm.hu",
        "PÉTKOMM Ügyfélszolgálat",
        "[#PK-000044] Bejelentését rögzítettük",
        lines(
            "Tisztelt Ügyfelünk!",
            "",
            "Bejelentését PK-000042 számon rögzítettük. Munkatársunk 15 napon belül",
            "válaszol.",
            "",
            "Üdvözlettel:",
            "PÉTKOMM Ügyfélszolgálat",
        ),
    ),
    # --- self-help topics -----------------------------------------------------------------
    "topic_activation_accents.eml": Expected(
        "farkas.imre@gmail.com",
        "Farkas Imre",
        "Nem kaptam meg az aktiváló kódot",
        lines(
            "Tisztelt Ügyfélszolgálat!",
            "",
            "Tegnap regisztráltam a Telegram-csatornán, de az aktiváló kódot tartalmazó levél "
            "azóta sem érkezett meg. A levélszemét mappát is megnéztem.",
            "",
            "Köszönöm:",
            "Farkas Imre",
        ),
    ),
    "topic_activation_plain.eml": Expected(
        "juhasz.laszlo@freemail.hu",
        "Juhasz Laszlo",
        "regisztracio",
        lines(
            "Jo napot! Regisztraltam de nem jott meg a level az aktivalasi koddal. Mit tegyek?",
            "Koszonom, Juhasz Laszlo",
        ),
    ),
    "topic_activation_english.eml": Expected(
        "john.smith@example.com",
        "John Smith",
        "Registration",
        lines(
            "Hello,",
            "",
            "I registered yesterday but I did not receive the activation code.",
            "",
            "Thanks,",
            "John Smith",
        ),
    ),
    "topic_password_accents.eml": Expected(
        "papp.judit@t-online.hu",
        "Papp Judit",
        "Belépés",
        lines(
            "Elfelejtettem a jelszavamat, és most nem tudok belépni a fiókomba. Kérem, segítsenek!",
            "",
            "Papp Judit",
        ),
    ),
    "topic_password_plain.eml": Expected(
        "lukacs.gyula@gmail.com",
        "Lukacs Gyula",
        "jelszo emlekezteto",
        lines("nem tudok belepni, elfelejtettem a jelszot", "Lukacs Gyula"),
    ),
    "topic_invoices_accents.eml": Expected(
        "simon.edit@citromail.hu",
        "Simon Edit",
        "Számlák",
        lines(
            "Üdvözlöm! Hol látom a számláimat és az aktuális egyenlegemet az új rendszerben?",
            "",
            "Köszönettel:",
            "Simon Edit",
        ),
    ),
    "topic_invoices_plain.eml": Expected(
        "balazs.tamas@gmail.com",
        "Balazs Tamas",
        "Kerdes",
        lines(
            "Szeretnem megtudni mennyi a tartozasom es hol nezhetem meg a folyoszamlat.",
            "Balazs Tamas",
        ),
    ),
    "topic_personal_data_accents.eml": Expected(
        "kozma.reka@gmail.com",
        "Kozma Réka",
        "Adatmódosítás",
        lines(
            "Tisztelt PÉTKOMM!",
            "",
            "Múlt hónapban elköltöztem, az új lakcímem: 7621 Pécs, Király u. 20.",
            "A telefonszámom is megváltozott: 06 70 987 6543.",
            "",
            "Tisztelettel:",
            "Kozma Réka",
        ),
    ),
    "topic_personal_data_plain.eml": Expected(
        "szalai.peter@freemail.hu",
        "Szalai Peter",
        "adatvaltozas",
        lines(
            "Jo napot, koltoztem, kerem modositsak az adataimat. Uj cim: Pecs, Rakoczi ut 5.",
            "Szalai Peter",
        ),
    ),
    "unrelated_report.eml": Expected(
        "bako.zsuzsanna@gmail.com",
        "Bakó Zsuzsanna",
        "Csőtörés a Petőfi utcában",
        lines(
            "Jó napot! A Petőfi utca 12. előtt eltört egy cső, folyik a víz az úttestre. "
            "Kérem, küldjenek valakit minél előbb.",
            "",
            "Üdvözlettel:",
            "Bakó Zsuzsanna",
        ),
    ),
}

# Issue 12's kinds (forwards, attachments, half-broken charsets, …): tests/mail_kinds.py.
EXPECTED.update(KIND_READS)  # Reads has the fields of Expected

# Replies that quote our mail: the quote must be in the body and gone from new_text.
QUOTING_REPLIES = [
    "gmail_hu_reply.eml",
    "gmail_en_reply.eml",
    "outlook_hu_reply.eml",
    "outlook_en_reply.eml",
    "outlook_hu_eredeti_uzenet.eml",
    "thunderbird_hu_reply.eml",
    "thunderbird_en_reply.eml",
    "iphone_hu_reply.eml",
    "samsung_hu_reply.eml",
]


def read(name: str, line_ending: str = "\n") -> bytes:
    raw = (CORPUS / name).read_bytes()
    return raw if line_ending == "\n" else raw.replace(b"\n", line_ending.encode())


def parse_corpus(name: str) -> ParsedMail:
    return parse_mail(read(name))


def test_every_corpus_file_has_expectations_and_a_readme_line():
    assert CORPUS_FILES == sorted(EXPECTED)
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert [name for name in CORPUS_FILES if f"`{name}`" not in readme] == []


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_mail_reads_as_a_person_sees_it(name, line_ending):
    mail = parse_mail(read(name, line_ending))
    expected = EXPECTED[name]
    assert mail.from_address == expected.from_address
    assert mail.from_name == expected.from_name
    assert mail.subject == expected.subject
    assert mail.new_text == expected.new_text
    assert mail.in_reply_to == expected.in_reply_to


@pytest.mark.parametrize("name", QUOTING_REPLIES)
def test_reply_loses_the_quote_and_the_attribution_but_keeps_the_customer(name):
    mail = parse_corpus(name)
    assert "Bejelentését PK-000042 számon rögzítettük" in mail.text
    assert "rögzítettük" not in mail.new_text
    for leftover in ("írta", "wrote", "Feladó", "From:", "Eredeti", "Original", ">", "küldve"):
        assert leftover not in mail.new_text
    assert mail.references == [OUR_ID]
    assert mail.new_text.strip()


def test_marker_reply_cuts_at_our_separator_line():
    mail = parse_corpus("marker_reply.eml")
    assert REPLY_ABOVE_MARKER in mail.text
    assert "Kérjük, adja meg" in mail.text
    assert "Kérjük" not in mail.new_text
    assert mail.references == [OUR_ID, "<20240604120000.4343.2@petkomm.hu>"]


# --- headers ------------------------------------------------------------------------------


def test_long_folded_q_subject_keeps_every_space():
    mail = parse_corpus("subject_long_folded_q.eml")
    assert "nem működik, és a múlt havi számlán túl nagy összeg" in mail.subject
    assert "  " not in mail.subject


def test_b_encoded_subject_with_a_character_split_between_words():
    mail = parse_corpus("subject_long_folded_b.eml")
    assert mail.subject.startswith("Re: [#PK-000042] Kérem, sürgősen küldjenek")
    assert "\ufffd" not in mail.subject
    assert mail.problems == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a?=\r\n =?utf-8?q?_b?=", "a b"),
        ("=?utf-8?q?a?= b =?utf-8?q?c?=", "a b c"),
        ("Re: =?iso-8859-2?Q?V=EDzm=E9r=F5?= csere", "Re: Vízmérő csere"),
        ("=?UTF-8?B?w6FydsOtenTF?= =?UTF-8?B?sXLFkQ==?=", "árvíztűrő"),
        ("=?windows-1250?Q?=DCgyf=E9l?=", "Ügyfél"),
        ("=?utf-8*hu?q?=C3=A1?=", "á"),
        ("plain  text,  two  spaces", "plain  text,  two  spaces"),
    ],
)
def test_decode_header_value(raw, expected):
    assert decode_header_value(raw) == expected


def test_unknown_charset_in_a_header_falls_back_and_says_so():
    problems: list[str] = []
    assert decode_header_value("=?x-foo?Q?=F5r?=", problems) == "őr"
    assert problems == ["header: unknown charset x-foo, decoded as windows-1250"]


def test_message_id_references_and_date():
    mail = parse_corpus("marker_reply.eml")
    assert mail.message_id == "<fm.20240605065812.9k3j2h1g@freemail.hu>"
    assert mail.message_id_missing is False
    assert mail.date is not None and mail.date.isoformat() == "2024-06-05T06:58:12+02:00"
    assert mail.to == ["petkomm@petkomm.hu"]


def test_missing_message_id_gets_a_stable_synthetic_one():
    raw = read("no_message_id.eml")
    first, second = parse_mail(raw), parse_mail(raw)
    assert first.message_id_missing is True
    assert first.message_id == f"<md5-{hashlib.md5(raw).hexdigest()}@missing.petkomm>"
    assert second.message_id == first.message_id
    assert parse_mail(raw + b"\n").message_id != first.message_id


def test_outlook_message_id_on_a_continuation_line():
    mail = parse_corpus("outlook_hu_reply.eml")
    assert mail.message_id == (
        "<AM9PR02MB7212A5F0E1D2C3B4A5F6E7D8C9B0A1B2C3D4@AM9PR02MB7212.eurprd02.prod.outlook.com>"
    )


# --- charsets -------------------------------------------------------------------------------


def test_iso_8859_2_quoted_printable_body():
    text = parse_corpus("new_iso88592_qp.eml").text
    assert "ősz óta szivárog a víz a tűzcsap melletti" in text


def test_windows_1250_base64_body_and_subject():
    mail = parse_corpus("new_windows1250_base64.eml")
    assert "szűrőcsere" in mail.subject
    assert "vizsgálják felül" in mail.text
    assert mail.problems == []


def test_unknown_charset_falls_back_to_windows_1250():
    mail = parse_corpus("unknown_charset.eml")
    assert "cseréjének időpontját szeretném" in mail.text
    assert "unknown charset unknown-8bit, decoded as windows-1250" in mail.problems
    assert "header: unknown charset x-unknown, decoded as windows-1250" in mail.problems


def test_undeclared_8bit_cp1250_body_and_headers():
    mail = parse_corpus("undeclared_8bit_cp1250.eml")
    assert "Szőlő utcai házunkban megszűnt" in mail.text
    assert mail.from_name == "Bíró Ferenc"
    assert "undeclared 8-bit text, decoded as windows-1250" in mail.problems


@pytest.mark.parametrize(
    ("data", "declared", "problem"),
    [
        ("árvíztűrő tükörfúrógép".encode(), "utf-8", None),
        ("árvíztűrő tükörfúrógép".encode("cp1250"), "windows-1250", None),
        ("árvíztűrő tükörfúrógép".encode("iso-8859-2"), "ISO-8859-2", None),
        ("árvíztűrő tükörfúrógép".encode("cp1250"), "utf-8", "text not valid utf-8"),
        ("árvíztűrő tükörfúrógép".encode("cp1250"), None, "undeclared 8-bit text"),
        ("árvíztűrő tükörfúrógép".encode("cp1250"), "x-foo", "unknown charset x-foo"),
        ("árvíztűrő tükörfúrógép".encode(), "base64", "unknown charset base64"),
        ("árvíztűrő tükörfúrógép".encode(), '"us-ascii"', "text not valid us-ascii"),
    ],
)
def test_charset_chain(data, declared, problem):
    text, reported = decode_bytes(data, declared)
    assert text == "árvíztűrő tükörfúrógép"
    if problem is None:
        assert reported is None
    else:
        assert reported is not None and reported.startswith(problem)


def test_bytes_valid_in_no_charset_of_the_chain_still_decode():
    # 0x81 is undefined in Windows-1250 and invalid UTF-8: ISO-8859-2 takes it.
    text, problem = decode_bytes(b"\x81\xf5r", "utf-8")
    assert text.endswith("őr")
    assert problem == "text not valid utf-8, decoded as iso-8859-2"


# --- HTML -------------------------------------------------------------------------------------


def test_html_only_mail_becomes_readable_text():
    mail = parse_corpus("html_only.eml")
    assert mail.text_from_html is True
    assert "tracking" not in mail.text and "font-family" not in mail.text
    assert "Levél" not in mail.text  # the <title>
    assert "> Tisztelt Űrlapkitöltő!" in mail.text  # the blockquote, marked as quoted
    assert "Űrlapkitöltő" not in mail.new_text


def test_html_to_text_structure():
    html = (
        "<p>Első&nbsp;bekezdés<br>új sor</p><div>doboz</div><ul><li>egy</li><li>kettő</li></ul>"
        "<table><tr><td>a</td><td>b</td></tr></table><script>x()</script><style>p{}</style>"
        "<p>&lt;tag&gt; &amp; &#337;&#x171;</p>"
    )
    assert html_to_text(html) == lines(
        "Első bekezdés", "új sor", "", "doboz", "", "- egy", "- kettő", "", "a b", "", "<tag> & őű"
    )


def test_alternative_prefers_the_plain_part():
    mail = parse_corpus("gmail_hu_reply.eml")
    assert mail.text_from_html is False
    assert mail.part_types == ["multipart/alternative", "text/plain", "text/html"]


# --- attachments and broken MIME ----------------------------------------------------------------


def test_multipart_without_closing_boundary_keeps_text_and_attachment():
    mail = parse_corpus("broken_mime_no_closing_boundary.eml")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("szamla_2024_05.pdf", "application/pdf")
    ]
    assert mail.attachments[0].size > 0
    assert "MIME defect: CloseBoundaryNotFoundDefect" in mail.problems


def test_multipart_without_boundary_parameter_is_salvaged():
    mail = parse_corpus("broken_mime_no_boundary_param.eml")
    assert mail.text.startswith("A mérőállás június 11-én")
    assert [a.filename for a in mail.attachments] == ["meroora.jpg"]
    assert mail.attachments[0].size == 304
    assert "multipart without boundary, guessed 'frontier'" in mail.problems


def test_garbage_headers_do_not_stop_the_mail():
    mail = parse_corpus("garbage_headers.eml")
    assert mail.date is None
    assert any(problem.startswith("unreadable Date header") for problem in mail.problems)
    assert "Csőtörés van a Rákóczi úton" in mail.text


@pytest.mark.parametrize("raw", [b"", b"   \r\n\r\n  "])
def test_empty_input_raises_for_quarantine(raw):
    with pytest.raises(MailParseError):
        parse_mail(raw)


@pytest.mark.parametrize(
    "raw",
    [
        bytes(range(256)) * 4,
        b"no headers at all, just words",
        b"Subject: only a header",
        b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi",
        b"Content-Type: multipart/alternative; boundary=x\n\n--x\n--x--\n",
        b'Content-Type: text/plain; charset="\n\nhi',
        b"Content-Type: message/rfc822\n\nnot a message",
        b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n!!!===\n",
        b'From: "unterminated <a@b\nSubject: =?utf-8?q?=ZZ?=\n\nx',
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\n\n"
        b"--x\nContent-Type: message/delivery-status\n\ngarbage\n--x--\n",
    ],
    ids=[
        "binary",
        "no-headers",
        "header-only",
        "truncated-multipart",
        "empty-alternative",
        "broken-param",
        "bad-rfc822",
        "bad-base64",
        "bad-address",
        "bad-dsn",
    ],
)
def test_malformed_input_never_raises(raw):
    mail = parse_mail(raw)
    assert mail.message_id
    assert isinstance(mail.text, str) and isinstance(mail.new_text, str)


def test_attachment_metadata_with_encoded_names():
    raw = (
        b"From: a@example.hu\nSubject: csatolmany\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n'
        b"--b\nContent-Type: text/plain; charset=utf-8\n\nL\xc3\xa1sd a csatolm\xc3\xa1nyt.\n"
        b"--b\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n"
        b"Content-Disposition: attachment; filename*=utf-8''sz%C3%A1mla%20m%C3%A1jus.pdf\n\n"
        + base64.encodebytes(b"x" * 1000)
        + b'--b\nContent-Type: image/png; name="=?utf-8?B?bcOpcsWRw7NyYS5wbmc=?="\n'
        b"Content-Disposition: inline\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(b"y" * 10)
        + b"--b\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment\n\n"
        b"not the body\n--b--\n"
    )
    mail = parse_mail(raw)
    assert mail.text == "Lásd a csatolmányt."
    assert [(a.filename, a.content_type, a.size, a.inline) for a in mail.attachments] == [
        ("számla május.pdf", "application/pdf", 1000, False),
        ("mérőóra.png", "image/png", 10, True),
        ("notes.txt", "text/plain", 12, False),
    ]


def test_delivery_status_fields_are_read():
    mail = parse_corpus("bounce_dsn_postfix.eml")
    assert [(s.recipient, s.action, s.status) for s in mail.delivery_status] == [
        ("nemletezo.cim@freemail.hu", "failed", "5.1.1")
    ]
    assert mail.delivery_status[0].diagnostic is not None
    assert "User unknown" in mail.delivery_status[0].diagnostic
    assert mail.embedded_message_ids == ["<20240604093012.5151.7@petkomm.hu>"]


# --- the 15 MB attachment, built in memory ---------------------------------------------------


def make_big_attachment_mail(size: int = 15 * 1024 * 1024) -> bytes:
    """A customer's report with a `size`-byte photo attached (base64), built in memory."""
    block = b"".join(hashlib.sha256(bytes([i])).digest() for i in range(64))  # 2 KiB
    content = (block * (size // len(block) + 1))[:size]
    head = (
        "From: =?utf-8?q?Kis_P=C3=A9ter?= <kis.peter@gmail.com>\n"
        "To: petkomm@petkomm.hu\n"
        "Subject: =?utf-8?q?M=C3=A9r=C5=91akna_fot=C3=B3k?=\n"
        "Message-ID: <big.attachment.1@gmail.com>\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="big"\n\n'
        "--big\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
        "Csatolom a mérőakna fotóit.\n\n"
        '--big\nContent-Type: image/jpeg; name="akna.jpg"\n'
        "Content-Disposition: attachment; filename*=utf-8''m%C3%A9r%C5%91akna.jpg\n"
        "Content-Transfer-Encoding: base64\n\n"
    ).encode()
    return head + base64.encodebytes(content) + b"--big--\n"


def test_fifteen_megabyte_attachment_is_described_not_copied():
    raw = make_big_attachment_mail()
    assert len(raw) > 20 * 1024 * 1024  # base64 of 15 MB
    mail = parse_mail(raw)
    assert mail.new_text == "Csatolom a mérőakna fotóit."
    assert mail.subject == "Mérőakna fotók"
    assert [(a.filename, a.content_type, a.size) for a in mail.attachments] == [
        ("mérőakna.jpg", "image/jpeg", 15 * 1024 * 1024)
    ]
    assert len(repr(mail)) < 10_000  # the result holds no payload
    assert mail.raw_size == len(raw)


# --- quote stripping ----------------------------------------------------------------------------

QUOTED = "> Tisztelt Ügyfelünk!\n>\n> Bejelentését rögzítettük."


@pytest.mark.parametrize(
    "separator",
    [
        "On Mon, 3 Jun 2024 at 10:00, PÉTKOMM <petkomm@petkomm.hu> wrote:",
        "On Mon, 3 Jun 2024 at 10:00, PÉTKOMM Ügyfélszolgálat <\npetkomm@petkomm.hu> wrote:",
        "2024. jún. 3., hétfő 10:00 időpontban PÉTKOMM Ügyfélszolgálat <petkomm@petkomm.hu> "
        "ezt írta:",
        "2024. jún. 3., hétfő 10:00 időpontban PÉTKOMM Ügyfélszolgálat\n<petkomm@petkomm.hu> "
        "ezt írta:",
        "2024. jún. 3., hétfő 10:00 időpontban PÉTKOMM\nÜgyfélszolgálat <petkomm@petkomm.hu>\n"
        "ezt írta:",
        "PÉTKOMM Ügyfélszolgálat <petkomm@petkomm.hu> ezt írta (időpont: 2024. jún. 3., H, 10:00):",
        "On 2024. 06. 03. 10:00, PÉTKOMM wrote:",
        "2024. 06. 03. 10:00 keltezéssel, PÉTKOMM írta:",
        "2024. jún. 3. dátummal, 10:00 időpontban PÉTKOMM <petkomm@petkomm.hu> írta:",
        "Am 03.06.2024 um 10:00 schrieb PÉTKOMM <petkomm@petkomm.hu>:",
        "-----Original Message-----\nFrom: PÉTKOMM",
        "-----Eredeti üzenet-----\nFeladó: PÉTKOMM",
        "-------- Eredeti üzenet --------",
        "From: PÉTKOMM <petkomm@petkomm.hu>\nSent: Monday, June 3, 2024 10:00 AM\n"
        "To: Kiss Anna\nSubject: [#PK-000042]",
        "________________________________\nFeladó: PÉTKOMM Ügyfélszolgálat "
        "<petkomm@petkomm.hu>\nElküldve: 2024. június 3., hétfő 10:00\nCímzett: Kiss Anna\n"
        "Tárgy: [#PK-000042]",
        "*Feladó:* PÉTKOMM\n*Dátum:* 2024. június 3.\n*Címzett:* Kiss Anna\n*Tárgy:* x",
        "Sent from my iPhone",
        "Küldve iPhone-ról",
        "Küldve az iPhone-omról",
        "Samsung Galaxy okostelefonomról küldve.",
        "Get Outlook for Android",
        "-- \nKiss Anna\nTel.: 06 30 123 4567",
        REPLY_ABOVE_MARKER,
        "> " + REPLY_ABOVE_MARKER,
    ],
)
def test_strip_quoted_cuts_at_every_known_separator(separator):
    text = f"Köszönöm, holnap otthon leszek.\nKiss Anna\n\n{separator}\n\n{QUOTED}\n\nRégi szöveg\n"
    assert strip_quoted(text) == "Köszönöm, holnap otthon leszek.\nKiss Anna"


def test_strip_quoted_keeps_inline_answers_between_quotes():
    text = "Válaszaim:\n> Mikor jó Önnek?\nHolnap délután.\n> Melyik címen?\nFő u. 1.\n"
    assert strip_quoted(text) == "Válaszaim:\nHolnap délután.\nFő u. 1."


def test_strip_quoted_keeps_a_reply_written_below_the_quote():
    text = (
        "On Mon, 3 Jun 2024 at 10:00, PÉTKOMM <petkomm@petkomm.hu> wrote:\n"
        "> Mikor jó Önnek?\n\nHolnap délután jó.\n\n-- \nKiss Anna\n"
    )
    assert strip_quoted(text) == "Holnap délután jó."


def test_strip_quoted_returns_everything_when_all_is_quoted():
    text = "> csak idézet\n> semmi más\n"
    assert strip_quoted(text) == "> csak idézet\n> semmi más"


def test_strip_quoted_keeps_the_customer_line_right_above_an_attribution():
    text = (
        "Az új címem: kiss.anna@example.hu\n"
        "2024. jún. 3., hétfő 10:00 időpontban PÉTKOMM <petkomm@petkomm.hu> ezt írta:\n"
        "> régi\n"
    )
    assert strip_quoted(text) == "Az új címem: kiss.anna@example.hu"


def test_strip_quoted_does_not_take_a_customer_sentence_for_an_attribution():
    text = "Ahogy a kollégájuk írta:\nholnap jönnek a szerelők.\n"
    assert strip_quoted(text) == "Ahogy a kollégájuk írta:\nholnap jönnek a szerelők."


def test_strip_quoted_handles_crlf_and_collapses_blank_lines():
    text = "Első sor\r\n\r\n\r\n\r\nMásodik sor\r\n> idézet\r\n"
    assert strip_quoted(text) == "Első sor\n\nMásodik sor"
