"""Driving the real bot through the Bot API emulator, the way a customer would.

`bot_env` starts the emulator, a real database with demo billing data, and the
real python-telegram-bot Application polling the emulator. `Customer` sends
texts and presses buttons and waits until the bot has fully handled each
update (no sleeps), then returns the bot's new messages.
"""

from __future__ import annotations

import email
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from email import policy
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from botapi_emulator import BotApiEmulator, ChatMessage, SimulatedUser
from conversations.common import label
from core import passwords
from core.billing_import import import_folder
from core.config import Settings
from core.db import Database, open_database
from core.demodata import DemoSummary, write_demo_data
from mailer.sender import Transport
from service import Overrides, Polling, Service
from tests.screen import missing_buttons

TOKEN = "123456:TESTTOKEN"
BOT_USERNAME = "petkomm_teszt_bot"
TODAY = date(2026, 11, 25)
START = 1_795_600_000.0  # 2026-11-25 around noon, Budapest


@dataclass
class Clock:
    """Time the bot sees; tests move it forward to expire codes and logins."""

    now: float = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class BotEnv:
    emulator: BotApiEmulator
    db: Database
    service: Service
    clock: Clock
    demo: DemoSummary
    settings: Settings
    tmp: Path
    _next_user: int = 1000
    customers: list = field(default_factory=list)

    @property
    def application(self):
        return self.service.application

    def customer(self, first_name: str = "Éva") -> Customer:
        """A new person with a private chat with the bot."""
        self._next_user += 1
        return Customer(self, self.emulator.private_user(self._next_user, first_name))

    async def processed(self, update_id: int | None) -> None:
        """Wait until the bot has handled this update completely."""
        assert update_id is not None, "the bot did not receive the update"
        await self.application.update_processor.wait_processed(update_id)

    async def mails_to(self, address: str) -> list[email.message.EmailMessage]:
        """Mails to `address`, oldest first, as the customer gets them.

        A queued mail is read from the outbox; a sent one from the `.eml` file the
        folder transport wrote before marking it sent (the outbox keeps no code).
        """
        rows = await self.db.fetch_all(
            "SELECT id, kind, status, raw FROM outbox WHERE recipient = ? ORDER BY id", (address,)
        )
        mails = []
        for mail_id, kind, status, raw in rows:
            delivered = self.tmp / "mail" / f"{mail_id}-{kind}.eml"
            if status != "queued" and delivered.exists():
                raw = delivered.read_bytes()
            mails.append(email.message_from_bytes(raw, policy=policy.default))
        return mails

    async def code_mailed_to(self, address: str) -> tuple[str, str]:
        """(code, deep link) of the newest code mail to `address`."""
        mails = await self.mails_to(address)
        assert mails, f"no mail to {address}"
        text = mails[-1].get_body(("plain",)).get_content()
        code = re.search(r"((?:[A-Z2-9]{4} ){5}[A-Z2-9]{4})", text)[1].replace(" ", "")
        link = re.search(r"https://t\.me/\S+", text)[0]
        return code, link


class Customer:
    """A simulated person chatting with the bot."""

    def __init__(self, env: BotEnv, user: SimulatedUser) -> None:
        self.env = env
        self.user = user

    @property
    def id(self) -> int:
        return self.user.user_id

    def _seen(self) -> int:
        return max((m.message_id for m in self.user.chat.messages), default=0)

    async def _run(self, send) -> list[ChatMessage]:
        before = self._seen()
        await self.env.processed(send())
        replies = [m for m in self.user.replies if m.message_id > before]
        # Issue 11: a reply names only buttons that are on the screen (or shows them).
        missing = missing_buttons(self, replies)
        assert not missing, f"a reply names buttons that are not on the screen: {missing}"
        return replies

    async def say(self, text: str) -> list[ChatMessage]:
        """Type a message; returns the bot's answers."""
        return await self._run(lambda: self.user.send_text(text))

    async def command(self, name: str, payload: str | None = None) -> list[ChatMessage]:
        return await self._run(lambda: self.user.send_command(name, payload))

    async def press(self, name_or_text: str) -> list[ChatMessage]:
        """Press a button by its purpose (`"login"`) or its exact label."""
        try:
            text = label(name_or_text)
        except KeyError:
            text = name_or_text
        return await self._run(lambda: self.user.press(text))

    async def press_on(self, message: ChatMessage, name_or_text: str) -> list[ChatMessage]:
        try:
            text = label(name_or_text)
        except KeyError:
            text = name_or_text
        return await self._run(lambda: self.user.press_inline(message.message_id, text))

    async def open_link(self, url: str) -> list[ChatMessage]:
        return await self._run(lambda: self.user.open_link(url))

    async def sticker(self) -> list[ChatMessage]:
        return await self._run(lambda: self.user.send_sticker())

    async def photo(self) -> list[ChatMessage]:
        return await self._run(lambda: self.user.send_photo())

    @property
    def keyboard(self) -> list[str]:
        """The reply keyboard's labels, flattened."""
        rows = self.user.reply_keyboard or []
        return [b for row in rows for b in row]

    @property
    def last(self) -> str:
        reply = self.user.last_reply
        return reply.text if reply else ""

    def texts(self, replies: list[ChatMessage]) -> str:
        return "\n".join(m.text or "" for m in replies)

    # --- whole flows, for tests that start from a given point ----------------------------

    async def register(
        self,
        *,
        email_address: str,
        username: str,
        password: str,
        customer_id: str,
        invoice: str,
        amount: str,
    ) -> list[ChatMessage]:
        if label("register") not in self.keyboard:
            await self.command("start")
        await self.press("register")
        # The password twice: the registration asks for it again (issue 11).
        for answer in (email_address, username, password, password, customer_id, invoice, amount):
            await self.say(answer)
        return await self.press("confirm")

    async def login(self, username: str, password: str) -> list[ChatMessage]:
        if label("login") not in self.keyboard:
            await self.command("start")
        await self.press("login")
        await self.say(username)
        return await self.say(password)


