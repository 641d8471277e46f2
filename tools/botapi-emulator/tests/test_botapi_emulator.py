"""The Bot API emulator driven by a real python-telegram-bot Application and Bot."""

from __future__ import annotations

import asyncio
import io
import json
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    CopyTextButton,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from botapi_emulator import BotApiEmulator, parse_html

TOKEN = "123456:TEST-token_x"
BOT_USERNAME = "petkomm_teszt_bot"
EVA_ID = 1001
STAFF_ID = -100123

# do_api_request is used on purpose to send what PTB's typed methods would not allow.
# PTB itself reads RetryAfter.retry_after, which warns about its future type.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot:telegram.warnings.PTBUserWarning"),
    pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning"),
]


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    """A bare PTB Bot pointed at the emulator (no Application, no retries)."""
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as client:
        yield client


def build_app(emu: BotApiEmulator, handlers: Sequence[BaseHandler[Any, Any, Any]]) -> Application:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    for handler in handlers:
        app.add_handler(handler)
    return app


@asynccontextmanager
async def polling(
    emu: BotApiEmulator, *handlers: BaseHandler[Any, Any, Any]
) -> AsyncIterator[Application]:
    """Run an Application with long polling against the emulator."""
    app = build_app(emu, handlers)
    await app.initialize()
    await app.updater.start_polling(poll_interval=0, timeout=5)
    await app.start()
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Any]


# -- conversations through a real Application --------------------------------------------


async def test_start_command_with_payload_gets_html_reply(emu: BotApiEmulator) -> None:
    seen_args: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen_args.append(list(context.args or []))
        await update.effective_message.reply_text(
            "<b>Üdv</b>, Éva &amp; csapat!",
            parse_mode=ParseMode.HTML,
            reply_markup=ReplyKeyboardMarkup([["Belépés", "Súgó"]], resize_keyboard=True),
        )

    eva = emu.private_user(user_id=EVA_ID, first_name="Éva", last_name="Kovács")
    async with polling(emu, CommandHandler("start", start)):
        update_id = eva.send_command("start", payload="act_abc")
        await emu.wait_delivered(update_id, timeout=5)
        reply = await eva.wait_reply()

    assert seen_args == [["act_abc"]]
    assert reply.text == "Üdv, Éva & csapat!"
    assert reply.html == "<b>Üdv</b>, Éva &amp; csapat!"
    assert reply.entities == [{"type": "bold", "offset": 0, "length": 3}]
    assert eva.reply_keyboard == [["Belépés", "Súgó"]]
    assert [m.from_bot for m in eva.chat.messages] == [False, True]
    assert [m.message_id for m in eva.chat.messages] == [1, 2]
    assert emu.delivered(update_id)
    assert [c.method for c in emu.requests if not c.ok] == []


async def test_reply_keyboard_press_arrives_as_text(emu: BotApiEmulator) -> None:
    received: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        markup = ReplyKeyboardMarkup([[KeyboardButton("Belépés")]], one_time_keyboard=True)
        await update.effective_message.reply_text("Válassz:", reply_markup=markup)

    async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        received.append(update.effective_message.text)
        await update.effective_message.reply_text("Jelszó?", reply_markup=ReplyKeyboardRemove())

    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    handlers = (CommandHandler("start", start), MessageHandler(filters.TEXT, text))
    async with polling(emu, *handlers):
        eva.send_command("start")
        await eva.wait_reply()
        assert eva.reply_keyboard == [["Belépés"]]
        with pytest.raises(LookupError, match="(?i)Belépés"):
            eva.press("Kilépés")
        eva.press("Belépés")
        reply = await eva.wait_reply()

    assert received == ["Belépés"]
    assert reply.text == "Jelszó?"
    assert eva.reply_keyboard is None


