"""Each message's effects happen once, however often the message is handled.

A customer's Telegram message is stored before it is handled and marked
handled only in the transaction that keeps the dialogue state it left
(`core.updates`), in the bot's own state file. A crash in between handles it
again at the next start, in the state from before it. Its effects (a ticket,
a code mail, an activation) are in the main database, so without this
journal they would happen twice: two tickets, a second code mail, "this code
was already used" to the customer who has just activated.

So a domain function that makes an effect for a message takes the message's
key (`once`, made by the door from the Telegram update: `tg:<update id>:<user
id>`) and
- first looks whether the message did this effect already (`done`): if so it
  does nothing and returns what it returned then, from the recorded result;
- else makes the effect and records it (`record`) in the same transaction, so
  the effect and its record commit together or not at all.

A result holds what the answer needs again (a ticket's id, an account's id, a
time), never a secret. Without a key (the command line, the mail worker, which
have their own ways of doing things once) both are no-ops. An entry is needed
only while its update may be handled again, until the update is marked
handled (at the latest by the next start); it is kept `KEEP` (a week) for a
bot that stays down for days, then forgotten (`housekeeping`). After a week
without updates Telegram numbers them afresh from a random start; the key
names the Telegram user too, so a number used again is never taken for
another person's message.

A wrong guess (a password, a code, a registration proof) is counted before it
is checked, in a transaction of its own (`core.throttle`): handled again, it
counts again. The limits err on the safe side there, by design.
"""

from __future__ import annotations

import json
from typing import Any

from storage import journal as store
from storage.db import Queryable

KEEP = 7 * 24 * 3600.0  # seconds an entry is kept


async def done(db: Queryable, once: str | None, effect: str) -> dict[str, Any] | None:
    """What the message `once` recorded when it made `effect`; None when it has not made it
    (or there is no key)."""
    if once is None:
        return None
    result = await store.result_of(db, once, effect)
    if result is None:
        return None
    value: dict[str, Any] = json.loads(result)
    return value


async def record(tx: Queryable, once: str | None, effect: str, now: float, **result: Any) -> None:
    """Inside the transaction that makes `effect`: note that the message `once` made it, with
    what its answer needs again (JSON values, never a secret). A no-op without a key."""
    if once is None:
        return
    await store.add(tx, once, effect, json.dumps(result, sort_keys=True), now)


async def housekeeping(db: Queryable, now: float) -> int:
    """Forget entries older than `KEEP`; returns how many."""
    return await store.prune(db, now - KEEP)
