"""Password rules and Argon2id hashing (argon2-cffi), always off the event loop.

Hashes are computed in a pool of their own, one thread fewer than the machine
has cores (at least one): Argon2id is meant to be costly, and a storm of logins
must leave a core for the event loop, which answers everybody else's pages
meanwhile. Logins wait their turn in the pool's queue.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 128

_hasher = PasswordHasher()  # Argon2id with the library's recommended parameters
_T = TypeVar("_T")
_WORKERS = max(1, (os.cpu_count() or 2) - 1)
_pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="argon2")


def use_workers(workers: int | None = None) -> None:
    """Size the hashing pool (a test that holds many verifications side by side widens
    it); None: one fewer than the cores again."""
    global _pool
    _pool.shutdown(wait=False)
    _pool = ThreadPoolExecutor(workers or _WORKERS, thread_name_prefix="argon2")


async def _in_pool(work: Callable[..., _T], *args: str) -> _T:
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
    return await _in_pool(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; computed in a worker thread."""
    return await _in_pool(_verify, password_hash, password)


async def verify_unknown_user(password: str) -> None:
    """Spend the time of one verification, so a wrong user name is not told apart."""
    await _in_pool(_verify, _dummy_hash(_hasher), password)


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_hex(16))
