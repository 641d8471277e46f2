"""Gates: hold the bot's calls of one method in the network, to stop a bot at a known point.

A crash test needs the bot killed at a precise moment, e.g. while it is answering a message
it has already fetched. A gate holds the bot's matching calls until it is released:

- ``after=False`` (the default): before Telegram handles the call, as if the request were
  still on its way. If the bot hangs up meanwhile (it was killed), the call is dropped on
  release: Telegram never saw it.
- ``after=True``: once Telegram has handled the call (the message is in the chat), before
  the bot hears the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Where = Callable[[dict[str, Any]], bool]


class Gate:
    """Holds the bot's calls of ``method`` whose parameters satisfy ``where``."""

    def __init__(
        self,
        method: str,
        where: Where | None,
        after: bool,
        on_change: Callable[[], None],
        on_release: Callable[[Gate], None],
    ) -> None:
        self.method = method
        self.after = after
        self._where = where
        self._on_change = on_change
        self._on_release = on_release
        self._open = asyncio.Event()
        self.held = 0  # calls waiting at the gate now
        self.arrived = 0  # calls that reached the gate so far
        self.dropped = 0  # calls held before Telegram whose client hung up meanwhile
        self._waiting: list[Callable[[], bool]] = []  # per held call: has its client gone?

    @property
    def released(self) -> bool:
        """Whether the gate was released (it holds nothing any more)."""
        return self._open.is_set()

    def matches(self, method: str, params: dict[str, Any], after: bool) -> bool:
        """Whether this gate holds this call at this stage."""
        if self.released or after != self.after or method.lower() != self.method.lower():
            return False
        return self._where is None or bool(self._where(params))

    @property
    def hung_up(self) -> int:
        """How many of the held calls' clients have hung up (e.g. the bot was killed)."""
        return sum(1 for gone in self._waiting if gone())

    async def hold(self, client_gone: Callable[[], bool]) -> None:
        """Wait at the gate until it is released."""
        self.held += 1
        self.arrived += 1
        self._waiting.append(client_gone)
        self._on_change()
        try:
            await self._open.wait()
        finally:
            self.held -= 1
            self._waiting.remove(client_gone)

    def release(self) -> None:
        """Let every held call (and every later one) through; the gate is removed."""
        if not self._open.is_set():
            self._open.set()
            self._on_release(self)
            self._on_change()