async def test_inline_button_becomes_callback_query_and_edit_works(emu: BotApiEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Tovább", callback_data="next")]])
        await update.effective_message.reply_text("1. oldal", reply_markup=keyboard)

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("Lapozás")
        await query.edit_message_text(f"2. oldal ({query.data})")

    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    async with polling(emu, CommandHandler("start", start), CallbackQueryHandler(on_press)):
        eva.send_command("start")
        first = await eva.wait_reply()
        assert eva.inline_buttons() == [[("Tovább", "next")]]
        eva.press("Tovább")
        await emu.wait_for(lambda: first.edited, what="the edit")

    assert first.text == "2. oldal (next)"
    assert first.reply_markup is None  # editing without reply_markup drops the keyboard
    assert [(a.text, a.data) for a in emu.callback_answers] == [("Lapozás", "next")]
    with pytest.raises(LookupError):
        eva.press_inline(first.message_id, "Tovább")


async def test_identical_edit_is_not_modified(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("OK", callback_data="ok")]])
    sent = await bot.send_message(EVA_ID, "<b>Szia</b>", parse_mode="HTML", reply_markup=keyboard)
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Szia</b>", EVA_ID, sent.message_id, parse_mode="HTML", reply_markup=keyboard
        )
    with pytest.raises(BadRequest, match="(?i)message is not modified"):
        await bot.edit_message_reply_markup(EVA_ID, sent.message_id, reply_markup=keyboard)
    # Same text but bold removed is a real change.
    edited = await bot.edit_message_text("Szia", EVA_ID, sent.message_id, reply_markup=keyboard)
    assert edited.text == "Szia" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="(?i)message to edit not found"):
        await bot.edit_message_text("x", EVA_ID, 999)


async def test_stale_inline_button_on_old_message_still_delivers(emu: BotApiEmulator) -> None:
    pressed: list[tuple[int, str]] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        pressed.append((update.callback_query.message.message_id, update.callback_query.data))
        await update.callback_query.answer()

    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    async with polling(emu, CallbackQueryHandler(on_press)) as app:
        old_markup = InlineKeyboardMarkup([[InlineKeyboardButton("▶", callback_data="page:2")]])
        old = await app.bot.send_message(EVA_ID, "régi", reply_markup=old_markup)
        new_markup = InlineKeyboardMarkup([[InlineKeyboardButton("▶", callback_data="page:9")]])
        await app.bot.send_message(EVA_ID, "új", reply_markup=new_markup)
        eva.press_inline(old.message_id, "▶")
        await emu.wait_for(lambda: emu.callback_answers, what="the answer")

    assert pressed == [(old.message_id, "page:2")]


async def test_group_reply_to_bot_message_reaches_bot(emu: BotApiEmulator) -> None:
    replies: list[tuple[int | None, str]] = []

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        target = message.reply_to_message.message_id if message.reply_to_message else None
        replies.append((target, message.text))
        await message.reply_text("Rögzítve")

    async def on_reply_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        replies.append((None, " ".join(context.args or [])))
        await update.effective_message.reply_text("Elküldve")

    staff = emu.group(chat_id=STAFF_ID, title="Ügyfélszolgálat")
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    handlers = (
        CommandHandler("reply", on_reply_command),
        MessageHandler(filters.TEXT & filters.ChatType.GROUPS, on_text),
    )
    async with polling(emu, *handlers) as app:
        ticket = await app.bot.send_message(STAFF_ID, "Új jegy: PK-000001")
        assert eva.send_text("csak beszélgetünk", chat=staff) is None  # privacy mode
        update_id = eva.send_text("Válasz szöveg", chat=staff, reply_to=ticket.message_id)
        await emu.wait_delivered(update_id)
        await eva.wait_reply(chat=staff)
        command_id = eva.send_text("/reply PK-000001 Köszönjük", chat=staff)
        await emu.wait_delivered(command_id)
        confirmation = await eva.wait_reply(chat=staff)

    assert replies == [(ticket.message_id, "Válasz szöveg"), (None, "PK-000001 Köszönjük")]
    assert confirmation.text == "Elküldve"
    assert [m.text for m in staff.replies] == ["Új jegy: PK-000001", "Rögzítve", "Elküldve"]
    assert staff.type == "supergroup"


async def test_webhook_delivery_with_secret_token(emu: BotApiEmulator) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(update.effective_message.text.upper())

    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    app = build_app(emu, [MessageHandler(filters.TEXT, echo)])
    port = free_port()
    await app.initialize()
    await app.updater.start_webhook(
        listen="127.0.0.1",
        port=port,
        url_path="hook",
        webhook_url=f"http://127.0.0.1:{port}/hook",
        secret_token="s3cret",
    )
    await app.start()
    try:
        assert emu.webhook_url == f"http://127.0.0.1:{port}/hook"
        update_id = eva.send_text("szia")
        await emu.wait_delivered(update_id)
        reply = await eva.wait_reply()
        with pytest.raises(Conflict, match="(?i)webhook is active"):
            await app.bot.get_updates()
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert reply.text == "SZIA"
    assert emu.webhook_info["pending_update_count"] == 0


