"""The audit log: who did what, when — never a secret."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Queryable


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    target: str
    details: str


async def record(
    db: Queryable, at: float, actor: str, action: str, target: str = "", details: str = ""
) -> None:
    """Append one entry."""
    await db.execute(
        "INSERT INTO audit_log(at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
        (at, actor, action, target, details),
    )


async def entries(
    db: Queryable, since: float | None = None, actor: str | None = None, limit: int = 1000
) -> list[AuditEntry]:
    """Entries oldest first, optionally from a moment on and/or of one actor."""
    rows = await db.fetch_all(
        "SELECT id, at, actor, action, target, details FROM audit_log"
        " WHERE at >= coalesce(?, 0) AND (? IS NULL OR actor = ?)"
        " ORDER BY at, id LIMIT ?",
        (since, actor, actor, limit),
    )
    return [AuditEntry(*row) for row in rows]
