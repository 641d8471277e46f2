"""Whether a customer's text in the chat is taken: as a new report, or as a reply to an answer.

One rule for both: the text (stripped) must be long enough and at most
`MAX_TEXT` characters, and a Telegram user writes at most
`throttle.REPORT_USER` texts an hour. A refused text gets one reply, named by
its template with the values it needs; a taken one goes on to the tickets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core import throttle
from core.accounts import wait_minutes
from core.db import Queryable
from core.tickets import MAX_CHAT_TEXT

MAX_TEXT = MAX_CHAT_TEXT


@dataclass(frozen=True)
class TextRule:
    """How short a text may be, and what the customer hears when it is shorter."""

    min_length: int
    too_short: str  # chat template


# A report says what is wrong: three characters at least.
REPORT = TextRule(min_length=3, too_short="report/too_short")
# A reply may be a word ("Köszönöm"); only a message without text is refused: we read text.
REPLY = TextRule(min_length=1, too_short="common/text_only")


@dataclass(frozen=True)
class Refusal:
    """Why a text was not taken: the chat template to answer with, and its values."""

    template: str
    values: dict[str, int] = field(default_factory=dict)


async def refusal(
    db: Queryable, rule: TextRule, text: str, *, telegram_user_id: int, now: float
) -> Refusal | None:
    """None when the (stripped) text may become a report or reply; else why not.

    A text within the limits counts against the user's hourly allowance.
    """
    if len(text) < rule.min_length:
        return Refusal(rule.too_short)
    if len(text) > MAX_TEXT:
        return Refusal("report/too_long", {"limit": MAX_TEXT, "length": len(text)})
    until = await throttle.use(db, throttle.REPORT_USER, f"tg:{telegram_user_id}", now)
    if until:
        return Refusal("report/wait", {"minutes": wait_minutes(until, now)})
    return None
