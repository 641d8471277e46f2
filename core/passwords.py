"""Password rules and Argon2id hashing (argon2-cffi), always off the event loop.

Argon2id is meant to cost CPU: a verification takes about 0.2 s of it. Many logins
at once (a storm after a notice) must not starve the chat, so hashing runs in
threads of its own at a lower CPU priority (`ARGON2_NICE`; the threads Argon2
starts for its lanes inherit it): whenever the event loop has a message to
answer, it gets a core first, and the logins use what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 128

# Argon2id with one of the OWASP Password Storage Cheat Sheet's configurations (46 MiB of
# memory, one pass, one lane): as hard on a guesser's GPU as the others it lists, at about a
# third of the CPU of argon2-cffi's default (64 MiB, three passes, four lanes: ~0.23 s of
# CPU a check here), so a storm of 200 logins costs ~15 s of CPU, not ~45. A hash keeps
# its own parameters: those made before verify as they are, and the next right login
# stores a hash with these (`needs_rehash`).
PRODUCT_HASHER = PasswordHasher(time_cost=1, memory_cost=46 * 1024, parallelism=1)
_hasher = PRODUCT_HASHER

T = TypeVar("T")

ARGON2_NICE = 10  # added to the nice value of the hashing threads (Linux: per thread)


def _give_way() -> None:
    """Lower this hashing thread's CPU priority (where the platform allows it)."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), ARGON2_NICE)


def _threads(count: int | None = None) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=count or os.cpu_count() or 1,
        thread_name_prefix="argon2",
        initializer=_give_way,
    )


# At most one hashing per core at a time: more only queue for the same CPU (each holds
# 64 MiB), and the rest wait here instead.
_pool = _threads()


def use_threads(count: int | None = None) -> None:
    """Hash in `count` threads at once (None: one per core); a test that holds many
    verifications side by side widens it."""
    global _pool
    old, _pool = _pool, _threads(count)
    old.shutdown(wait=False)


async def _hashing(work: Callable[..., T], *args: str) -> T:
    """`work(*args)` in a hashing thread."""
    return await asyncio.get_running_loop().run_in_executor(_pool, work, *args)


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the hasher (tests use cheaper Argon2id parameters to stay fast)."""
    global _hasher
    _hasher = hasher


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of passwords too common to allow (lower-case)."""
    text = resources.files("core").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problem(password: str, username: str = "") -> str | None:
    """Why a new password is not acceptable: 'short', 'long', 'username', 'common'; or None."""
    if len(password) < MIN_LENGTH:
        return "short"
    if len(password) > MAX_LENGTH:
        return "long"
    if username and password.casefold() == username.casefold():
        return "username"
    if password.lower() in common_passwords():
        return "common"
    return None


async def hash_password(password: str) -> str:
    """Argon2id hash, computed in a worker thread."""
    return await _hashing(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; computed in a worker thread."""
    return await _hashing(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other parameters than today's (an older, costlier
    Argon2id: `sessions.login` replaces it with a fresh one after a right password)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return False


async def verify_unknown_user(password: str) -> None:
    """Spend the time of one verification, so a wrong user name is not told apart."""
    await _hashing(_verify_unknown, password)


def _verify_unknown(password: str) -> bool:
    # The stand-in hash is made here too (once): not on the event loop.
    return _verify(_dummy_hash(_hasher), password)


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_hex(16))
