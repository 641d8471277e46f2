"""What a customer means by what they type (core.intents), as a table."""

from __future__ import annotations

import json
import time
from importlib import resources

import pytest

from conversations.common import CUSTOMER_MENU, GUEST_MENU, label, plain_label
from core import intents
from core.intents import Kind, normalise, understand

GUEST, IN = False, True

# (typed, logged in?, kind, buttons)
TABLE = [
    # Button labels typed by hand: no emoji, any case, accents or none, punctuation.
    ("Számlák", IN, Kind.INTENT, ("invoices",)),
    ("szamlak", IN, Kind.INTENT, ("invoices",)),
    ("számlák!", IN, Kind.INTENT, ("invoices",)),
    ("SZÁMLÁIM", IN, Kind.INTENT, ("invoices",)),
    ("🧾számlák...", IN, Kind.INTENT, ("invoices",)),
    ("tartozas", IN, Kind.INTENT, ("debt",)),
    ("Folyószámla?", IN, Kind.INTENT, ("account",)),
    ("folyo szamla", IN, Kind.INTENT, ("account",)),
    ("ugyfeladatok", IN, Kind.INTENT, ("customer_data",)),
    ("Kezdőlap", IN, Kind.INTENT, ("home",)),
    ("menü", IN, Kind.INTENT, ("home",)),
    ("kijelentkezes", IN, Kind.INTENT, ("logout",)),
    ("Jelszó változtatás", IN, Kind.INTENT, ("password",)),
    ("Hibabejelentes", GUEST, Kind.INTENT, ("report",)),
    ("regisztracio", GUEST, Kind.INTENT, ("register",)),
    ("aktivalas", GUEST, Kind.INTENT, ("activate",)),
    ("BELÉPÉS", GUEST, Kind.INTENT, ("login",)),
    ("elfelejtett jelszo", GUEST, Kind.INTENT, ("forgot",)),
    ("súgó", GUEST, Kind.INTENT, ("help",)),
    # Words and polite frames around them.
    ("Regisztrálni szeretnék", GUEST, Kind.INTENT, ("register",)),
    ("szeretnék regisztrálni, kérem", GUEST, Kind.INTENT, ("register",)),
    ("mennyi a tartozásom?", IN, Kind.INTENT, ("debt",)),
    ("Mennyivel tartozom?", IN, Kind.INTENT, ("debt",)),
    ("mekkora az egyenlegem", IN, Kind.INTENT, ("debt",)),
    ("hogyan tudok fizetni", IN, Kind.INTENT, ("debt",)),
    ("kérem a számláimat", IN, Kind.INTENT, ("invoices",)),
    ("meg szeretném nézni a folyószámlámat", IN, Kind.INTENT, ("account",)),
    ("a befizetéseimet szeretném látni", IN, Kind.INTENT, ("account",)),
    ("adataim", IN, Kind.INTENT, ("customer_data",)),
    ("Az ügyfél adataimat kérném", IN, Kind.INTENT, ("customer_data",)),
    ("jelszócsere", IN, Kind.INTENT, ("password",)),
    ("új jelszót szeretnék", IN, Kind.INTENT, ("password",)),
    ("hogyan tudok belépni?", GUEST, Kind.INTENT, ("login",)),
    ("bejelentkezés", GUEST, Kind.INTENT, ("login",)),
    ("bejelentkeznék", GUEST, Kind.INTENT, ("login",)),
    ("segítség!", GUEST, Kind.INTENT, ("help",)),
    ("help", IN, Kind.INTENT, ("help",)),
    ("munkatárssal szeretnék beszélni", GUEST, Kind.INTENT, ("contact",)),
    # How to reach a person, as the customer trial typed it: the contacts, not "nem értem".
    ("telefonon szeretnék beszélni valakivel", IN, Kind.INTENT, ("contact",)),
    ("hogyan tudok beszélni valakivel?", GUEST, Kind.INTENT, ("contact",)),
    ("ügyintézőt kérek", IN, Kind.INTENT, ("contact",)),
    ("embert kérek", GUEST, Kind.INTENT, ("contact",)),
    ("a számlámról beszélnék", IN, Kind.CHOICE, ("invoices", "contact")),
    ("regisztrációról beszélnék", GUEST, Kind.CHOICE, ("register", "contact")),
    ("kapcsolja ki az értesítéseket", IN, Kind.INTENT, ("notifications",)),
    ("mindet kikapcsolom", IN, Kind.INTENT, ("notifications",)),
    ("hozzá szeretném adni a nyaralómat", IN, Kind.INTENT, ("place_add",)),
    ("Másik ügyfél-azonosító hozzáadása", IN, Kind.INTENT, ("place_add",)),
    ("hozzáadás", IN, Kind.INTENT, ("place_add",)),
    ("kikapcsolták a vizet, csőtörés van", GUEST, Kind.INTENT, ("report",)),
    ("panaszt szeretnék tenni", IN, Kind.INTENT, ("report",)),
    ("problémám van", GUEST, Kind.INTENT, ("report",)),
    ("Csőtörés van az utcában!", GUEST, Kind.INTENT, ("report",)),
    ("nem kaptam meg a kódot", GUEST, Kind.INTENT, ("activate",)),
    ("Új kód kérése", GUEST, Kind.INTENT, ("activate",)),
    ("elfelejtettem a jelszavam", GUEST, Kind.INTENT, ("forgot",)),
    ("elfelejtettem a jelszavamat", IN, Kind.INTENT, ("forgot",)),
    # The same word, the button this customer has.
    ("jelszó", GUEST, Kind.INTENT, ("forgot",)),
    ("jelszó", IN, Kind.INTENT, ("password",)),
    # A guest asking for a customer's page: that page (it asks them to log in).
    ("számlák", GUEST, Kind.INTENT, ("invoices",)),
    ("mennyi a tartozásom", GUEST, Kind.INTENT, ("debt",)),
    ("számla és egyenleg", GUEST, Kind.INTENT, ("debt",)),
    # A real tie: both offered.
    ("számla egyenleg", IN, Kind.CHOICE, ("debt", "invoices")),
    ("a számlám hibás", IN, Kind.CHOICE, ("report", "invoices")),
    ("Regisztráltam, de nem kaptam meg a kódot", GUEST, Kind.CHOICE, ("register", "activate")),
    # A description naming a page: the page, or a report of it.
    (
        "A múlt havi számlámon kétszer szerepel az alapdíj, kérem nézzék meg",
        IN,
        Kind.CHOICE,
        ("invoices", "report"),
    ),
    # Cancel words, alone or with polite ones; menu words beside them are kept.
    ("mégse", GUEST, Kind.CANCEL, ()),
    ("megse", IN, Kind.CANCEL, ()),
    ("Mégse!", GUEST, Kind.CANCEL, ()),
    ("Mégse.", GUEST, Kind.CANCEL, ()),
    ("MÉGSEM", GUEST, Kind.CANCEL, ()),
    ("inkább mégsem, köszönöm", GUEST, Kind.CANCEL, ()),
    ("vissza", IN, Kind.CANCEL, ()),
    ("Vissza a főmenübe!", IN, Kind.CANCEL, ("home",)),
    ("kilépés", IN, Kind.CANCEL, ("logout",)),
    ("kilépek", GUEST, Kind.CANCEL, ("logout",)),
    ("hagyjuk", GUEST, Kind.CANCEL, ()),
    ("megszakítom", IN, Kind.CANCEL, ()),
    # Greetings, thanks, goodbyes, acknowledgements.
    ("köszönöm", IN, Kind.SOCIAL, ()),
    ("Köszönöm szépen!", GUEST, Kind.SOCIAL, ()),
    ("köszi", IN, Kind.SOCIAL, ()),
    ("kösz", IN, Kind.SOCIAL, ()),
    ("szia", GUEST, Kind.SOCIAL, ()),
    ("Sziasztok!", GUEST, Kind.SOCIAL, ()),
    ("Jó napot!", GUEST, Kind.SOCIAL, ()),
    ("jó napot kívánok", IN, Kind.SOCIAL, ()),
    ("Jó napot, hogy vannak?", GUEST, Kind.SOCIAL, ()),
    ("hello", GUEST, Kind.SOCIAL, ()),
    ("Üdv!", GUEST, Kind.SOCIAL, ()),
    ("Üdvözlöm", GUEST, Kind.SOCIAL, ()),
    ("Kezit csókolom!", GUEST, Kind.SOCIAL, ()),
    ("viszlát", IN, Kind.SOCIAL, ()),
    ("viszontlátásra", GUEST, Kind.SOCIAL, ()),
    ("oké", IN, Kind.SOCIAL, ()),
    ("rendben", GUEST, Kind.SOCIAL, ()),
    # A greeting in front of a request: the request.
    ("Jó napot, a számláimat szeretném látni", IN, Kind.INTENT, ("invoices",)),
    ("Szia! Regisztrálni szeretnék.", GUEST, Kind.INTENT, ("register",)),
    # The customer trial's words (issue 15): the Folyószámla's buttons, paying, the rest.
    ("grafikon", IN, Kind.INTENT, ("chart",)),
    ("Diagram", GUEST, Kind.INTENT, ("chart",)),
    ("kivonat", IN, Kind.INTENT, ("statement",)),
    ("számlakivonat", IN, Kind.INTENT, ("statement",)),
    ("folyószámla kivonatot kérek", IN, Kind.INTENT, ("statement",)),
    ("fizetnék", IN, Kind.INTENT, ("debt",)),
    ("qr kód", IN, Kind.INTENT, ("debt",)),
    ("QR-kód", GUEST, Kind.INTENT, ("debt",)),  # not the activation code
    ("értesítés kikapcsolása", IN, Kind.INTENT, ("notifications",)),
    ("másik fiók", IN, Kind.INTENT, ("switch",)),
    # Nothing we know.
    ("Milyen idő lesz holnap?", GUEST, Kind.UNKNOWN, ()),
    ("asdf", IN, Kind.UNKNOWN, ()),
    ("", GUEST, Kind.UNKNOWN, ()),
    ("🙂", GUEST, Kind.UNKNOWN, ()),
    # Stems do not reach into other words.
    ("az udvaron", GUEST, Kind.UNKNOWN, ()),  # not "üdv"
    ("kilepo", GUEST, Kind.UNKNOWN, ()),  # a user name, not "kilép"
    ("visszaigazolást kérek", GUEST, Kind.INTENT, ("activate",)),  # not "vissza"
]


