"""What a customer means by what they type: a button's name, a cancel, a greeting, or nothing.

Older customers type what they read ("Számlák", "szamlak", "mennyi a tartozásom?")
instead of pressing the button. The words that lead to each button are data,
`core/texts/chat/intents.json`, so a clerk can extend them; this module only
reads a message against them:

1. `normalise` makes the message comparable: lower case, no accents, emoji and
   punctuation become spaces, spaces collapse ("Számlák!" and "szamlak" meet).
2. A phrase matches where its words follow one another in the message; a word
   written with a final `*` is a stem and matches every word it starts
   (`számla*`: számlák, számláimat), a word without it only itself.
3. Each word of the message belongs to the longest phrase that matched it, so
   "folyószámla" is the current account and not the invoices, "bejelentkezés"
   a login and not a report. The button whose phrases hold the most words wins;
   a tie is a choice for the customer, narrowed to the buttons they have
   (a guest's "jelszó" is the forgotten password, a customer's the change).

`understand` then says what the message is, in this order: a cancel (only cancel,
polite, greeting and menu words), a button (or a choice of buttons), a greeting,
thanks, goodbye or acknowledgement (only such words and polite ones), or
unknown. Inside a dialogue only `is_cancel` counts: there an answer is an answer
(a user name "szamla" is a user name), see `conversations.dialogues`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources

from core.mail.text import fold

# The buttons a guest has, and those of a logged-in customer (conversations.common's
# keyboards show the same): a tie between two buttons is narrowed to the customer's own.
GUEST_INTENTS = ("register", "activate", "login", "forgot", "report", "help")
CUSTOMER_INTENTS = (
    "home",
    "debt",
    "invoices",
    "account",
    "customer_data",
    "notifications",
    "password",
    "switch",
    "report",
    "logout",
    "help",
)
# Words for an inline button rather than a keyboard's: the ▶ under the paged list shown
# last (Számlák, Folyószámla), "következő oldal". Never narrowed to: a keyboard button wins.
PAGE_INTENTS = ("next",)
# Words for the buttons under Folyószámla (📄 Kivonat, 📊 Grafikon): typed, they do what the
# button does for the customer account shown (the customer trial typed "grafikon", "kivonat").
DOCUMENT_INTENTS = ("statement", "chart")
INTENTS = tuple(dict.fromkeys(GUEST_INTENTS + CUSTOMER_INTENTS + PAGE_INTENTS + DOCUMENT_INTENTS))

# Words that make a whole message friendly rather than a request, by what it is.
SOCIAL = ("greeting", "thanks", "bye", "ack")

# A message with this many words that no phrase explains is probably a description of a
# problem: whatever button it also names, Hibabejelentés is offered beside it.
LONG_TEXT_WORDS = 5

# What a typed answer may mean at a dialogue step with buttons on the screen (`says`).
IN_DIALOGUE = ("confirm", "correct", "no_mail", "got_code")
# A word that turns a confirmation around ("nem küldöm el", "még ne").
_NEGATIONS = frozenset({"nem", "ne", "sem", "nincs"})

# Menu words that may stand beside a cancel word ("vissza a főmenübe") without making the
# message a request for that page.
_CANCEL_COMPANIONS = frozenset({"home", "logout"})


class Kind(Enum):
    """What a typed message is."""

    INTENT = "intent"  # one button: `intents[0]`
    CHOICE = "choice"  # several buttons fit equally: offer `intents`
    CANCEL = "cancel"  # leave the dialogue (outside one: nothing to cancel)
    SOCIAL = "social"  # a greeting, thanks, goodbye or "rendben": `social` says which
    UNKNOWN = "unknown"  # none of these: offer the options


@dataclass(frozen=True)
class Understood:
    """What `understand` made of a message.

    `intents` are button names (labels.json), best first: the one button of an
    INTENT, the buttons of a CHOICE, and for a CANCEL the menu words beside the
    cancel word ("logout" for "kilépés", "home" for "vissza a menübe").
    `social` are the SOCIAL kinds found anywhere in the message (a greeting
    before a request, too); `long` is a message that reads like a description.
    """

    kind: Kind
    intents: tuple[str, ...] = ()
    social: frozenset[str] = field(default_factory=frozenset)
    long: bool = False


@dataclass(frozen=True)
class _Phrase:
    words: tuple[tuple[str, bool], ...]  # (normalised word, is a stem)
    meaning: str  # an intent's name, "cancel", a SOCIAL kind or "polite"

    @property
    def weight(self) -> int:
        """How specific the phrase is: longer phrases win a word over shorter ones."""
        return sum(len(word) for word, _ in self.words)

    def matches_at(self, tokens: list[str], start: int) -> bool:
        if start + len(self.words) > len(tokens):
            return False
        return all(
            tokens[start + i] == word or (stem and tokens[start + i].startswith(word))
            for i, (word, stem) in enumerate(self.words)
        )


def normalise(text: str) -> str:
    """Lower case, accents dropped, anything but letters and digits a space, spaces collapsed.

    >>> normalise("  🧾 Számlák!!  ")
    'szamlak'
    """
    return " ".join("".join(c if c.isalnum() else " " for c in fold(text)).split())


def _phrase(text: str, meaning: str) -> _Phrase:
    words: list[tuple[str, bool]] = []
    for raw in text.split():
        stem = raw.endswith("*")
        # "e-mail" is two words once normalised; only the last can be a stem.
        parts = normalise(raw.rstrip("*")).split()
        words += [(part, stem and i == len(parts) - 1) for i, part in enumerate(parts)]
    if not words:
        raise ValueError(f"an empty phrase for {meaning}: {text!r}")
    return _Phrase(tuple(words), meaning)


@dataclass(frozen=True)
class Vocabulary:
    """The phrases of intents.json, indexed by their first word for a quick match."""

    phrases: tuple[_Phrase, ...]
    _by_word: Mapping[str, tuple[_Phrase, ...]] = field(init=False, repr=False, compare=False)
    _by_stem: Mapping[str, tuple[_Phrase, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_word: dict[str, list[_Phrase]] = {}
        by_stem: dict[str, list[_Phrase]] = {}
        for phrase in self.phrases:
            first, stem = phrase.words[0]
            (by_stem if stem else by_word).setdefault(first, []).append(phrase)
        object.__setattr__(self, "_by_word", {k: tuple(v) for k, v in by_word.items()})
        object.__setattr__(self, "_by_stem", {k: tuple(v) for k, v in by_stem.items()})

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> Vocabulary:
        """Read the structure of intents.json (see its `_about`)."""
        intents = data["intents"]
        assert isinstance(intents, dict)
        unknown = set(intents) - set(INTENTS)
        if unknown:
            raise ValueError(f"intents.json names unknown buttons: {sorted(unknown)}")
        phrases = [_phrase(p, name) for name, words in intents.items() for p in words]
        for meaning in ("cancel", *SOCIAL, "polite"):
            words = data[meaning]
            assert isinstance(words, list)
            phrases += [_phrase(p, meaning) for p in words]
        return cls(tuple(phrases))

    def starting_with(self, token: str) -> Iterator[_Phrase]:
        """The phrases whose first word fits this word of a message."""
        yield from self._by_word.get(token, ())
        for end in range(1, len(token) + 1):
            yield from self._by_stem.get(token[:end], ())


@cache
def vocabulary() -> Vocabulary:
    """The vocabulary of the packaged intents.json."""
    text = resources.files("core").joinpath("texts/chat/intents.json").read_text("utf-8")
    return Vocabulary.from_data(json.loads(text))


@cache
def _dialogue_vocabulary() -> Vocabulary:
    """The phrases of intents.json's `in_dialogue`, by what they mean there."""
    text = resources.files("core").joinpath("texts/chat/intents.json").read_text("utf-8")
    groups = json.loads(text)["in_dialogue"]
    unknown = set(groups) - set(IN_DIALOGUE)
    if unknown:
        raise ValueError(f"intents.json's in_dialogue has unknown kinds: {sorted(unknown)}")
    return Vocabulary(tuple(_phrase(p, kind) for kind, words in groups.items() for p in words))