async def test_user_message_can_be_deleted_once(emu: BotApiEmulator) -> None:
    async def on_password(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.delete()
        await update.effective_chat.send_message("A jelszót töröltem.")

    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    async with polling(emu, MessageHandler(filters.TEXT, on_password)) as app:
        eva.send_text("titkos-jelszo")
        await eva.wait_reply()
        password = eva.chat.messages[0]
        assert password.deleted
        with pytest.raises(BadRequest, match="(?i)message to delete not found"):
            await app.bot.delete_message(EVA_ID, password.message_id)


# -- limits and validation through a bare Bot ---------------------------------------------


async def test_text_length_counts_after_entity_parsing(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    await bot.send_message(EVA_ID, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(EVA_ID, "x" * 4097)
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(EVA_ID, "<b></b>", parse_mode="HTML")
    assert all(len(m.text or "") <= 4096 for m in emu.all_messages())
    failed = emu.calls("sendMessage", ok=False)
    assert [c.description for c in failed] == [
        "Bad Request: message is too long",
        "Bad Request: message text is empty",
    ]


async def test_html_parse_mode_like_telegram(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    with pytest.raises(BadRequest, match="(?i)can't parse entities: Unsupported start tag"):
        await bot.send_message(EVA_ID, "3 < 5", parse_mode="HTML")
    with pytest.raises(BadRequest, match='(?i)Unsupported start tag "br"'):
        await bot.send_message(EVA_ID, "a<br>b", parse_mode="HTML")
    with pytest.raises(BadRequest, match="(?i)Can't find end tag"):
        await bot.send_message(EVA_ID, "<b>félkész", parse_mode="HTML")
    ok = await bot.send_message(EVA_ID, "3 &lt; 5 &amp; AT&T <i>dőlt</i>", parse_mode="HTML")
    assert ok.text == "3 < 5 & AT&T dőlt"
    assert ok.entities[0].type == "italic" and ok.entities[0].offset == 13
    # Without parse_mode the same characters are plain text.
    plain = await bot.send_message(EVA_ID, "3 < 5")
    assert plain.text == "3 < 5"


async def test_markdown_v2_minimal_and_legacy_markdown_refused(
    emu: BotApiEmulator, bot: Bot
) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    sent = await bot.send_message(EVA_ID, r"*Összeg:* 1\.500 Ft", parse_mode="MarkdownV2")
    assert sent.text == "Összeg: 1.500 Ft" and sent.entities[0].type == "bold"
    with pytest.raises(BadRequest, match="(?i)character '\\.' is reserved"):
        await bot.send_message(EVA_ID, "1.500 Ft", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="(?i)Markdown \\(legacy\\) is not supported"):
        await bot.send_message(EVA_ID, "*x*", parse_mode="Markdown")


async def test_blocked_user_gives_forbidden(emu: BotApiEmulator, bot: Bot) -> None:
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    eva.block()
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(EVA_ID, "Hírlevél")
    eva.send_text("/start")
    assert (await bot.send_message(EVA_ID, "Üdv újra")).text == "Üdv újra"


def test_html_offsets_are_utf16_and_errors_in_bytes() -> None:
    text, entities = parse_html("😀 <b>ő</b> <a href='https://pet.hu/?a=1&amp;b=2'>x</a>")
    assert text == "😀 ő x"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 1},
        {"type": "text_link", "offset": 5, "length": 1, "url": "https://pet.hu/?a=1&b=2"},
    ]
    with pytest.raises(ValueError, match="(?i)byte offset 5"):
        parse_html("😀 <x>")


async def test_callback_data_is_limited_to_64_bytes(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")

    def markup(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("Gomb", callback_data=data)]])

    await bot.send_message(EVA_ID, "ok", reply_markup=markup("é" * 32))  # 64 bytes
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(EVA_ID, "túl hosszú", reply_markup=markup("x" * 65))
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(EVA_ID, "33 ő = 66 bájt", reply_markup=markup("ő" * 33))
    with pytest.raises(BadRequest, match="(?i)Text buttons are unallowed"):
        await bot.do_api_request(
            "sendMessage",
            api_kwargs={
                "chat_id": EVA_ID,
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "csak szöveg"}]]},
            },
        )


