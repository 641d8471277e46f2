"""Telegram's pace for the bot's calls: conversations first, background sends after.

Every call the bot makes goes through one pacer (the application's rate
limiter). A call made while handling a customer's update is interactive; a
call made inside `background()` (staff announcements, answers delivered to a
customer, notifications) is a background send: it waits while interactive
calls are waiting, and uses at most part of the budget.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_background: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "petkomm_background_send", default=False
)


@contextlib.contextmanager
def background() -> Iterator[None]:
    """Mark the bot calls made inside (in this task) as background sends."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


def is_background() -> bool:
    """Whether the current call is a background send."""
    return _background.get()
