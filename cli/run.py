"""`run`: the Telegram bot and the mail worker, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse

from cli.common import REFUSED, Subparsers, error
from core.config import Settings


def register(sub: Subparsers) -> None:
    """Add `run` to the subcommands."""
    p = sub.add_parser(
        "run",
        help="run the bot and the mail worker",
        description="Run the Telegram bot and the mail worker until SIGTERM or SIGINT. "
        "Polling by default; --webhook-url switches to a webhook.",
    )
    p.add_argument("--webhook-url", metavar="URL", help="public https URL for Telegram's updates")
    p.add_argument(
        "--listen",
        default="127.0.0.1",
        metavar="HOST",
        help="address the webhook server binds (default 127.0.0.1)",
    )
    p.add_argument("--port", type=int, default=8443, help="webhook server port (default 8443)")
    p.add_argument(
        "--secret-token", metavar="TOKEN", help="secret Telegram sends back in each webhook request"
    )
    p.set_defaults(func=cmd_run)


async def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """The bot and the mail worker, until SIGTERM/SIGINT."""
    from telegram.error import InvalidToken, NetworkError

    from service import WebhookOptions, run_service

    webhook = None
    if args.webhook_url:
        if not args.webhook_url.startswith("https://"):
            return error("error: --webhook-url must be an https:// URL")
        webhook = WebhookOptions(args.webhook_url, args.listen, args.port, args.secret_token)
    try:
        await run_service(settings, webhook=webhook)
    except InvalidToken:
        return error("error: TELEGRAM_BOT_TOKEN was refused by the Bot API")
    except NetworkError as exc:
        return error(
            f"error: cannot reach the Bot API at {settings.telegram_api_url} "
            f"(PETKOMM_TELEGRAM_API_URL): {exc}",
            REFUSED,
        )
    return 0