async def test_flood_control_surfaces_as_retry_after(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    emu.set_rate_limit(3)
    for number in range(3):
        await bot.send_message(EVA_ID, f"üzenet {number}")
    with pytest.raises(RetryAfter, match=r"(?i)retry in (1 second|0:00:01)"):
        await bot.send_message(EVA_ID, "egy túl sok")
    last = emu.requests[-1]
    assert (last.error_code, last.description) == (429, "Too Many Requests: retry after 1")


async def test_rate_limit_zero_switches_flood_control_off(bot: Bot) -> None:
    async with BotApiEmulator(
        token=TOKEN, bot_username=BOT_USERNAME, max_messages_per_second=0
    ) as emu:
        emu.private_user(user_id=EVA_ID, first_name="Éva")
        async with Bot(TOKEN, base_url=emu.base_url) as client:
            for number in range(45):  # more than Telegram's 30 a second
                await client.send_message(EVA_ID, f"üzenet {number}")
            emu.set_rate_limit(2)
            await client.send_message(EVA_ID, "a")
            await client.send_message(EVA_ID, "b")
            with pytest.raises(RetryAfter):
                await client.send_message(EVA_ID, "egy túl sok")
            emu.set_rate_limit(0)
            for number in range(35):
                await client.send_message(EVA_ID, f"megint {number}")
        assert emu.count("sendMessage", ok=True) == 45 + 2 + 35
        assert emu.count(error_code=429) == 1


async def test_a_group_takes_20_messages_a_minute(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    emu.group(STAFF_ID, "Ügyfélszolgálat")
    mark = emu.request_count
    for number in range(20):
        await bot.send_message(STAFF_ID, f"bejelentés {number}")
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(STAFF_ID, "a huszonegyedik")
    wait = refused.value.retry_after
    seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else wait
    assert 55 <= seconds <= 60
    await bot.send_message(EVA_ID, "egy magáncsevegés nem számít bele")
    assert emu.count("sendMessage", ok=True, since=mark) == 21
    assert [c.description for c in emu.calls(error_code=429, since=mark)] == [
        "Too Many Requests: retry after 60"
    ]


async def test_parameter_types_are_checked(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(chat_id="nem-chat", text="x")
    with pytest.raises(BadRequest, match="(?i)chat not found"):
        await bot.send_message(chat_id=424242, text="x")
    with pytest.raises(BadRequest, match='(?i)"message_thread_id" must be of type Integer'):
        await bot.do_api_request(
            "sendMessage", api_kwargs={"chat_id": EVA_ID, "text": "x", "message_thread_id": "a"}
        )
    with pytest.raises(BadRequest, match='(?i)"disable_notification" must be of type Boolean'):
        await bot.do_api_request(
            "sendMessage",
            api_kwargs={"chat_id": EVA_ID, "text": "x", "disable_notification": "talán"},
        )
    with pytest.raises(BadRequest, match='(?i)Field "callback_data" must be of type String'):
        await bot.do_api_request(
            "sendMessage",
            api_kwargs={
                "chat_id": EVA_ID,
                "text": "x",
                "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": 5}]]},
            },
        )
    # Unknown parameters are ignored, as Telegram does; "true" strings are Booleans.
    await bot.do_api_request(
        "sendMessage",
        api_kwargs={"chat_id": EVA_ID, "text": "x", "no_such_param": 1, "protect_content": True},
    )
    assert emu.calls("sendMessage", ok=True)[-1].params["protect_content"] is True