@pytest.mark.parametrize(("typed", "logged_in", "kind", "buttons"), TABLE)
def test_what_a_customer_means(typed, logged_in, kind, buttons):
    meant = understand(typed, logged_in=logged_in)
    assert (meant.kind, meant.intents) == (kind, buttons)


@pytest.mark.parametrize(
    "typed",
    ["szia", "Jó napot, hogy vannak?", "köszönöm", "viszlát", "Kedves PÉTKOMM!"],
)
def test_a_greeting_or_thanks_is_never_unknown(typed):
    meant = understand(typed, logged_in=False)
    assert meant.kind is Kind.SOCIAL or (meant.kind is Kind.UNKNOWN and meant.social)


@pytest.mark.parametrize(
    ("name", "logged_in"),
    [(name, False) for row in GUEST_MENU for name in row]
    + [(name, True) for row in CUSTOMER_MENU for name in row],
)
def test_every_menu_button_typed_any_way_leads_to_itself(name, logged_in):
    shown = label(name)
    for typed in (
        shown,
        plain_label(name),
        plain_label(name).lower(),
        plain_label(name).upper(),
        normalise(plain_label(name)),
        f"{plain_label(name)}!",
        f"{normalise(plain_label(name))}?",
        f"{plain_label(name)}, kérem",
    ):
        meant = understand(typed, logged_in=logged_in)
        assert (meant.kind, meant.intents) == (Kind.INTENT, (name,)), typed