def says(text: str, kind: str) -> bool:
    """Does a message typed at a dialogue step say `kind` (IN_DIALOGUE)?

    "Rendben, elküldöm" and "igen, mehet" confirm; "nem küldöm el" does not (a negation
    stands before the confirming word). "javítok", "nem stimmel" correct; "nem kaptam
    meg a levelet" is no_mail, "megjött a kód" got_code.
    """
    if kind not in IN_DIALOGUE:
        raise ValueError(f"not a kind of in_dialogue: {kind}")
    tokens = normalise(text).split()
    owners = _meanings(tokens, _dialogue_vocabulary())
    if kind == "confirm":
        for i, meanings in enumerate(owners):
            if "confirm" in meanings and _NEGATIONS.isdisjoint(tokens[:i]):
                return True
        return False
    return any(kind in meanings for meanings in owners)


def _meanings(tokens: list[str], vocab: Vocabulary) -> list[set[str]]:
    """For each word of the message, the meanings of the longest phrases that matched it."""
    best = [0] * len(tokens)
    owners: list[set[str]] = [set() for _ in tokens]
    for start, token in enumerate(tokens):
        for phrase in vocab.starting_with(token):
            if not phrase.matches_at(tokens, start):
                continue
            for i in range(start, start + len(phrase.words)):
                if phrase.weight > best[i]:
                    best[i], owners[i] = phrase.weight, {phrase.meaning}
                elif phrase.weight == best[i]:
                    owners[i].add(phrase.meaning)
    return owners


