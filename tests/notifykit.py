"""Many subscribed customers at once, written straight into the database (for the
restart test and bench/notify_bench.py): registering thousands through the chat would
test the registration, not the notifications."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.billing_import import COLUMNS
from storage import accounts
from storage import notifications as notify_store
from storage.db import Database

FIRST_USER = 500_000  # Telegram user ids of the subscribers: FIRST_USER, FIRST_USER + 1, …


async def subscribe(
    db: Database, customer_ids: Sequence[str], now: float, first_user: int = FIRST_USER
) -> dict[str, int]:
    """An active account for each customer, its Telegram user logged in (private chat id
    = user id) and subscribed to every kind; customer -> Telegram user."""
    users: dict[str, int] = {}
    async with db.transaction() as tx:
        for n, customer_id in enumerate(customer_ids):
            user = first_user + n
            name = f"user{customer_id.lower()}"
            account = await accounts.create(
                tx,
                customer_id=customer_id,
                username=name,
                username_key=name,
                email=f"{name}@example.hu",
                password_hash="$argon2id$not-a-real-hash",
                now=now,
                registered_by_tg=user,
                username_looks=(name, name),
            )
            await accounts.activate(tx, account, now)
            await accounts.bind_login(tx, user, account, user, now)
            await notify_store.create_prefs(tx, user, account, user, now)
            await notify_store.set_prefs(
                tx, user, account, dict.fromkeys(notify_store.PREFS, True), now
            )
            users[customer_id] = user
    return users


def new_invoices_export(
    folder: Path, customer_ids: Sequence[str], first_serial: int = 900_000
) -> Path:
    """An export folder with one new invoice for each customer (import it `only` invoices)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(COLUMNS["invoices.csv"])]
    for n, customer_id in enumerate(customer_ids):
        lines.append(
            f"2026-{first_serial + n:06d},{customer_id},2026-11-20,2026-12-10,{4800 + n},{4800 + n}"
        )
    (folder / "invoices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder
