"""Benchmark: what emptying the write-ahead log after each erased message costs (run on demand).

    .venv/bin/python bench/state_bench.py [--updates N] [--concurrent C]

Every Telegram update goes through the bot's state file three times: stored
(`core.updates.store`), taken for the handlers (`take`), and marked done with
its payload erased (`finish`). Since the erasure must also leave the `-wal`
file (a kill -9 would otherwise leave a password there), each `finish` is
followed by a TRUNCATE checkpoint on a connection of its own
(`storage.db.Database.erased`). This measures, on a real file in a temporary
folder of the working disk:

1. one at a time - N updates, each stored, taken and finished before the
                   next (one customer typing): updates per second without the
                   checkpoint (the code before it) and with it, and how long
                   one checkpoint takes from the erasing commit to an empty log;
2. concurrent    - C customers at once, N updates in all, each customer's in
                   order: updates per second without and with.

Prints the figures; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core import updates  # noqa: E402
from storage.db import SCRUB_DELAY, Database, open_state_database  # noqa: E402


def payload(update_id: int) -> str:
    """An update as Telegram sends a typed message (about 400 bytes, like a password's)."""
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_800_000_000,
                "chat": {"id": 7000 + update_id % 50, "type": "private", "first_name": "Éva"},
                "from": {"id": 7000 + update_id % 50, "is_bot": False, "first_name": "Éva"},
                "text": f"Tavaszi-Szel-{update_id:06d}",
            },
        }
    )


async def opened(folder: Path, name: str, *, scrub: bool) -> Database:
    db = await open_state_database(folder / f"{name}.sqlite3")
    await db.erased_everywhere()  # after the migrations
    if not scrub:  # the baseline: the code before the checkpoint
        await db._scrubber.stop()  # no public switch: production always scrubs
        db._scrubber = None
    return db


async def one_update(db: Database, update_id: int, after: int) -> int:
    """Store, take and finish one update; returns its row (the next `after`)."""
    await updates.store(db, [(update_id, payload(update_id))], time.time())
    batch = await updates.take(db, after, 10, time.time())
    await updates.finish(db, [u.update_id for u in batch.handle], [], time.time())
    return batch.last


async def one_at_a_time(folder: Path, count: int, *, scrub: bool) -> tuple[float, list[float]]:
    """Updates per second; and with `scrub`, each checkpoint's time after its commit."""
    db = await opened(folder, f"single-{scrub}", scrub=scrub)
    checkpoints: list[float] = []
    try:
        after = 0
        started = time.perf_counter()
        for update_id in range(1, count + 1):
            after = await one_update(db, update_id, after)
        elapsed = time.perf_counter() - started
        if scrub:  # apart: each checkpoint timed alone, from its commit to an empty log
            # (SCRUB_DELAY, the wait for more erasures to serve together, included)
            for update_id in range(count + 1, count + 1 + min(count, 50)):
                after = await one_update(db, update_id, after)
                began = time.perf_counter()
                await db.erased_everywhere()
                checkpoints.append(time.perf_counter() - began)
        return count / elapsed, checkpoints
    finally:
        await db.close()


async def concurrent(folder: Path, count: int, customers: int, *, scrub: bool) -> float:
    """Updates per second with `customers` storing and finishing at once."""
    db = await opened(folder, f"concurrent-{scrub}", scrub=scrub)
    try:
        per_customer = count // customers

        async def customer(n: int) -> None:
            for k in range(per_customer):
                update_id = n * per_customer + k + 1
                await updates.store(db, [(update_id, payload(update_id))], time.time())
                await updates.finish(db, [update_id], [], time.time())

        started = time.perf_counter()
        await asyncio.gather(*(customer(n) for n in range(customers)))
        elapsed = time.perf_counter() - started
        await db.erased_everywhere()
        return per_customer * customers / elapsed
    finally:
        await db.close()


async def main(count: int, customers: int) -> None:
    with tempfile.TemporaryDirectory(dir=ROOT) as tmp:  # the working disk, not a tmpfs
        folder = Path(tmp)
        before, _ = await one_at_a_time(folder, count, scrub=False)
        after, checkpoints = await one_at_a_time(folder, count, scrub=True)
        print(f"one at a time, {count} updates (store, take, finish each):")
        print(f"  without the checkpoint: {before:8.0f} updates/s")
        print(f"  with it:                {after:8.0f} updates/s ({after / before:.2f}×)")
        ms = sorted((c - SCRUB_DELAY) * 1000 for c in checkpoints)
        print(
            f"  one checkpoint, from its start to an empty log: median"
            f" {statistics.median(ms):.2f} ms, 95th percentile {ms[int(len(ms) * 0.95)]:.2f} ms,"
            f" max {ms[-1]:.2f} ms (after the {SCRUB_DELAY * 1000:.0f} ms it waits for more"
            " erasures to serve with it)"
        )
        before = await concurrent(folder, count, customers, scrub=False)
        after = await concurrent(folder, count, customers, scrub=True)
        print(f"{customers} customers at once, {count} updates (store, finish each):")
        print(f"  without the checkpoint: {before:8.0f} updates/s")
        print(f"  with it:                {after:8.0f} updates/s ({after / before:.2f}×)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=2000, metavar="N")
    parser.add_argument("--concurrent", type=int, default=50, metavar="C")
    args = parser.parse_args()
    asyncio.run(main(args.updates, args.concurrent))