def _ranked(owners: list[set[str]]) -> list[str]:
    """The intents holding the most words, in the order of INTENTS."""
    held = {name: sum(name in meanings for meanings in owners) for name in INTENTS}
    top = max(held.values())
    return [name for name in INTENTS if top and held[name] == top]


def _narrowed(candidates: list[str], logged_in: bool) -> list[str]:
    """A tie narrowed to the buttons this customer has (if any of them is one).

    A guest asking for pages that all need a login gets one answer, the first: the
    page itself tells them to log in.
    """
    own = CUSTOMER_INTENTS if logged_in else GUEST_INTENTS
    mine = [name for name in candidates if name in own]
    if mine:
        return mine
    return candidates if logged_in else candidates[:1]


def is_cancel(text: str) -> bool:
    """A message that only says to stop ("Mégse!", "inkább mégsem", "vissza a menübe")."""
    return understand(text, logged_in=False).kind is Kind.CANCEL


def understand(text: str, *, logged_in: bool, vocab: Vocabulary | None = None) -> Understood:
    """What a message typed outside a dialogue asks for (see the module's docstring)."""
    tokens = normalise(text).split()
    if not tokens:
        return Understood(Kind.UNKNOWN)
    owners = _meanings(tokens, vocab or vocabulary())
    social = frozenset(kind for meanings in owners for kind in meanings if kind in SOCIAL)
    intents_seen = [name for name in INTENTS if any(name in m for m in owners)]

    def only(allowed: set[str] | frozenset[str]) -> bool:
        return all(meanings & allowed for meanings in owners)

    if any("cancel" in m for m in owners) and only(
        {"cancel", "polite", *SOCIAL, *_CANCEL_COMPANIONS}
    ):
        companions = tuple(name for name in intents_seen if name in _CANCEL_COMPANIONS)
        return Understood(Kind.CANCEL, companions, social)

    unexplained = sum(not meanings for meanings in owners)
    long = unexplained >= LONG_TEXT_WORDS
    candidates = _narrowed(_ranked(owners), logged_in)
    if long and candidates and "report" not in candidates:
        # A description that names a page ("a számlámon kétszer szerepel…"): the page,
        # or a report of it.
        candidates = [*candidates, "report"]
    if len(candidates) == 1:
        return Understood(Kind.INTENT, tuple(candidates), social, long)
    if candidates:
        return Understood(Kind.CHOICE, tuple(candidates), social, long)
    if social and only({"polite", *SOCIAL}):
        return Understood(Kind.SOCIAL, (), social)
    return Understood(Kind.UNKNOWN, (), social, long)
