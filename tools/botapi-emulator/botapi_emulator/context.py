"""What a method handler gets to work with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .spec import ApiSpec
from .state import EmulatorState
from .updates import UpdateQueue
from .webhook import WebhookDeliverer


@dataclass
class MethodContext:
    """The emulator's parts a Bot API method may read or change."""

    spec: ApiSpec
    state: EmulatorState
    queue: UpdateQueue
    webhook: WebhookDeliverer
    strict_html_entities: bool = True
    allow_http_webhooks: bool = False


Handler = Callable[[MethodContext, dict[str, Any]], Awaitable[Any]]
