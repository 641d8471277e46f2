"""Does a report sound urgent? A burst pipe, water flowing, no water, a flooded cellar, a gas smell.

A customer who writes "csőtörés van, folyik a víz" must not wait for a clerk's
answer: they are told whom to call at once, and staff see the report marked 🚨.
The words are data, `core/texts/tickets/urgent.json` (its `_about` says how an
entry matches), so a clerk can add the next way people say it; this module
only reads a text against them:

1. The text is cut into sentences (at `.`, `!`, `?`, `;` — not at line
   breaks: older customers press Enter in the middle of a sentence).
2. A sentence is made comparable: lower case, no accents, anything but letters
   and digits a space ("Csőtörés!" and "csotores" meet).
3. An entry matches a sentence holding all of its words, in any order (a word
   ending in `*` is a stem). An entry whose words are all in a longer entry
   matched in the same sentence does not count: "nem folyik a víz" is no water,
   not a leak.

The kinds found (`LEAK`, `OUTAGE`, `GAS`) decide what the customer is told.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from core.mail.text import fold

LEAK = "leak"  # water or sewage escaping
OUTAGE = "outage"  # no water
GAS = "gas"  # a gas smell
KINDS = (LEAK, OUTAGE, GAS)

# A report's first this many characters are read: an emergency is said at the start, and a
# long pasted mail must not cost the mail worker seconds.
READ_CHARS = 20_000

_SENTENCE_END = re.compile(r"[.!?;]+")
_NOT_WORD = re.compile(r"[\W_]+")


def _words(text: str) -> list[str]:
    """`Csőtörés van!` -> ['csotores', 'van']: lower case, no accents, letters and digits."""
    return _NOT_WORD.sub(" ", fold(text)).split()


@dataclass(frozen=True)
class _Entry:
    """One line of urgent.json: words that together make a sentence urgent."""

    words: frozenset[tuple[str, bool]]  # (comparable word, is a stem)
    kind: str

    def matches(self, tokens: frozenset[str]) -> bool:
        return all(
            word in tokens if not stem else any(token.startswith(word) for token in tokens)
            for word, stem in self.words
        )


def _entry(text: str, kind: str) -> _Entry:
    words: set[tuple[str, bool]] = set()
    for raw in text.split():
        stem = raw.endswith("*")
        parts = _words(raw.rstrip("*"))
        # A word the folding splits ("wc-ben") is several; only the last can be a stem.
        words |= {(part, stem and i == len(parts) - 1) for i, part in enumerate(parts)}
    if not words:
        raise ValueError(f"an empty entry under {kind!r} in urgent.json: {text!r}")
    return _Entry(frozenset(words), kind)


@dataclass(frozen=True)
class Vocabulary:
    """The entries of urgent.json."""

    entries: tuple[_Entry, ...]

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> Vocabulary:
        """Read the structure of urgent.json (see its `_about`)."""
        kinds = {key for key in data if not key.startswith("_")}
        unknown = kinds - set(KINDS)
        if unknown:
            raise ValueError(f"urgent.json names unknown kinds: {sorted(unknown)}")
        entries: list[_Entry] = []
        for kind in KINDS:
            lines = data.get(kind, [])
            assert isinstance(lines, list)
            entries += [_entry(line, kind) for line in lines]
        return cls(tuple(entries))

    def kinds(self, text: str) -> frozenset[str]:
        """The kinds of urgency `text` speaks of (empty when none)."""
        text = text[:READ_CHARS]
        # Only the entries whose words are somewhere in the text are tried on its sentences.
        candidates = [e for e in self.entries if e.matches(frozenset(_words(text)))]
        if not candidates:
            return frozenset()
        found: set[str] = set()
        for sentence in _SENTENCE_END.split(text):
            tokens = frozenset(_words(sentence))
            matched = [e for e in candidates if e.matches(tokens)]
            found |= {e.kind for e in matched if not any(e.words < m.words for m in matched)}
        return frozenset(found)


@cache
def vocabulary() -> Vocabulary:
    """The vocabulary of the packaged urgent.json."""
    text = resources.files("core").joinpath("texts/tickets/urgent.json").read_text("utf-8")
    return Vocabulary.from_data(json.loads(text))


def urgent_kinds(*texts: str) -> frozenset[str]:
    """What kinds of emergency these texts (a subject, a report) speak of; empty when none."""
    found: set[str] = set()
    for text in texts:
        if text:
            found |= vocabulary().kinds(text)
    return frozenset(found)


def kinds_in_order(kinds: Iterable[str]) -> list[str]:
    """The kinds as a list in `KINDS` order (for a stored result or a template)."""
    given = set(kinds)
    return [kind for kind in KINDS if kind in given]
