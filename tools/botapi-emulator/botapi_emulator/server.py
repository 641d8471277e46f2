"""The emulator: a loopback Bot API HTTP server plus the test-facing controls."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import defaultdict, deque
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from .chats import ChatState
from .context import MethodContext
from .dispatcher import dispatch, is_outgoing
from .errors import ApiError, too_many_requests
from .gates import Gate, Where
from .http_params import read_params
from .models import ApiCall, CallbackAnswer, CallbackQueryRecord, ChatMessage, StoredFile
from .people import SimulatedUser
from .rate_limit import PerChatLimiter, RollingWindowLimiter
from .spec import ApiSpec
from .state import EmulatorState
from .updates import UpdateQueue
from .validation import ParamValidator
from .webhook import WebhookDeliverer

logger = logging.getLogger(__name__)

T = TypeVar("T")
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")
_MAX_UPLOAD = 50 * 1024 * 1024
_dumps = partial(json.dumps, ensure_ascii=False)


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


class BotApiEmulator:
    """A local Telegram Bot API that a real client library talks to over loopback HTTP.

    Typical use::

        async with BotApiEmulator(token="123456:TEST", bot_username="my_bot") as emu:
            app = ApplicationBuilder().token(emu.token).base_url(emu.base_url)
            ...
            eva = emu.private_user(user_id=1001, first_name="Éva")
            update_id = eva.send_command("start")
            reply = await eva.wait_reply()
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "emulated_bot",
        *,
        bot_first_name: str = "Emulated Bot",
        max_messages_per_second: int = 30,
        max_group_messages_per_minute: int = 20,
        group_privacy: bool = True,
        strict_html_entities: bool = True,
        allow_http_webhooks: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"malformed bot token {token!r}; expected '<digits>:<secret>'")
        self.token = token
        self.bot_username = bot_username
        self.group_privacy = group_privacy
        self.host = host
        self.port = port
        self.spec = ApiSpec.load()
        self._state = EmulatorState(
            {
                "id": int(token.split(":", 1)[0]),
                "is_bot": True,
                "first_name": bot_first_name,
                "username": bot_username,
                "can_join_groups": True,
                "can_read_all_group_messages": not group_privacy,
                "supports_inline_queries": False,
                "can_connect_to_business": False,
                "has_main_web_app": False,
            }
        )
        self._change_waiters: set[asyncio.Event] = set()
        self._queue = UpdateQueue(self._notify)
        self._webhook = WebhookDeliverer(self._queue)
        self._ctx = MethodContext(
            spec=self.spec,
            state=self._state,
            queue=self._queue,
            webhook=self._webhook,
            strict_html_entities=strict_html_entities,
            allow_http_webhooks=allow_http_webhooks,
        )
        self._validator = ParamValidator(self.spec)
        # Telegram's flood control; 0 switches a limit off (a bench measuring the bot).
        self._limiter = RollingWindowLimiter(max_messages_per_second)
        self._group_limiter = PerChatLimiter(max_group_messages_per_minute)
        self._failures: dict[str, deque[ApiError]] = defaultdict(deque)
        self._gates: list[Gate] = []
        self._runner: web.AppRunner | None = None
        self.internal_errors: list[BaseException] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving on ``host``; with port 0 the OS picks a free port."""
        if self._runner is not None:
            return
        self._queue.closed = False
        app = web.Application(client_max_size=_MAX_UPLOAD)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving; pending long polls are answered first, held calls let through."""
        for gate in list(self._gates):
            gate.release()
        self._queue.close()
        await self._webhook.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Root URL of the server."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)`` (the token is appended by the client)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"{self.url}/file/bot"

    # -- people and chats ------------------------------------------------------------------

    def private_user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "hu",
        *,
        is_premium: bool = False,
    ) -> SimulatedUser:
        """A user with a private chat with the bot (chat id == user id)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        self._state.users[user_id] = user
        chat = self._state.add_chat(ChatState(chat_id=user_id, type="private", user=user))
        return SimulatedUser(self, user, chat)

    def group(
        self,
        chat_id: int,
        title: str,
        *,
        username: str | None = None,
        bot_is_admin: bool = False,
        privacy_mode: bool | None = None,
        chat_type: str | None = None,
    ) -> ChatState:
        """A group the bot is a member of (``-100…`` ids are supergroups).

        With privacy mode on (Telegram's default) and the bot not an administrator, the bot
        only receives commands and replies to its own messages from this group.
        """
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        if chat_type is None:
            chat_type = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = ChatState(
            chat_id=chat_id,
            type=chat_type,
            title=title,
            username=username,
            bot_is_admin=bot_is_admin,
            privacy_mode=self.group_privacy if privacy_mode is None else privacy_mode,
        )
        return self._state.add_chat(chat)

    def chat(self, chat_id: int) -> ChatState:
        """A known chat by id; KeyError if there is none."""
        return self._state.chats[chat_id]

    def deep_link(self, payload: str) -> str:
        """``https://t.me/<bot>?start=<payload>``."""
        return f"https://t.me/{self.bot_username}?start={payload}"

    # -- used by simulated people ----------------------------------------------------------

    def push_update(self, kind: str, payload: dict[str, Any]) -> int | None:
        """Queue an update of ``kind`` ('message', 'callback_query', ...); its id or None."""
        return self._queue.push(kind, payload)

    def store_file(
        self, content: bytes, file_name: str | None, mime_type: str | None = None
    ) -> StoredFile:
        """Register file content so that the bot can fetch it with getFile."""
        return self._state.add_file(content, file_name, mime_type)

    def new_callback_query(
        self, chat_id: int, message_id: int, data: str | None
    ) -> CallbackQueryRecord:
        """Create a callback query record awaiting answerCallbackQuery."""
        return self._state.new_callback_query(chat_id, message_id, data)

    # -- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[ApiCall]:
        """Every API call received so far, in order, with its outcome."""
        return list(self._state.requests)

    def calls(
        self,
        method: str | None = None,
        *,
        ok: bool | None = None,
        error_code: int | None = None,
        since: int = 0,
    ) -> list[ApiCall]:
        """Logged calls of one method (case-insensitive; None: every method), optionally
        only (un)successful ones, or those answered with `error_code`, from the
        `since`-th logged call on (`len(emulator.requests)` taken earlier, say)."""
        wanted = method.lower() if method is not None else None
        return [
            c
            for c in self._state.requests[since:]
            if (wanted is None or c.method.lower() == wanted)
            and (ok is None or c.ok == ok)
            and (error_code is None or c.error_code == error_code)
        ]

    def count(
        self,
        method: str | None = None,
        *,
        ok: bool | None = None,
        error_code: int | None = None,
        since: int = 0,
    ) -> int:
        """How many logged calls `calls` would return: `count(error_code=429)` is how often
        flood control refused the bot."""
        return len(self.calls(method, ok=ok, error_code=error_code, since=since))

    @property
    def request_count(self) -> int:
        """How many calls are logged so far (a mark for `calls(since=...)`)."""
        return len(self._state.requests)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        """Successful answerCallbackQuery calls, in order."""
        return list(self._state.callback_answers)

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The default-scope, default-language command list set by the bot."""
        return list(self._state.commands.get(self._state.commands_key(None, None), []))

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot."""
        return self._queue.pending

    @property
    def webhook_url(self) -> str:
        """The webhook URL set by the bot ('' when polling)."""
        return self._webhook.url

    @property
    def webhook_info(self) -> dict[str, Any]:
        """What getWebhookInfo would answer."""
        return self._webhook.info()

    def all_messages(self) -> list[ChatMessage]:
        """Messages of every chat (for checks like "no text over the limit was stored")."""
        return [m for chat in self._state.chats.values() for m in chat.messages]

    def add_listener(self, listener: Callable[[str, ChatMessage], None]) -> None:
        """Call ``listener(event, message)`` whenever the bot sends, edits or deletes a
        message (event 'sent', 'edited', 'deleted'); e.g. to print a terminal demo."""
        self._state.listeners.append(listener)

    def add_webhook_listener(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(update)`` the moment the bot's webhook accepts an update (answers
        2xx), before it counts as delivered; e.g. to check what the bot had done by then."""
        self._webhook.listeners.append(listener)

    def file_content(self, file_id: str) -> bytes:
        """The bytes behind a ``file_id`` (uploaded by the bot or sent by a user)."""
        return self._state.files[file_id].content

    # -- fault injection and rate limit ----------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        *,
        retry_after: int | None = None,
    ) -> None:
        """Make the next call of ``method`` fail once with this error (calls stack up)."""
        parameters = {"retry_after": retry_after} if retry_after else None
        self._failures[method.lower()].append(ApiError(error_code, description, parameters))

    def hold(self, method: str, *, where: Where | None = None, after: bool = False) -> Gate:
        """Hold the bot's calls of ``method`` (those whose parameters satisfy ``where``)
        until ``gate.release()``: to stop a bot at a known point, e.g. kill it mid-answer.

        By default a call is held before Telegram handles it, as if still on its way; one
        whose client hung up meanwhile (the bot was killed) is dropped on release. With
        ``after=True`` it is handled first (the message is in the chat) and only the answer
        is held. ``await emulator.wait_for(lambda: gate.held)`` waits for a call to arrive;
        ``gate.hung_up`` counts held calls whose client has gone.
        """
        gate = Gate(method, where, after, self._notify, self._gates.remove)
        self._gates.append(gate)
        return gate

    async def _pass_gates(
        self, request: web.Request, method: str, params: dict[str, Any], *, after: bool
    ) -> list[Gate]:
        """Wait at every gate this call meets; the gates that held it."""
        held_by = [gate for gate in self._gates if gate.matches(method, params, after)]
        for gate in held_by:
            await gate.hold(partial(_client_gone, request))
        return held_by

    def set_rate_limit(
        self, max_messages_per_second: int, max_group_messages_per_minute: int | None = None
    ) -> None:
        """Change the flood-control limits: outgoing messages per rolling second overall,
        and (when given) per rolling minute in one group; 0 switches a limit off."""
        self._limiter = RollingWindowLimiter(max_messages_per_second)
        if max_group_messages_per_minute is not None:
            self._group_limiter = PerChatLimiter(max_group_messages_per_minute)

    # -- waiting ---------------------------------------------------------------------------

    def delivered(self, update_id: int) -> bool:
        """Whether the bot has fetched this update (getUpdates answer or webhook POST)."""
        return self._queue.is_delivered(update_id)

    async def wait_delivered(
        self,
        update_id: int | None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a bounded wait is the point
    ) -> None:
        """Wait until the bot has fetched the update; TimeoutError after ``timeout`` s.

        Delivery is not completion: to wait for the bot's reaction use
        :meth:`SimulatedUser.wait_reply` or :meth:`wait_for`.
        """
        if update_id is None:
            raise ValueError("this action produced no update (e.g. group privacy mode)")
        await self._queue.wait_delivered(update_id, timeout)

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 5.0,  # noqa: ASYNC109 - a bounded wait is the point
        *,
        what: str | None = None,
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        Re-checked after every API call and update change, so no polling sleeps are
        involved; TimeoutError (naming ``what``) after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"timed out after {timeout} s waiting for {what or 'the condition'}"
                )
            waiter = asyncio.Event()
            self._change_waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._change_waiters.discard(waiter)

    def _notify(self) -> None:
        for waiter in self._change_waiters:
            waiter.set()

    # -- HTTP handlers ---------------------------------------------------------------------

    @staticmethod
    def _error_response(error: ApiError) -> web.Response:
        return web.json_response(error.to_json(), status=error.error_code, dumps=_dumps)

    def _log(self, call: ApiCall) -> None:
        self._state.requests.append(call)
        self._notify()

    def _group_of(self, params: dict[str, Any]) -> int | None:
        """The group (or supergroup) a message call goes to, for its per-group limit."""
        chat_ref = params.get("chat_id")
        if not isinstance(chat_ref, (int, str)) or isinstance(chat_ref, bool):
            return None
        try:
            chat = self._state.resolve_chat(chat_ref)
        except ApiError:
            return None  # the call itself answers "chat not found"
        return chat.chat_id if chat.type in ("group", "supergroup") else None

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        name = request.match_info["method"]
        if token != self.token:
            error = (
                ApiError(401, "Unauthorized")
                if _TOKEN.fullmatch(token)
                else ApiError(404, "Not Found")
            )
            self._log(ApiCall(name, {}, False, error.error_code, error.description))
            return self._error_response(error)
        method = self.spec.method(name)
        if method is None:
            error = ApiError(404, "Not Found")
            self._log(ApiCall(name, {}, False, 404, error.description))
            return self._error_response(error)
        params: dict[str, Any] = {}
        try:
            raw, files = await read_params(request)
            params = {**raw, **files}
            failures = self._failures.get(method.name.lower())
            if failures:
                raise failures.popleft()
            params = self._validator.validate(method, raw, files)
            held_by = await self._pass_gates(request, method.name, params, after=False)
            if held_by and _client_gone(request):  # the bot died meanwhile: Telegram never saw it
                for gate in held_by:
                    gate.dropped += 1
                return self._error_response(ApiError(499, "Client Closed Request"))
            outgoing = is_outgoing(method.name)
            group = self._group_of(params) if outgoing else None
            if outgoing:
                retry_after = self._limiter.retry_after()
                if retry_after is None and group is not None:
                    retry_after = self._group_limiter.retry_after(group)
                if retry_after is not None:
                    raise too_many_requests(retry_after)
            result = await dispatch(self._ctx, method, params)
            if outgoing:
                self._limiter.record()
                if group is not None:
                    self._group_limiter.record(group)
            await self._pass_gates(request, method.name, params, after=True)
        except ApiError as error:
            if not (error.error_code == 409 and _client_gone(request)):
                # (a long poll superseded after its client hung up is nobody's business)
                self._log(ApiCall(method.name, params, False, error.error_code, error.description))
            return self._error_response(error)
        except Exception as exc:  # a bug in the emulator: report it like a server fault
            logger.exception("emulator failure in %s", method.name)
            self.internal_errors.append(exc)
            error = ApiError(500, f"Internal Server Error: emulator failure: {exc!r}")
            self._log(ApiCall(method.name, params, False, 500, error.description))
            return self._error_response(error)
        self._log(ApiCall(method.name, params, True, result=result))
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error_response(ApiError(401, "Unauthorized"))
        stored = self._state.file_by_path(request.match_info["path"])
        if stored is None:
            return self._error_response(ApiError(404, "Not Found"))
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )
