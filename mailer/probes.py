"""Is the mail configured to work? One probe per server, for `check` and monitoring.

Each probe connects the way the service does, logs in, and says `None` when all
is well or the reason in one line (never the password).
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiosmtplib
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted

from core.config import Settings
from core.worker import describe

PROBE_TIMEOUT = 10.0


async def smtp_problem(settings: Settings, timeout: float = PROBE_TIMEOUT) -> str | None:  # noqa: ASYNC109 - SMTP's own
    """Connect, EHLO, TLS as configured, and log in if a user is set."""
    folder = settings.mail_outbox_dir
    if folder is not None:
        return _folder_problem(folder)
    security = settings.smtp_security
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=security == "tls",
        start_tls=security == "starttls",
        timeout=timeout,
    )
    try:
        await client.connect()
        await client.ehlo()
        if settings.smtp_user:
            await client.login(settings.smtp_user, settings.smtp_password or "")
    except (aiosmtplib.SMTPException, OSError) as error:
        return describe(error)
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
    return None


def _folder_problem(folder: Path) -> str | None:
    if not folder.exists():
        return None if folder.parent.exists() else f"{folder}: its parent folder does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    probe = folder / ".petkomm-check"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        return f"{folder} is not writable: {error.strerror}"
    return None


async def imap_problem(settings: Settings, timeout: float = PROBE_TIMEOUT) -> str | None:  # noqa: ASYNC109 - IMAP's own
    """Connect, log in, and find the folder to read."""
    return await asyncio.to_thread(_imap_problem, settings, timeout)


def _imap_problem(settings: Settings, timeout: float) -> str | None:
    host, port, security = settings.imap_host, settings.imap_port, settings.imap_security
    folder = settings.imap_folder
    mailbox: BaseMailBox
    try:
        if security == "none":
            mailbox = MailBoxUnencrypted(host, port, timeout=timeout)
        elif security == "starttls":
            mailbox = MailBoxStartTls(
                host, port, timeout=timeout, ssl_context=ssl.create_default_context()
            )
        else:
            mailbox = MailBox(host, port, timeout=timeout, ssl_context=ssl.create_default_context())
    except Exception as error:  # noqa: BLE001 - any way of not connecting is the answer
        return describe(error)
    try:
        mailbox.login(settings.imap_user, settings.imap_password, initial_folder=None)
        if not mailbox.folder.exists(folder):
            return f"logged in, but there is no folder {folder!r}"
    except Exception as error:  # noqa: BLE001 - a refused login, a dropped connection…
        return describe(error)
    finally:
        try:
            mailbox.logout()
        except Exception:  # noqa: BLE001 - closing after a failure
            pass
    return None
