"""The account rules that need no database: the policy, the codes' and names' forms, times."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core import throttle
from core.config import Settings
from core.confusables import skeleton
from storage import accounts as store
from storage import audit
from storage.db import Queryable, Transaction

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1: nothing to confuse
CODE_LENGTH = 24
ACTIVATION_PREFIX = "act_"
RESET_PREFIX = "rst_"
BUDAPEST = ZoneInfo("Europe/Budapest")
_USERNAME_EXTRA = set("._-")
# What a throttle keeps of a typed name or address nobody has (a message may be 4096 long).
KEY_CHARS = 254
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]{2,}$")


@dataclass(frozen=True)
class Policy:
    """The configurable numbers of the account rules."""

    code_ttl_hours: int = 48
    idle_minutes: int = 30
    proof_months: int = 12

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.code_ttl_hours, settings.idle_minutes, settings.proof_months)


# --- checks of single answers ---------------------------------------------------


# Letters that show nothing (the Hangul fillers; NFKC turns U+3164 and U+FFA0 into U+1160).
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
# Marks that show nothing: the grapheme joiner and the variation selectors.
_INVISIBLE_MARKS = frozenset(
    [
        "\u034f",
        "\u17b4",
        "\u17b5",
        *map(chr, range(0x180B, 0x1810)),
        *map(chr, range(0xFE00, 0xFE10)),
    ]
)
# Format and control characters (zero-width space and joiners, direction marks, …).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
_LETTER_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lo"})
_DIGITS = frozenset("0123456789")
# Japanese writes one name with three of Unicode's scripts.
_SCRIPT_FAMILY = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "KATAKANA-HIRAGANA": "CJK"}


def normalise_username(text: str) -> str:
    """A typed user name as it is kept: NFKC (the fullwidth U+FF45 U+FF56 U+FF41 is `eva`),
    trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def _invisible(char: str) -> bool:
    return (
        char in _INVISIBLE_LETTERS
        or char in _INVISIBLE_MARKS
        or unicodedata.category(char) in _INVISIBLE_CATEGORIES
    )


def _letter(char: str) -> bool:
    return unicodedata.category(char) in _LETTER_CATEGORIES and char not in _INVISIBLE_LETTERS


def _script(letter: str) -> str:
    """The writing system of a letter: the first word of its Unicode name (LATIN, CYRILLIC)."""
    word = unicodedata.name(letter, "?").split(" ", 1)[0]
    return _SCRIPT_FAMILY.get(word, word)


def username_problem(username: str) -> str | None:
    """Why a (normalised) user name cannot be chosen, or None.

    'invisible' (a zero-width, format or filler character), 'length' (3-32),
    'chars' (only letters, digits 0-9 and . _ -), 'mixed' (letters of two
    scripts, e.g. a Cyrillic a (U+0430) among Latin letters: a look-alike of another
    name). Accented Latin letters (á, ő, ű) are Latin.
    """
    if any(_invisible(c) for c in username):
        return "invisible"
    if not 3 <= len(username) <= 32:
        return "length"
    if not all(c in _DIGITS or c in _USERNAME_EXTRA or _letter(c) for c in username):
        return "chars"
    if len({_script(c) for c in username if _letter(c)}) > 1:
        return "mixed"
    return None


def username_key(username: str) -> str:
    """The form user names are unique and looked up by: NFKC, case-insensitive."""
    return unicodedata.normalize("NFKC", normalise_username(username).casefold())


def _small_capital_as_capital(char: str) -> str:
    """LATIN LETTER SMALL CAPITAL A (U+1D00) -> `A`: Unicode's confusables keep the small
    capitals apart from their letters, but in a name U+1D00 `dmin` reads as `admin`."""
    script, found, letter = unicodedata.name(char, "").partition(" LETTER SMALL CAPITAL ")
    if not found:
        return char
    try:
        return unicodedata.lookup(f"{script} CAPITAL LETTER {letter}")
    except KeyError:  # a small capital without a capital twin (e.g. a turned or barred one)
        return char


def username_looks(username: str) -> tuple[str, str]:
    """How a user name looks, as two keys: two names that share either are the same name.

    Each is Unicode's skeleton (UTS #39: `papa` in Cyrillic letters looks like `papa`),
    made case-insensitive like the names themselves: one taken of the name in capitals
    (where Latin, Greek and Cyrillic share the most shapes: Greek capital alpha, beta,
    epsilon are `ABE`; the dotless i (U+0131) becomes `I`), one of the name in small
    letters (Greek small sigma looks like `o`, `rn` like `m`), each case-folded and taken
    again. Small capitals are their capitals first (U+1D00 `dmin` is `admin`, which
    Unicode's data leaves apart). Accents are kept: `Ödön` and `Odon` stay two names, as
    `username_key` has them, and so do `ö` and `ő`. Digits and letters that look alike in
    some case are one (`admin1`, `adminl`).
    """
    name = "".join(map(_small_capital_as_capital, normalise_username(username)))
    return _look(name.upper()), _look(name.casefold())


def _look(text: str) -> str:
    return skeleton(skeleton(text).casefold())


def _lookup_keys(username: str) -> list[str]:
    """A typed name's keys: first as names were stored before NFKC (casefolded only, so
    every existing name keeps working), then normalised. Usually both are the same."""
    return list(dict.fromkeys((username.strip().casefold(), username_key(username))))


async def find_by_username(db: Queryable, username: str) -> store.Account | None:
    """The account a typed user name names (any case, any Unicode form), if any."""
    for key in _lookup_keys(username):
        account = await store.by_username(db, key)
        if account is not None:
            return account
    return None


def email_ok(email: str) -> bool:
    """A plausible single e-mail address."""
    return len(email) <= 254 and bool(_EMAIL.match(email))


def normalise_code(text: str) -> str:
    """What the customer typed, without spaces or hyphens, upper-case."""
    return re.sub(r"[\s\-]", "", text).upper()


def looks_like_code(text: str) -> bool:
    """Could this be a code we sent (24 characters of our alphabet)?"""
    code = normalise_code(text)
    return len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


def new_code() -> str:
    """A fresh random code (about 120 bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def hash_code(code: str) -> str:
    """Codes are long and random, so a plain SHA-256 is a safe stored form."""
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def local_time(moment: float) -> str:
    """`2024. 05. 01. 14:30` in Budapest time, for texts."""
    when = datetime.fromtimestamp(moment, UTC).astimezone(BUDAPEST)
    return f"{when.year}. {when.month:02d}. {when.day:02d}. {when.hour:02d}:{when.minute:02d}"


def wait_minutes(until: float, now: float) -> int:
    """Whole minutes left of a lock, at least 1."""
    return max(1, int((until - now + 59) // 60))


# --- a wrong guess ----------------------------------------------------------------------


async def wrong_guess(
    tx: Transaction,
    attempt: throttle.Attempt,
    *,
    actor: str,
    action: str,
    target: str,
    lock_reason: str,
    now: float,
) -> float | None:
    """Audit a wrong guess (its reservation already counts it) and the lockout it caused.

    Returns when the guesser may try this target again, if this failure
    reached a limit.
    """
    lock = await wrong_guess_lock(
        tx, attempt, actor=actor, action=action, target=target, lock_reason=lock_reason, now=now
    )
    return lock.until if lock is not None else None


async def wrong_guess_lock(
    tx: Transaction,
    attempt: throttle.Attempt,
    *,
    actor: str,
    action: str,
    target: str,
    lock_reason: str,
    now: float,
) -> throttle.Lock | None:
    """`wrong_guess`, saying which limit the failure reached (for a precise refusal)."""
    lock = await throttle.lock_after(tx, attempt, now)
    await audit.record(tx, now, actor, action, target)
    if lock is not None:
        await audit.record(tx, now, actor, "lockout", target, lock_reason)
    return lock
