"""Webhook delivery: POST each queued update to the bot's URL, in order, retrying failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from .updates import UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_MAX_BACKOFF = 2.0


class WebhookDeliverer:
    """Pushes updates from an :class:`UpdateQueue` to a webhook while one is set."""

    def __init__(self, queue: UpdateQueue) -> None:
        self.queue = queue
        self.url = ""
        self.secret_token: str | None = None
        self.max_connections = 40
        self.ip_address: str | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.deliveries = 0
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def active(self) -> bool:
        """Whether a webhook URL is set."""
        return bool(self.url)

    async def configure(
        self,
        url: str,
        secret_token: str | None = None,
        max_connections: int | None = None,
        ip_address: str | None = None,
    ) -> None:
        """Set (or replace) the webhook and start delivering to it."""
        await self.remove()
        self.url = url
        self.secret_token = secret_token
        self.max_connections = max_connections or 40
        self.ip_address = ip_address
        self.last_error_date = None
        self.last_error_message = None
        self._task = asyncio.create_task(self._run(), name="botapi-emulator-webhook")

    async def remove(self) -> None:
        """Stop delivering; queued updates stay for getUpdates."""
        self.url = ""
        self.secret_token = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def close(self) -> None:
        """Stop delivering and release the HTTP client."""
        await self.remove()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def info(self) -> dict[str, Any]:
        """The ``WebhookInfo`` object for getWebhookInfo."""
        data: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue.pending),
        }
        if self.url:
            data["max_connections"] = self.max_connections
            if self.ip_address:
                data["ip_address"] = self.ip_address
            if self.queue.allowed_updates:
                data["allowed_updates"] = list(self.queue.allowed_updates)
        if self.last_error_date is not None:
            data["last_error_date"] = self.last_error_date
            data["last_error_message"] = self.last_error_message
        return data

    async def _run(self) -> None:
        backoff = 0.05
        while True:
            await self.queue.wait_pending()
            if self.queue.closed:
                return
            update = self.queue.pending[0]
            if await self._post(update):
                self.deliveries += 1
                for listener in list(self.listeners):
                    listener(update)
                self.queue.mark_delivered([update["update_id"]])
                self.queue.confirm(update["update_id"])
                backoff = 0.05
            else:
                # Telegram retries failed deliveries after a pause; so do we.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _post(self, update: dict[str, Any]) -> bool:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Content-Type": "application/json"}
        if self.secret_token:
            headers[SECRET_HEADER] = self.secret_token
        try:
            async with self._session.post(
                self.url,
                data=json.dumps(update, ensure_ascii=False).encode("utf-8"),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                if 200 <= response.status < 300:
                    return True
                self._record_error(
                    f"Wrong response from the webhook: {response.status} {response.reason}"
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._record_error(f"Connection failed: {exc}")
        return False

    def _record_error(self, message: str) -> None:
        self.last_error_date = int(time.time())
        self.last_error_message = message