async def test_missing_required_parameter(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    with pytest.raises(BadRequest, match="(?i)chat_id is required"):
        await bot.do_api_request("sendMessage", api_kwargs={"text": "x"})
    with pytest.raises(BadRequest, match="(?i)callback_query_id is required"):
        await bot.do_api_request("answerCallbackQuery", api_kwargs={})


async def test_unknown_method_and_wrong_token(emu: BotApiEmulator, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": 1})
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{emu.base_url}{TOKEN}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        async with session.get(f"{emu.base_url}123456:WRONG/getMe") as response:
            assert response.status == 401
            assert (await response.json())["description"] == "Unauthorized"
        # Method names are case-insensitive; a JSON body works as well as a form.
        async with session.post(f"{emu.base_url}{TOKEN}/GETME", json={}) as response:
            assert (await response.json())["result"]["username"] == BOT_USERNAME


async def test_json_body_and_query_string_parameters(emu: BotApiEmulator) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    url = f"{emu.base_url}{TOKEN}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as session:
        body = {"chat_id": str(EVA_ID), "text": "json", "reply_markup": markup}
        async with session.post(url, json=body) as response:
            result = (await response.json())["result"]
        async with session.get(url, params={"chat_id": EVA_ID, "text": "query"}) as response:
            assert (await response.json())["ok"] is True
    assert result["reply_markup"] == markup
    assert [m.text for m in emu.chat(EVA_ID).replies] == ["json", "query"]


async def test_fail_next_injects_one_failure(emu: BotApiEmulator, bot: Bot) -> None:
    emu.private_user(user_id=EVA_ID, first_name="Éva")
    emu.fail_next("sendMessage", error_code=500, description="Internal Server Error")
    with pytest.raises(NetworkError, match="(?i)Internal Server Error"):
        await bot.send_message(EVA_ID, "első")
    sent = await bot.send_message(EVA_ID, "második")
    assert sent.text == "második"
    emu.fail_next("sendMessage", error_code=403, description="Forbidden: bot was blocked")
    with pytest.raises(Exception, match="(?i)bot was blocked"):
        await bot.send_message(EVA_ID, "harmadik")


async def test_callback_query_can_be_answered_once(emu: BotApiEmulator, bot: Bot) -> None:
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Igen", callback_data="yes")]])
    await bot.send_message(EVA_ID, "Biztos?", reply_markup=markup)
    eva.press("Igen")
    (update,) = await bot.get_updates()
    await bot.answer_callback_query(update.callback_query.id, text="Kész", show_alert=True)
    with pytest.raises(BadRequest, match="(?i)query is too old"):
        await bot.answer_callback_query(update.callback_query.id)
    with pytest.raises(BadRequest, match="(?i)query ID is invalid"):
        await bot.answer_callback_query("123")
    assert emu.callback_answers[0].show_alert is True
    # getUpdates with a higher offset confirms the update; it is not sent again.
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


def test_start_payload_must_be_a_valid_deep_link_parameter() -> None:
    emu = BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME)
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    with pytest.raises(ValueError, match="(?i)payload"):
        eva.send_command("start", payload="szóköz és ékezet")
    with pytest.raises(ValueError, match="(?i)payload"):
        eva.send_command("start", payload="a" * 65)
    assert eva.open_link(emu.deep_link("a" * 64)) is not None
    assert eva.chat.messages[-1].text == "/start " + "a" * 64


async def test_documents_commands_and_menu(emu: BotApiEmulator, bot: Bot) -> None:
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    events: list[tuple[str, int]] = []
    emu.add_listener(lambda event, message: events.append((event, message.message_id)))
    sent = await bot.send_document(
        EVA_ID,
        document=io.BytesIO(b"%PDF-1.4 szamla"),
        filename="szamla.pdf",
        caption="<b>Számla</b>",
        parse_mode="HTML",
    )
    assert sent.document.file_name == "szamla.pdf" and sent.document.file_size == 15
    assert eva.last_reply is not None and eva.last_reply.caption == "Számla"
    assert eva.last_reply.document is not None
    assert emu.file_content(eva.last_reply.document["file_id"]) == b"%PDF-1.4 szamla"
    assert events == [("sent", sent.message_id)]

    eva.send_document("igazolas.pdf", content=b"%PDF igazolas")
    (update,) = await bot.get_updates()
    file = await update.message.document.get_file()
    assert bytes(await file.download_as_bytearray()) == b"%PDF igazolas"

    await bot.set_my_commands([("start", "Indítás"), ("help", "Súgó")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert [c["command"] for c in emu.commands] == ["start", "help"]
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start", "nagybetű")])
    assert await bot.set_chat_menu_button(EVA_ID) is True
    await bot.send_chat_action(EVA_ID, "typing")
    assert eva.chat.actions == ["typing"]
    assert (await bot.get_chat(EVA_ID)).first_name == "Éva"


# -- gates: stopping a bot at a known point ------------------------------------------------


async def test_a_gate_holds_a_call_on_its_way_until_released(emu: BotApiEmulator, bot: Bot) -> None:
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    gate = emu.hold("sendMessage", where=lambda params: params["chat_id"] == EVA_ID)
    sending = asyncio.create_task(bot.send_message(EVA_ID, "tartva"))
    await emu.wait_for(lambda: gate.held, what="the call to reach the gate")
    assert eva.replies == [] and emu.calls("sendMessage") == []
    gate.release()
    sent = await sending
    assert sent.text == "tartva" and [m.text for m in eva.replies] == ["tartva"]
    assert (gate.arrived, gate.held, gate.dropped) == (1, 0, 0)
    assert (await bot.send_message(EVA_ID, "szabad")).text == "szabad"  # released for good


async def test_a_call_held_on_its_way_is_dropped_when_the_bot_hangs_up(
    emu: BotApiEmulator,
) -> None:
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    gate = emu.hold("sendMessage")
    _reader, writer = await asyncio.open_connection(emu.host, emu.port)
    body = json.dumps({"chat_id": EVA_ID, "text": "elveszik"}).encode()
    writer.write(
        f"POST /bot{TOKEN}/sendMessage HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    await emu.wait_for(lambda: gate.held, what="the call to reach the gate")
    writer.close()  # the bot dies with its request in the network
    await writer.wait_closed()
    await _until(lambda: gate.hung_up, what="the emulator to see the hang-up")
    gate.release()
    await emu.wait_for(lambda: gate.dropped, what="the held call to be dropped")
    assert eva.replies == [] and emu.calls("sendMessage") == []


async def test_a_gate_after_the_call_holds_only_the_answer(emu: BotApiEmulator, bot: Bot) -> None:
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    gate = emu.hold("sendMessage", after=True)
    sending = asyncio.create_task(bot.send_message(EVA_ID, "már látszik"))
    await emu.wait_for(lambda: gate.held, what="the answer to be held")
    assert [m.text for m in eva.replies] == ["már látszik"]  # the customer sees it already
    assert not sending.done()
    gate.release()
    assert (await sending).text == "már látszik"


async def test_a_webhook_listener_hears_each_accepted_update(emu: BotApiEmulator) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text("ok")

    heard: list[int] = []
    emu.add_webhook_listener(lambda update: heard.append(update["update_id"]))
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    app = build_app(emu, [MessageHandler(filters.TEXT, echo)])
    port = free_port()
    await app.initialize()
    await app.updater.start_webhook(
        listen="127.0.0.1", port=port, url_path="hook", webhook_url=f"http://127.0.0.1:{port}/hook"
    )
    await app.start()
    try:
        update_id = eva.send_text("szia")
        await emu.wait_delivered(update_id)
        await eva.wait_reply()
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    assert heard == [update_id]


async def _until(predicate: Callable[[], object], *, what: str, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    """Poll a condition nothing announces (here: a socket closed on the server's side)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_a_photo_with_copy_buttons_copies_without_an_update(
    emu: BotApiEmulator, bot: Bot
) -> None:
    """sendPhoto with a caption, copy_text buttons and protected content, as Telegram takes
    it; tapping a copy button puts its text on the person's clipboard and tells the bot
    nothing (Telegram sends no update for it)."""
    eva = emu.private_user(user_id=EVA_ID, first_name="Éva")
    png = b"\x89PNG\r\n\x1a\n qr"
    buttons = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("📋 Számlaszám", copy_text=CopyTextButton("11773016-11111018"))],
            [InlineKeyboardButton("📋 Összeg", copy_text=CopyTextButton("12345"))],
        ]
    )
    sent = await bot.send_photo(
        EVA_ID,
        photo=png,
        caption="<b>Fizetés</b>: <code>11773016-11111018</code>",
        parse_mode="HTML",
        reply_markup=buttons,
        protect_content=True,
    )
    assert sent.has_protected_content and sent.caption == "Fizetés: 11773016-11111018"
    shown = eva.last_reply
    assert shown is not None and shown.photo is not None
    assert emu.file_content(shown.photo[-1]["file_id"]) == png
    assert eva.press_inline(shown.message_id, "📋 Összeg") is None  # no update for the bot
    assert eva.clipboard == "12345"
    assert await bot.get_updates() == ()

    def copying(text: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton("📋", copy_text=CopyTextButton(text))]])

    await bot.send_message(EVA_ID, "256", reply_markup=copying("x" * 256))
    for wrong in ("", "x" * 257):
        with pytest.raises(BadRequest, match="(?i)BUTTON_COPY_TEXT_INVALID"):
            await bot.send_message(EVA_ID, "rossz", reply_markup=copying(wrong))
