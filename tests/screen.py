"""What is on a customer's screen: the buttons a reply names must be there.

A reply that says "válassza a <b>Belépés</b> gombot" is only helpful when a
Belépés button is under it or on the keyboard it leaves on the screen.
"""

from __future__ import annotations

import re

from botapi_emulator import ChatMessage
from conversations.common import label, plain_label
from core.texts import labels

# "a <b>Belépés</b> gombot", "az <b>Elfelejtett jelszó</b> gombbal", "<b>Súgó</b> gomb", and a
# bullet of a list of buttons ("• <b>Számlák</b>: …").
_NAMED = re.compile(r"<b>([^<]+)</b>\)? gomb|^• <b>([^<]+)</b>:", re.MULTILINE)


def _button_names() -> dict[str, str]:
    """Label without emoji -> label, for the customer's buttons."""
    return {plain_label(name): label(name) for name in labels("customer")}


def named_in(html: str) -> list[str]:
    """The customer buttons a text (as the bot sends it, HTML) names, as their labels."""
    known = _button_names()
    names = [a or b for a, b in _NAMED.findall(html)]
    return [known[n] for n in names if n in known]


def named_buttons(message: ChatMessage) -> list[str]:
    """The customer buttons a bot message names, as their labels."""
    return named_in(message.html or "")


def missing_buttons(person, replies: list[ChatMessage]) -> list[tuple[str, str]]:
    """(button, message start) for each button a reply names that is not on the screen.

    On the screen: the reply's own inline buttons, or the reply keyboard the replies
    leave (Telegram shows the newest one).
    """
    keyboard = set(person.keyboard)
    missing = []
    for message in replies:
        inline = {b["text"] for row in (message.inline_keyboard or []) for b in row}
        for button in named_buttons(message):
            if button not in keyboard and button not in inline:
                missing.append((button, (message.text or "")[:60]))
    return missing
