"""Buttons typed by hand inside a dialogue: a label of the keyboard on screen does the button.

An older customer types what they read ("elfelejtett jelszo", "uj kod kerese")
instead of pressing it. Inside a dialogue an answer is an answer, but a message
that is exactly the label of a button the step shows (emoji, case, accents and
punctuation aside) is that button, never a user name or an e-mail address.
"""

from __future__ import annotations

from telegram import Message
from telegram.ext import filters as F

from conversations.common import ANSWER, label
from core import accounts, intents
from core.intents import normalise


def typed_form(name: str) -> str:
    """A button's label as it compares with typed text ("❓ Elfelejtett jelszó": "elfelejtett
    jelszo")."""
    return normalise(label(name))


class _TypedLabel(F.MessageFilter):
    """A typed message that is one of these buttons' labels (no emoji, any case, accents)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__(name=f"TypedLabel{names}")
        self.names = names

    def filter(self, message: Message) -> bool:
        typed = normalise(message.text or "")
        return any(typed == typed_form(name) for name in self.names)


def typed_label(*names: str) -> F.BaseFilter:
    """An answer (not a command, button or cancel) that is one of these buttons' labels."""
    return ANSWER & _TypedLabel(names)


def pressed_name(text: str, *names: str) -> str | None:
    """Which of these buttons a typed text names by its label, if any."""
    typed = normalise(text)
    return next((name for name in names if typed == typed_form(name)), None)


class _Says(F.MessageFilter):
    """A sentence (not a code) that says `kind` (core.intents.IN_DIALOGUE)."""

    def __init__(self, kind: str) -> None:
        super().__init__(name=f"Says({kind})")
        self.kind = kind

    def filter(self, message: Message) -> bool:
        text = message.text or ""
        return not accounts.looks_like_code(text) and intents.says(text, self.kind)


def saying(kind: str) -> F.BaseFilter:
    """An answer that says `kind` where a code is asked ("nem kaptam meg a levelet")."""
    return ANSWER & _Says(kind)
