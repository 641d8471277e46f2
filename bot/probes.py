"""Does Telegram know our token, and can we reach the staff chat? For `check`."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from core.config import Settings
from core.worker import describe

PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class TelegramHealth:
    """`bot` is the bot's @username when getMe worked; a problem is one line each."""

    bot: str | None = None
    problem: str | None = None
    staff_problem: str | None = None


async def telegram_health(settings: Settings, timeout: float = PROBE_TIMEOUT) -> TelegramHealth:  # noqa: ASYNC109 - HTTP's own
    """getMe with the token; then, if a staff chat is set, that the bot is in it."""
    token = settings.telegram_token
    request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout)
    bot = Bot(token, base_url=settings.telegram_api_url, request=request)
    try:
        async with bot:  # initialize() calls getMe
            me = bot.username
            chat_id = settings.staff_chat_id
            if chat_id is None:
                return TelegramHealth(bot=me)
            try:
                member = await bot.get_chat_member(chat_id, bot.id)
            except TelegramError as error:
                return TelegramHealth(bot=me, staff_problem=_safe(describe(error), token))
            if member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED):
                return TelegramHealth(
                    bot=me, staff_problem=f"the bot is not in chat {chat_id} ({member.status})"
                )
            return TelegramHealth(bot=me)
    except TelegramError as error:
        return TelegramHealth(problem=_safe(describe(error), token))


def _safe(text: str, token: str) -> str:
    """Never the token, whatever a library put in its message."""
    return text.replace(token, "<TELEGRAM_BOT_TOKEN>")