async def start_bot(
    env_values: dict[str, str],
    db: Database,
    clock: Clock,
    emulator: BotApiEmulator,
    announce_interval: float = 0.05,
    transport: Transport | None = None,
) -> Service:
    """The whole service (the composition root `run` uses) against the emulator, started."""
    service = await Service.build(
        Settings(env_values),
        db,
        overrides=Overrides(
            token=TOKEN,
            api_url=emulator.base_url,
            clock=clock,
            announce_interval=announce_interval,
            transport=transport,
            read_mail=False,
        ),
    )
    await service.start(polling=Polling(interval=0, timeout=1))
    return service


async def stop_bot(service: Service) -> None:
    await service.stop()


@pytest.fixture(autouse=True)
def cheap_argon2():
    """Argon2id with small parameters: the same code path, fast tests."""
    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    yield
    passwords.use_hasher(passwords.PRODUCT_HASHER)  # as the product has it
    passwords.use_threads()  # as the product has it (a test may have widened it)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> tuple[Path, DemoSummary]:
    folder = tmp_path_factory.mktemp("demo-export")
    summary = write_demo_data(folder, customers=40, seed=7, years=2, today=TODAY)
    return folder, summary


@pytest.fixture
async def bot_env(tmp_path, demo_folder) -> AsyncIterator[BotEnv]:
    folder, summary = demo_folder
    db = await open_database(tmp_path / "bot.sqlite3")
    await import_folder(db, folder)
    clock = Clock()
    emulator = BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME)
    await emulator.start()
    env_values = {
        "PETKOMM_DB": str(tmp_path / "bot.sqlite3"),
        "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
    }
    service = await start_bot(env_values, db, clock, emulator)
    env = BotEnv(emulator, db, service, clock, summary, service.settings, tmp_path)
    try:
        yield env
    finally:
        await stop_bot(env.service)
        await emulator.stop()
        await db.close()


async def proof_for(db: Database, customer_id: str) -> dict[str, str]:
    """Registration answers (but the personal ones) that prove `customer_id`."""
    row = await db.fetch_one(
        "SELECT invoice_no, amount FROM invoices WHERE customer_id = ? AND amount > 0"
        " ORDER BY issue_date DESC LIMIT 1",
        (customer_id,),
    )
    number = f"{row[0] // 1_000_000}-{row[0] % 1_000_000:06d}"
    return {"customer_id": customer_id, "invoice": number, "amount": str(row[1])}


async def debtor(db: Database, overdue: bool = True) -> str:
    """A customer with an unpaid invoice (overdue, or not yet due)."""
    compare = "<" if overdue else ">="
    return await db.fetch_value(
        f"SELECT customer_id FROM invoices WHERE outstanding > 0 AND due_date {compare} ?"
        " ORDER BY customer_id LIMIT 1",
        (TODAY.isoformat(),),
    )


async def active_customer(
    env: BotEnv, customer_id: str, username: str, password: str = "Tavaszi-Szel-42"
) -> Customer:
    """A person who registered `customer_id` and activated it with the mailed link, which
    logged them in."""
    person = env.customer()
    proof = await proof_for(env.db, customer_id)
    address = f"{username}@example.hu"
    await person.register(email_address=address, username=username, password=password, **proof)
    _, link = await env.code_mailed_to(address)
    await person.open_link(link)  # the registrant's own link logs them in at once
    return person


# --- staff: the bot with a staff chat, its clerks and the announcer (the staff tests) ----------

STAFF_CHAT_ID = -1001987654321
STAFF_IDS = (9001, 9002)


