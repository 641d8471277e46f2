"""Settings from environment variables and an optional `.env` file.

The variable names are the operator's contract (README's configuration table).
Every value is read lazily by the command that needs it, so `import` does not
demand a bot token; a missing or malformed value raises `ConfigError`, which the
command line turns into one line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import overload

from dotenv import dotenv_values

DEFAULT_DB = "./data/petkomm.sqlite3"
DEFAULT_API_URL = "https://api.telegram.org/bot"
# The rules' defaults (README, "Configuration"); dataclasses built without Settings use them.
DEFAULT_CODE_TTL_HOURS = 48
DEFAULT_IDLE_MINUTES = 30
DEFAULT_PROOF_MONTHS = 12
DEFAULT_TELEGRAM_RATE = 30  # Telegram's ~30 messages a second for one bot
DEFAULT_ANSWER_DAYS = 15  # Fgytv. 17/B § (5)
# A complaint and its answer are kept five years (Fgytv. 17/A (7)): no purge keeps less.
MINIMUM_RETENTION_YEARS = 5
SECURITY_MODES = ("none", "starttls", "tls")


def state_path_beside(path: Path) -> Path:
    """The state file that goes with a main database file (or its backup):
    `petkomm.sqlite3` -> `petkomm-state.sqlite3`."""
    if str(path) == ":memory:":
        return path
    return path.with_name(f"{path.stem}-state{path.suffix}")


def _same_file(a: Path, b: Path) -> bool:
    if ":memory:" in (str(a), str(b)):
        return False
    return a.resolve() == b.resolve()


MAXIMUM_PORT = 65535


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem

    @property
    def missing(self) -> bool:
        """Not set at all (rather than set to something malformed)."""
        return self.problem.startswith("is not set")


def load_environment(env_file: Path | None = Path(".env")) -> dict[str, str]:
    """Merge the optional `.env` file under the real environment (which wins)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