def test_the_cancel_button_typed_any_way_is_a_cancel():
    for typed in (label("cancel"), "Mégse", "mégse", "MÉGSE", "megse", "Mégse!", "mégse."):
        assert intents.is_cancel(typed), typed


def test_the_words_file_names_only_buttons_and_has_no_stem_among_cancel_words():
    data = json.loads(
        resources.files("core").joinpath("texts/chat/intents.json").read_text("utf-8")
    )
    assert set(data["intents"]) == set(intents.INTENTS)
    assert all(data["intents"][name] for name in intents.INTENTS)
    # A stem among cancel words would take a user name ("kilepo") for a cancel.
    assert not [word for word in data["cancel"] if "*" in word]
    with pytest.raises(ValueError, match="unknown buttons"):
        intents.Vocabulary.from_data({**data, "intents": {"szamlak": ["számla*"]}})


def test_a_clerk_can_add_words():
    data = json.loads(
        resources.files("core").joinpath("texts/chat/intents.json").read_text("utf-8")
    )
    assert understand("díjtartozás?", logged_in=True).kind is Kind.UNKNOWN
    data["intents"]["debt"].append("díjtartozás*")
    vocab = intents.Vocabulary.from_data(data)
    meant = understand("Díjtartozásom?", logged_in=True, vocab=vocab)
    assert (meant.kind, meant.intents) == (Kind.INTENT, ("debt",))


def test_normalising_keeps_letters_and_digits_only():
    assert normalise("  🧾 Számlák!!  ") == "szamlak"
    assert normalise("ŐSZI  Űrlap, e-mail") == "oszi urlap e mail"
    assert normalise("U0027") == "u0027"


def test_a_long_paste_is_read_quickly():
    text = ("A múlt havi számlámon kétszer szerepel az alapdíj, kérem nézzék meg. " * 60)[:4096]
    began = time.perf_counter()
    understand(text, logged_in=True)
    understand("x" * 4096, logged_in=True)
    assert time.perf_counter() - began < 0.25


def test_the_buttons_a_tie_is_narrowed_to_are_the_keyboards():
    assert set(intents.GUEST_INTENTS) == {name for row in GUEST_MENU for name in row}
    # Súgó works for a customer too (typed, or /help), beside their menu.
    assert set(intents.CUSTOMER_INTENTS) == {name for row in CUSTOMER_MENU for name in row} | {
        "help"
    }
