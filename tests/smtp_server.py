"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a port the OS picks.

Use the `smtp_server` fixture (registered in conftest through `pytest_plugins`):

    async def test_mail_arrives(smtp_server, db):
        settings = Settings(smtp_server.env)
        ...
        [message] = await smtp_server.wait_for(1)
        assert message["Subject"] == "…"

It records every accepted mail (`.envelopes` raw, `.messages` parsed with
`policy.default`), can refuse the next mail with any reply (`.refuse_next`),
one address every time (`.refuse_address`, a mailbox that does not exist) or
every recipient (`.refuse_everyone`, a server deferring all mail), and can be
stopped and started again on the same port (an outage).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Envelope:
    """One accepted mail as the server saw it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes


class _Controller(Controller):
    """A Controller that binds port 0 and learns the port the OS chose."""

    def _create_server(self):  # type: ignore[override]
        return self._bind()

    async def _bind(self) -> asyncio.AbstractServer:
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server


class SmtpServer:
    """The recording server; its handler runs in aiosmtpd's own thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.envelopes: list[Envelope] = []
        self.messages: list[EmailMessage] = []
        self._loop = loop
        self._lock = threading.Lock()
        self._refusals: list[tuple[str, str]] = []  # (stage, reply)
        self._refused_addresses: dict[str, str] = {}  # address (casefolded) -> reply
        self._refuse_everyone: str | None = None  # the reply to every RCPT TO
        self.refused: list[str] = []  # every address refused, in order
        self._changed = asyncio.Event()
        self._controller: _Controller | None = None

    # --- control -------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        """PETKOMM_* variables pointing a `Settings` at this server (no TLS, no login)."""
        return {
            "PETKOMM_SMTP_HOST": self.host,
            "PETKOMM_SMTP_PORT": str(self.port),
            "PETKOMM_SMTP_SECURITY": "none",
        }

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        """Listen (again): the first time on a fresh port, later on the same one."""
        if self._controller is not None:
            return
        controller = _Controller(self, hostname=self.host, port=self.port)
        controller.start()
        self.port = controller.port
        self._controller = controller

    def stop(self) -> None:
        """Stop listening; connections are refused until `start()`."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse_next(self, code: int, text: str, stage: str = "rcpt") -> None:
        """Answer the next mail's RCPT TO (stage "rcpt") or DATA (stage "data") with `code text`."""
        if stage not in ("rcpt", "data"):
            raise ValueError("stage is 'rcpt' or 'data'")
        with self._lock:
            self._refusals.append((stage, f"{code} {text}"))

    def refuse_address(self, address: str, code: int | None, text: str = "") -> None:
        """Answer every RCPT TO for `address` with `code text` (e.g. 550, no such user);
        None accepts it again."""
        with self._lock:
            if code is None:
                self._refused_addresses.pop(address.casefold(), None)
            else:
                self._refused_addresses[address.casefold()] = f"{code} {text}"

    def refuse_everyone(self, code: int | None, text: str = "") -> None:
        """Answer every RCPT TO with `code text` (None: accept again)."""
        with self._lock:
            self._refuse_everyone = None if code is None else f"{code} {text}"

    # Named like asyncio.wait_for(…, timeout) for readable tests; asyncio.timeout does the work.
    async def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:  # noqa: ASYNC109
        """Wait until at least `count` mails have arrived; return the first `count`."""
        try:
            async with asyncio.timeout(timeout):
                while len(self.messages) < count:
                    self._changed.clear()
                    if len(self.messages) >= count:
                        break
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(
                f"expected {count} mail(s) within {timeout} s, got {len(self.messages)}"
            ) from None
        return self.messages[:count]

    # --- aiosmtpd handler hooks (server thread) ------------------------------------
    def _take_refusal(self, stage: str) -> str | None:
        with self._lock:
            if self._refusals and self._refusals[0][0] == stage:
                return self._refusals.pop(0)[1]
        return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        refusal = self._take_refusal("rcpt")
        with self._lock:
            refusal = (
                refusal or self._refused_addresses.get(address.casefold()) or self._refuse_everyone
            )
            if refusal:
                self.refused.append(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        refusal = self._take_refusal("data")
        if refusal:
            return refusal
        raw = bytes(envelope.original_content or b"")
        record = Envelope(str(envelope.mail_from), list(envelope.rcpt_tos), raw)
        parsed = message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.envelopes.append(record)
            self.messages.append(parsed)  # type: ignore[arg-type]
        self._loop.call_soon_threadsafe(self._changed.set)
        return "250 Message accepted for delivery"


@pytest.fixture
async def smtp_server() -> AsyncIterator[SmtpServer]:
    """A running recording SMTP server on 127.0.0.1 (stopped after the test)."""
    server = SmtpServer(asyncio.get_running_loop())
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)