@dataclass(frozen=True)
class Settings:
    """Typed access to the PETKOMM_* variables."""

    env: Mapping[str, str]

    @classmethod
    def from_environment(cls, env_file: Path | None = Path(".env")) -> Settings:
        """Read the process environment and `.env`."""
        return cls(load_environment(env_file))

    def check_service(self) -> None:
        """Read every setting the running service needs, so a missing or malformed one
        stops it before anything starts (raises ConfigError naming the variable)."""
        self.telegram_token, self.telegram_api_url, self.staff_chat_id, self.staff_ids  # noqa: B018
        self.mail_from, self.log_level, self.log_format, self.answer_days  # noqa: B018
        self.state_db_path  # noqa: B018
        self.code_ttl_hours, self.idle_minutes, self.proof_months  # noqa: B018
        self.retention_years, self.telegram_rate, self.canned_dir, self.digest_time  # noqa: B018
        self.remind_before_days, self.remind_after_days, self.quiet_hours  # noqa: B018
        self.notification_keep_days  # noqa: B018
        if self.mail_outbox_dir is None:
            self.smtp_host, self.smtp_port, self.smtp_security  # noqa: B018
        if self.reads_mail:  # the support mailbox is optional; when named, all of it must be right
            self.imap_port, self.imap_user, self.imap_password, self.imap_folder  # noqa: B018

    # --- helpers -------------------------------------------------------------
    @overload
    def _str(self, name: str) -> str | None: ...
    @overload
    def _str(self, name: str, default: str) -> str: ...
    @overload
    def _str(self, name: str, default: None) -> str | None: ...

    def _str(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name, "").strip()
        return value if value else default

    def _required(self, name: str) -> str:
        value = self._str(name)
        if value is None:
            raise ConfigError(name, "is not set")
        return value

    def _port(self, name: str, default: int) -> int:
        value = self._int(name, default, minimum=1)
        if value > MAXIMUM_PORT:
            raise ConfigError(name, f"must be a port number from 1 to {MAXIMUM_PORT}, got {value}")
        return value

    @overload
    def _int(self, name: str, default: int, minimum: int = 0) -> int: ...
    @overload
    def _int(self, name: str, default: None, minimum: int = 0) -> int | None: ...

    def _int(self, name: str, default: int | None, minimum: int = 0) -> int | None:
        raw = self._str(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(name, f"must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(name, f"must be at least {minimum}, got {value}")
        return value

    def _choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = (self._str(name) or default).lower()
        if value not in choices:
            raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    # --- storage ---------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return Path(self._str("PETKOMM_DB", DEFAULT_DB))

    @property
    def state_db_path(self) -> Path:
        """The bot's own state file: PETKOMM_STATE_DB, else beside the main database."""
        raw = self._str("PETKOMM_STATE_DB")
        path = Path(raw) if raw is not None else state_path_beside(self.db_path)
        if _same_file(path, self.db_path):
            raise ConfigError("PETKOMM_STATE_DB", "must be another file than PETKOMM_DB")
        return path

    @property
    def log_level(self) -> str:
        value = (self._str("PETKOMM_LOG_LEVEL") or "INFO").upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ConfigError(
                "PETKOMM_LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {value!r}"
            )
        return value

    @property
    def log_format(self) -> str:
        """`text` (one readable line) or `json` (one JSON object a line, for a collector)."""
        return self._choice("PETKOMM_LOG_FORMAT", ("text", "json"), "text")

    # --- rules of the service -------------------------------------------------------
    @property
    def code_ttl_hours(self) -> int:
        """How long an activation or reset code works."""
        return self._int("PETKOMM_CODE_TTL_HOURS", DEFAULT_CODE_TTL_HOURS, minimum=1)

    @property
    def idle_minutes(self) -> int:
        """A Telegram login ends after this long without activity."""
        return self._int("PETKOMM_IDLE_MINUTES", DEFAULT_IDLE_MINUTES, minimum=1)

    @property
    def proof_months(self) -> int:
        """A registration proof must name an invoice issued within this many months."""
        return self._int("PETKOMM_PROOF_MONTHS", DEFAULT_PROOF_MONTHS, minimum=1)

    @property
    def telegram_rate(self) -> int:
        """PETKOMM_TELEGRAM_RATE: messages a second the bot sends at most (Telegram allows
        about 30; a bot with paid broadcasts may raise it); 0 switches the pacing off."""
        return self._int("PETKOMM_TELEGRAM_RATE", DEFAULT_TELEGRAM_RATE, minimum=0)

    @property
    def answer_days(self) -> int:
        """Days staff have to answer a report (Fgytv. 17/B § (5): 15)."""
        return self._int("PETKOMM_ANSWER_DAYS", DEFAULT_ANSWER_DAYS, minimum=1)

    @property
    def digest_time(self) -> time | None:
        """PETKOMM_DIGEST_TIME: when (Budapest, `HH:MM`) the staff chat gets the morning digest
        of deadlines on working days; `off` for none. Default 08:00."""
        raw = self._str("PETKOMM_DIGEST_TIME", "08:00")
        if raw.lower() == "off":
            return None
        try:
            hour, minute = (int(part) for part in raw.split(":"))
            return time(hour, minute)
        except ValueError:
            raise ConfigError(
                "PETKOMM_DIGEST_TIME", f"must be a time like 08:00, or off, got {raw!r}"
            ) from None

    @property
    def canned_dir(self) -> Path | None:
        """PETKOMM_CANNED_DIR: the folder of canned answers the operator edits (one `NAME.txt`
        each); None (unset) for the ones shipped in core/texts/canned."""
        raw = self._str("PETKOMM_CANNED_DIR")
        if raw is None:
            return None
        folder = Path(raw)
        if not folder.is_dir():
            raise ConfigError("PETKOMM_CANNED_DIR", f"is not a folder: {raw}")
        return folder

    @property
    def retention_years(self) -> int | None:
        """PETKOMM_RETENTION_YEARS: the service purges what is older than this many years
        once a day (`core.retention`); None (unset or empty) for no automatic purge."""
        raw = self._str("PETKOMM_RETENTION_YEARS")
        if raw is None:
            return None
        try:
            years = int(raw)
        except ValueError:
            raise ConfigError(
                "PETKOMM_RETENTION_YEARS", f"must be a whole number of years, got {raw!r}"
            ) from None
        if years < MINIMUM_RETENTION_YEARS:
            raise ConfigError(
                "PETKOMM_RETENTION_YEARS",
                f"must be at least {MINIMUM_RETENTION_YEARS} (the law keeps a complaint and its"
                f" answer {MINIMUM_RETENTION_YEARS} years, Fgytv. 17/A (7)), got {years}",
            )
        return years

    # --- notifications (issue 15) ------------------------------------------------
    @property
    def remind_before_days(self) -> int:
        """A due-date reminder goes this many days before an unpaid invoice's due date."""
        return self._int("PETKOMM_REMIND_BEFORE_DAYS", 3, minimum=0)

    @property
    def remind_after_days(self) -> int:
        """…and one this many days after it, if it is still unpaid."""
        return self._int("PETKOMM_REMIND_AFTER_DAYS", 3, minimum=1)

    @property
    def notification_keep_days(self) -> int:
        """Sent, dropped or given-up notifications are forgotten after this many days (the
        running service's housekeeping); those still waiting never are."""
        return self._int("PETKOMM_NOTIFICATION_KEEP_DAYS", 30, minimum=1)

    @property
    def quiet_hours(self) -> tuple[int, int]:
        """PETKOMM_QUIET_HOURS, `21-7`: (from, to) o'clock, Budapest time; only outage
        notices are sent then (the same hour twice: no quiet hours)."""
        raw = self._str("PETKOMM_QUIET_HOURS", "21-7")
        match = re.fullmatch(r"\s*(\d{1,2})(?::00)?\s*[-–]\s*(\d{1,2})(?::00)?\s*", raw)
        if match is None or int(match[1]) > 23 or int(match[2]) > 23:
            raise ConfigError(
                "PETKOMM_QUIET_HOURS", f"must be two hours 0-23 like 21-7, got {raw!r}"
            )
        return int(match[1]), int(match[2])

    # --- telegram --------------------------------------------------------------
    @property
    def telegram_token(self) -> str:
        token = self._required("TELEGRAM_BOT_TOKEN")
        head, _, tail = token.partition(":")
        if not head.isdigit() or not tail:
            raise ConfigError("TELEGRAM_BOT_TOKEN", "does not look like a bot token (123456:ABC…)")
        return token

    @property
    def telegram_api_url(self) -> str:
        url = self._str("PETKOMM_TELEGRAM_API_URL", DEFAULT_API_URL)
        if not url.startswith(("http://", "https://")):
            raise ConfigError("PETKOMM_TELEGRAM_API_URL", f"must be an http(s) URL, got {url!r}")
        return url

    @property
    def staff_chat_id(self) -> int | None:
        raw = self._str("PETKOMM_STAFF_CHAT_ID")
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(
                "PETKOMM_STAFF_CHAT_ID", f"must be a numeric chat id, got {raw!r}"
            ) from None

    @property
    def staff_ids(self) -> frozenset[int]:
        raw = self._str("PETKOMM_STAFF_IDS", "")
        ids: set[int] = set()
        for part in raw.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.lstrip("-").isdigit():
                raise ConfigError(
                    "PETKOMM_STAFF_IDS", f"must be numeric Telegram user ids, got {part!r}"
                )
            ids.add(int(part))
        return frozenset(ids)

    # --- mail ------------------------------------------------------------------
    @property
    def mail_from(self) -> str:
        value = self._str("PETKOMM_MAIL_FROM", "PÉTKOMM Kft. <petkomm@petkomm.hu>")
        if "@" not in value:
            raise ConfigError("PETKOMM_MAIL_FROM", f"must be an e-mail address, got {value!r}")
        return value

    @property
    def mail_outbox_dir(self) -> Path | None:
        raw = self._str("PETKOMM_MAIL_OUTBOX_DIR")
        return Path(raw) if raw else None

    @property
    def smtp_host(self) -> str:
        value = self._str("PETKOMM_SMTP_HOST")
        if value is None:
            raise ConfigError(
                "PETKOMM_SMTP_HOST",
                "is not set (or set PETKOMM_MAIL_OUTBOX_DIR to write mail as .eml files)",
            )
        return value

    @property
    def smtp_port(self) -> int:
        security = self.smtp_security
        default = {"none": 25, "starttls": 587, "tls": 465}[security]
        return self._port("PETKOMM_SMTP_PORT", default)

    @property
    def smtp_user(self) -> str | None:
        return self._str("PETKOMM_SMTP_USER")

    @property
    def smtp_password(self) -> str | None:
        return self._str("PETKOMM_SMTP_PASSWORD")

    @property
    def smtp_security(self) -> str:
        return self._choice("PETKOMM_SMTP_SECURITY", SECURITY_MODES, "starttls")

    @property
    def reads_mail(self) -> bool:
        """Whether a support mailbox is configured (PETKOMM_IMAP_HOST)."""
        return self._str("PETKOMM_IMAP_HOST") is not None

    @property
    def imap_host(self) -> str:
        return self._required("PETKOMM_IMAP_HOST")

    @property
    def imap_security(self) -> str:
        return self._choice("PETKOMM_IMAP_SECURITY", SECURITY_MODES, "tls")

    @property
    def imap_port(self) -> int:
        default = 993 if self.imap_security == "tls" else 143
        return self._port("PETKOMM_IMAP_PORT", default)

    @property
    def imap_user(self) -> str:
        return self._required("PETKOMM_IMAP_USER")

    @property
    def imap_password(self) -> str:
        return self._required("PETKOMM_IMAP_PASSWORD")

    @property
    def import_folder(self) -> Path | None:
        """PETKOMM_IMPORT_FOLDER: where the daily import reads the billing export (the
        import unit's argument); when set, `check` expects an import within a day."""
        raw = self._str("PETKOMM_IMPORT_FOLDER")
        return Path(raw) if raw else None

    @property
    def imap_folder(self) -> str:
        return self._str("PETKOMM_IMAP_FOLDER", "INBOX")
