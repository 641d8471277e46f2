"""A local Telegram Bot API emulator for tests and demos.

python-telegram-bot (or any client) talks to :class:`BotApiEmulator` over loopback HTTP as it
would to Telegram; simulated users (:class:`SimulatedUser`) type, tap buttons and read the
bot's replies. Calls are validated against the official Bot API description and Telegram's
limits, so mistakes in the bot fail here the way they would in production.
"""

from .chats import ChatState
from .errors import ApiError
from .gates import Gate
from .html_entities import parse_html
from .markdown_v2 import parse_markdown_v2
from .models import ApiCall, CallbackAnswer, ChatMessage
from .people import SimulatedUser
from .server import BotApiEmulator
from .spec import ApiSpec
from .text_utils import EntityParseError

__all__ = [
    "ApiCall",
    "ApiError",
    "ApiSpec",
    "BotApiEmulator",
    "CallbackAnswer",
    "ChatMessage",
    "ChatState",
    "EntityParseError",
    "Gate",
    "SimulatedUser",
    "parse_html",
    "parse_markdown_v2",
]
