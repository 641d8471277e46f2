"""What sounds urgent (core/urgency.py, the words in core/texts/tickets/urgent.json): the ways
customers write of a burst pipe, flowing or missing water, a flood or a gas smell — with or
without accents — and the billing words that must not be mistaken for them."""

from __future__ import annotations

import pytest

from core.urgency import GAS, LEAK, OUTAGE, Vocabulary, urgent_kinds

URGENT = [
    ("Csőtörés van a Fő utcán!", {LEAK}),
    ("CSOTORES A KAPU ELOTT", {LEAK}),
    ("Eltört a cső a fürdőszobában", {LEAK}),
    ("a pinceben megrepedt a csovezetek", {LEAK}),
    ("Szétfagyott a vízóra a kertben.", {LEAK}),
    ("Folyik a víz a vízóraaknából", {LEAK}),
    ("A víz folyik a fal tövéből", {LEAK}),  # any order
    ("folyik mindenhol a viz a konyhaban", {LEAK}),  # words between
    ("Ömlik a víz az úttestre", {LEAK}),
    ("zubog a víz az utcán", {LEAK}),
    ("Elöntötte a pincét az éjjel", {LEAK}),
    ("Beázott a plafon, csöpög a mennyezet", {LEAK}),
    ("A pincében\nfolyik a víz", {LEAK}),  # Enter pressed mid-sentence
    ("Szennyvíz jön fel a lefolyóból", {LEAK}),
    ("Visszafolyik a szennyvíz a WC-be", {LEAK}),
    ("Eldugult a csatorna, kifolyt az udvarra", {LEAK}),
    ("Reggel óta nincs vizünk", {OUTAGE}),
    ("nincs viz a hazban", {OUTAGE}),
    ("Nem jön víz a csapból.", {OUTAGE}),
    ("Nem folyik a víz a csapból", {OUTAGE}),  # not a leak: the longer entry wins
    ("Befagyott a vízóra", {OUTAGE}),
    ("Üzemzavar van a környéken?", {OUTAGE}),
    ("Gázszagot érzünk a lépcsőházban!", {GAS}),
    ("gazszag van a pinceben", {GAS}),
    ("Erősen gázszag van, és folyik a víz is.", {GAS, LEAK}),
]

CALM = [
    "Csöpög a vízóra.",  # a drip is not an emergency
    "Nem jött meg a novemberi számlám.",
    "Miért ilyen magas a szennyvízdíj?",
    "Szeretném beazonosítani a befizetésemet.",
    "Folyamatosan a vízdíjjal van gond.",
    "A folyószámlámon kétszer szerepel a befizetés.",
    "Mikor cserélik a vízórát?",
    "Hol találom a vízóra gyári számát?",
    "Gázszámlát nem önök küldik?",
    "Még mindig csöpög, sürgős!",
]


@pytest.mark.parametrize(("text", "kinds"), URGENT)
def test_these_sound_urgent(text: str, kinds: set[str]) -> None:
    assert urgent_kinds(text) == kinds


@pytest.mark.parametrize("text", CALM)
def test_these_do_not(text: str) -> None:
    assert urgent_kinds(text) == frozenset()


def test_a_subject_counts_as_well_as_the_text() -> None:
    assert urgent_kinds("Csőtörés", "Kérem, jöjjenek mielőbb.") == {LEAK}
    assert urgent_kinds("", "") == frozenset()


def test_the_word_list_is_checked_when_read() -> None:
    with pytest.raises(ValueError, match="unknown kinds"):
        Vocabulary.from_data({"flood": ["árvíz"]})
    with pytest.raises(ValueError, match="empty entry"):
        Vocabulary.from_data({"leak": ["!!"]})
    own = Vocabulary.from_data({"leak": ["kút* kiömlött"]})
    assert own.kinds("A kútból kiömlött minden.") == {LEAK}
    assert own.kinds("A kút rendben. Kiömlött a tej.") == frozenset()  # two sentences