class Clerk:
    """Someone writing in the staff group (or a private chat): staff, or a stranger."""

    def __init__(self, env: BotEnv, user: SimulatedUser, chat) -> None:
        self.env = env
        self.user = user
        self.chat = chat

    @property
    def id(self) -> int:
        return self.user.user_id

    def privately(self) -> Clerk:
        """The same person in their private chat with the bot."""
        return Clerk(self.env, self.user, self.user.chat)

    def _seen(self) -> int:
        return max((m.message_id for m in self.chat.messages), default=0)

    async def _run(self, send) -> list[ChatMessage]:
        before = self._seen()
        await self.env.processed(send())
        return [m for m in self.chat.replies if m.message_id > before]

    async def command(
        self, name: str, payload: str | None = None, *, reply_to: ChatMessage | None = None
    ) -> list[ChatMessage]:
        """`/name payload`, optionally as a reply to one of the bot's messages."""
        target = reply_to.message_id if reply_to else None
        return await self._run(
            lambda: self.user.send_command(name, payload, chat=self.chat, reply_to=target)
        )

    async def reply(self, message: ChatMessage, text: str) -> list[ChatMessage]:
        """Reply to one of the bot's messages."""
        return await self._run(
            lambda: self.user.send_text(text, chat=self.chat, reply_to=message.message_id)
        )

    async def press_data(self, message: ChatMessage, data: str) -> list[ChatMessage]:
        """Press a button with this callback data that the message once showed, as a
        client whose keyboard is stale does after the bot took the buttons away."""
        button = {"text": data, "callback_data": data}
        return await self._run(lambda: self.user._press_inline_button(self.chat, message, button))

    async def press(self, message: ChatMessage, text: str) -> list[ChatMessage]:
        """Press an inline button of a bot message by its label."""
        return await self._run(
            lambda: self.user.press_inline(message.message_id, text, chat=self.chat)
        )


@dataclass
class StaffBotEnv(BotEnv):
    """`BotEnv` with the staff group, the announcer running, and ways to meet people."""

    group: object = None  # botapi_emulator.ChatState
    people: dict = field(default_factory=dict)  # clerks met so far, by user id

    @property
    def announcer(self):
        return self.service.announcer

    def clerk(
        self, user_id: int = STAFF_IDS[0], first_name: str = "Anna", username: str | None = None
    ) -> Clerk:
        """A staff member (or, with another id, a stranger) in the staff group."""
        if user_id not in self.people:
            self.people[user_id] = self.emulator.private_user(
                user_id, first_name, username=username
            )
        return Clerk(self, self.people[user_id], self.group)

    async def staff_message(self, *needles: str, timeout: float = 10.0) -> ChatMessage:  # noqa: ASYNC109
        """Wait for the newest bot message in the staff group containing every needle."""

        def found() -> ChatMessage | None:
            for message in reversed(self.group.replies):
                if all(n in (message.text or "") for n in needles):
                    return message
            return None

        message = await self.emulator.wait_for(found, timeout=timeout, what=f"staff post {needles}")
        await self.announcer.run_once()  # the round that sent it has recorded it too
        return message

    async def chat_message(self, person, *needles: str, timeout: float = 10.0) -> ChatMessage:  # noqa: ASYNC109
        """Wait for a bot message in a person's private chat containing every needle."""

        def found() -> ChatMessage | None:
            for message in reversed(person.user.replies):
                if all(n in (message.text or "") for n in needles):
                    return message
            return None

        message = await self.emulator.wait_for(
            found, timeout=timeout, what=f"chat message {needles}"
        )
        await self.announcer.run_once()  # the round that sent it has recorded it too
        return message


@pytest.fixture
async def staff_bot(tmp_path, demo_folder) -> AsyncIterator:
    """Start the bot with a staff chat and staff IDs (more settings as keywords), and its
    announcer; everything started is stopped after the test."""
    folder, summary = demo_folder
    started: list[StaffBotEnv] = []

    async def start(transport: Transport | None = None, **settings: str) -> StaffBotEnv:
        path = tmp_path / f"staff-{len(started)}.sqlite3"
        db = await open_database(path)
        await import_folder(db, folder)
        clock = Clock()
        emulator = BotApiEmulator(token=TOKEN, bot_username=BOT_USERNAME)
        await emulator.start()
        group = emulator.group(STAFF_CHAT_ID, "PÉTKOMM ügyfélszolgálat")
        env_values = {
            "PETKOMM_DB": str(path),
            "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
            "PETKOMM_STAFF_CHAT_ID": str(STAFF_CHAT_ID),
            "PETKOMM_STAFF_IDS": ",".join(str(i) for i in STAFF_IDS),
            # The morning digest only where a test asks for it (tests/test_desk_digest.py).
            "PETKOMM_DIGEST_TIME": "off",
            **settings,
        }
        service = await start_bot(env_values, db, clock, emulator, transport=transport)
        env = StaffBotEnv(
            emulator, db, service, clock, summary, service.settings, tmp_path, group=group
        )
        started.append(env)
        return env

    yield start
    for env in started:
        await stop_bot(env.service)
        await env.emulator.stop()
        await env.db.close()
