"""Benchmark of the billing import against a bare-SQLite floor (run on demand).

    .venv/bin/python bench/import_bench.py --shape 24m   # 10 000 customers x 24 months
    .venv/bin/python bench/import_bench.py --shape all   # 24m, small and 10y in turn
    .venv/bin/python bench/import_bench.py [--customers N] [--years Y]   # default 10 x 10 000

    options: [--repeat N] (each phase's fastest of N rounds, for a busy machine)
             [--keep DIR] (work in DIR and keep the data: the next run reuses it)
             [--before CHECKOUT] (also the import of another checkout, e.g.
                 `git worktree add /tmp/main main`, in the same rounds: before/after)

The shapes (`--shape`, repeatable): `24m` is 10 000 customers x 2 years
(~730 000 rows, 53 MB: the daily import of a utility this size), `small`
3 000 x 2 years (~220 000 rows), `10y` 10 000 x 10 years (~1.2 M invoices and
~2.4 M transactions). For each shape the demo export is generated, then each
phase runs in its own child process (this script again, with `--phase`), so a
phase's peak RSS is its own:

1. import   - `core.billing_import.import_folder` into a fresh database;
2. floor    - the same rows into a fresh database of the same schema and
              pragmas with a bare `sqlite3` executemany: `csv` reading and the
              minimal type conversion, no validation, no upsert;
3. reimport - the unchanged files again into the imported database: it must
              change nothing.

The floor is measured in the same run as the import, so the ratio holds on
whatever machine and load it runs on. Each shape prints its figures (time,
rows/s, CPU, peak RSS), the import/floor ratio in wall and CPU time, the
re-import's time, and a table of the targets with PASS/MISS (import <= 1.5x the
floor, peak RSS < 300 MB, re-import no slower than the import and changing
nothing); with several shapes a summary line for each follows. It is not a
test. Times cover reading the files up to the commit (wall clock, and the
process's CPU time, which other load on the machine disturbs less); closing
the database (the same for both) is shown separately. The parent process only
orchestrates, so it stays small and does not inflate a child's peak.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FILES = ("customers.csv", "invoices.csv", "transactions.csv")
STAMP = "bench-params.json"  # which demo data a kept folder holds
RESULT_PREFIX = "BENCH-RESULT "

TARGET_RATIO = 1.5
TARGET_RSS_MB = 300.0

# Named shapes (customers, years of history): the daily import of a utility of this
# size keeps two years of history; the long one is the worst case the contract allows
# for; the small one shows the fixed costs.
SHAPES = {
    "24m": (10_000, 2),  # ~730 000 rows
    "small": (3_000, 2),  # ~220 000 rows
    "10y": (10_000, 10),  # ~3.6 M rows
}


# --- phases (each runs in a child process) ------------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak resident set size (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_generate(data: Path, customers: int, years: int) -> dict:
    from core.demodata import write_demo_data

    started = time.perf_counter()
    summary = write_demo_data(data, customers=customers, years=years, seed=1)
    return {
        "seconds": time.perf_counter() - started,
        "customers": summary.customers,
        "invoices": summary.invoices,
        "transactions": summary.transactions,
    }


def phase_import(data: Path, db_path: Path) -> dict:
    from core.billing_import import import_folder
    from storage.db import open_database

    async def run() -> dict:
        db = await open_database(db_path)
        try:
            started, cpu = time.perf_counter(), time.process_time()
            result = await import_folder(db, data)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        finally:
            closing = time.perf_counter()
            await db.close()
        return {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "close_seconds": time.perf_counter() - closing,
            "counts": {
                name: {"rows": c.rows, "new": c.new, "changed": c.changed}
                for name, c in result.counts.items()
            },
        }

    return asyncio.run(run())


def _iso(day: str) -> str:
    """`2024.05.01` (the demo data's form) -> `2024-05-01`."""
    return day.replace(".", "-")


def _number(text: str) -> int:
    """`12 345` -> 12345, `2024-000123` -> 2024000123."""
    return int(text.replace(" ", "").replace("-", ""))


def phase_floor(data: Path, db_path: Path) -> dict:
    """Bare sqlite3: plain INSERTs of minimally converted csv rows, one transaction."""
    from storage.db import open_database

    async def migrate() -> None:
        db = await open_database(db_path)
        await db.close()

    asyncio.run(migrate())
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")

    def rows(name: str):
        with open(data / name, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle, delimiter=";")
            next(reader)
            yield from reader

    counts = {}
    started, cpu = time.perf_counter(), time.process_time()
    conn.execute("BEGIN IMMEDIATE")
    run_id = conn.execute(
        "INSERT INTO import_runs(folder, started_at) VALUES (?, ?)", (str(data), time.time())
    ).lastrowid
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO customers(customer_id, name, address, phone, email, payment_method,"
        " first_import) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((c, n, a, p, e, m, run_id) for c, n, a, p, e, m in rows("customers.csv")),
    )
    counts["customers.csv"] = conn.total_changes - before
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO invoices(invoice_no, customer_id, issue_date, due_date, amount,"
        " outstanding, first_import) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (_number(n), c, _iso(i), _iso(d), _number(a), _number(o), run_id)
            for n, c, i, d, a, o in rows("invoices.csv")
        ),
    )
    counts["invoices.csv"] = conn.total_changes - before
    before = conn.total_changes
    conn.executemany(
        "INSERT INTO transactions(transaction_id, customer_id, booked_on, kind, amount,"
        " invoice_no, description) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (t, c, _iso(d), _KINDS[k], _number(a), _number(n) if n else None, text)
            for t, c, d, k, a, n, text in rows("transactions.csv")
        ),
    )
    counts["transactions.csv"] = conn.total_changes - before
    conn.execute("COMMIT")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    closing = time.perf_counter()
    conn.close()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "close_seconds": time.perf_counter() - closing,
        "counts": {name: {"rows": n, "new": n, "changed": 0} for name, n in counts.items()},
    }


# The demo data writes the Hungarian kinds; the table stores the English ones.
_KINDS = {
    "terhelés": "charge",
    "befizetés": "payment",
    "helyesbítés": "adjustment",
    "charge": "charge",
    "payment": "payment",
    "adjustment": "adjustment",
}

PHASES = {"generate", "import", "floor", "reimport"}


def run_phase(args: argparse.Namespace) -> None:
    work = Path(args.dir)
    data = work / "data"
    if args.phase == "generate":
        figures = phase_generate(data, args.customers, args.years)
    elif args.phase in ("import", "reimport"):
        if args.code:  # the import of another checkout (`--before`), into its own database
            sys.path.insert(0, str(Path(args.code).resolve()))
            figures = phase_import(data, work / "import-before.sqlite3")
        else:
            figures = phase_import(data, work / "import.sqlite3")
    else:
        figures = phase_floor(data, work / "floor.sqlite3")
    figures["peak_rss_mb"] = _peak_rss_mb()
    print(RESULT_PREFIX + json.dumps(figures), flush=True)


# --- orchestration ------------------------------------------------------------------


def child(phase: str, work: Path, customers: int, years: int, code: Path | None = None) -> dict:
    """Run one phase in a fresh interpreter and return its figures (`code`: the
    checkout whose import it runs, when not this one)."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--phase",
        phase,
        "--dir",
        str(work),
        "--customers",
        str(customers),
        "--years",
        str(years),
        *(["--code", str(code)] if code else []),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"phase {phase} failed (exit {done.returncode})")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line.removeprefix(RESULT_PREFIX))
    raise SystemExit(f"phase {phase} printed no result:\n{done.stdout}{done.stderr}")


def _total_rows(figures: dict) -> int:
    return sum(c["rows"] for c in figures["counts"].values())


def _line(label: str, figures: dict, rows: int) -> str:
    seconds = figures["seconds"]
    return (
        f"  {label:<10} {seconds:6.1f} s  {rows / seconds:>9,.0f} rows/s  "
        f"CPU {figures['cpu_seconds']:5.1f} s  peak RSS {figures['peak_rss_mb']:4.0f} MB  "
        f"(+{figures['close_seconds']:.1f} s to close)"
    )


def _fastest(runs: list[dict]) -> dict:
    """The run with the least wall time (the one other load on the machine disturbed
    least), with the least CPU time and the highest peak RSS of all the runs."""
    best = dict(min(runs, key=lambda r: r["seconds"]))
    best["cpu_seconds"] = min(r["cpu_seconds"] for r in runs)
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def _remove_databases(work: Path) -> None:
    for name in ("import.sqlite3", "import-before.sqlite3", "floor.sqlite3"):
        for suffix in ("", "-wal", "-shm"):
            (work / f"{name}{suffix}").unlink(missing_ok=True)


def measure(
    work: Path, customers: int, years: int, repeat: int, before: Path | None = None
) -> dict:
    """Generate (or reuse) one shape's data in `work`, run its phases, print them and
    return the figures: each phase's fastest of `repeat` rounds (with `before`, the
    import and re-import of that checkout too, in the same rounds)."""
    params = {"customers": customers, "years": years, "seed": 1}
    stamp = work / STAMP
    data = work / "data"
    reuse = (
        stamp.is_file()
        and json.loads(stamp.read_text()) == params
        and all((data / name).is_file() for name in FILES)
    )
    if reuse:
        print(f"Reusing the demo data in {data}")
    else:
        print(f"Generating {customers} customers x {years} years into {data} …")
        stamp.unlink(missing_ok=True)
        generated = child("generate", work, customers, years)
        stamp.write_text(json.dumps(params))
        print(
            f"  {generated['invoices']:,} invoices, {generated['transactions']:,} "
            f"transactions in {generated['seconds']:.1f} s"
        )
    size = sum((data / name).stat().st_size for name in FILES)
    print(f"  {size / 2**20:.0f} MB of CSV")

    print("Running the phases (each in its own process) …")
    imports, floors, reimports = [], [], []
    before_imports, before_reimports = [], []
    for round_ in range(repeat):
        if repeat > 1:
            print(f" round {round_ + 1} of {repeat}")
        _remove_databases(work)
        if before:
            before_imports.append(child("import", work, customers, years, before))
            print(_line("before", before_imports[-1], _total_rows(before_imports[-1])))
        imports.append(child("import", work, customers, years))
        rows = _total_rows(imports[-1])
        print(_line("import", imports[-1], rows))
        floors.append(child("floor", work, customers, years))
        if _total_rows(floors[-1]) != rows:
            raise SystemExit(f"floor inserted {_total_rows(floors[-1])} rows, import read {rows}")
        print(_line("floor", floors[-1], rows))
        if before:
            before_reimports.append(child("reimport", work, customers, years, before))
            print(_line("before re", before_reimports[-1], rows))
        reimports.append(child("reimport", work, customers, years))
        print(_line("re-import", reimports[-1], rows))
    _remove_databases(work)
    return {
        "customers": customers,
        "years": years,
        "import": _fastest(imports),
        "floor": _fastest(floors),
        "reimport": _fastest(reimports),
        "before": _fastest(before_imports) if before else None,
        "before_reimport": _fastest(before_reimports) if before else None,
        "untouched": all(
            c["new"] == 0 and c["changed"] == 0 for r in reimports for c in r["counts"].values()
        ),
    }


def report(figures: dict) -> bool:
    """Print one shape's figures against the targets; True when every target is met."""
    first, floor, again = figures["import"], figures["floor"], figures["reimport"]
    rows = _total_rows(first)
    ratio = first["seconds"] / floor["seconds"]
    peak = max(first["peak_rss_mb"], again["peak_rss_mb"])
    new = sum(c["new"] for c in again["counts"].values())
    changed = sum(c["changed"] for c in again["counts"].values())
    print()
    print(f"{figures['customers']:,} customers x {figures['years']} years")
    per_file = ", ".join(f"{n} {c['rows']:,}" for n, c in first["counts"].items())
    print(f"Rows: {rows:,} ({per_file})")
    print(f"Import / floor: {first['seconds']:.1f} s / {floor['seconds']:.1f} s = {ratio:.2f}x")
    cpu_ratio = first["cpu_seconds"] / floor["cpu_seconds"]
    print(
        f"  in CPU time:  {first['cpu_seconds']:.1f} s / {floor['cpu_seconds']:.1f} s = "
        f"{cpu_ratio:.2f}x (steadier than wall time on a busy machine)"
    )
    print(
        f"Peak RSS: import {first['peak_rss_mb']:.0f} MB, re-import {again['peak_rss_mb']:.0f} MB"
    )
    print(
        f"Re-import of the unchanged files: {again['seconds']:.1f} s, {new} new, {changed} changed"
    )
    if figures["before"]:
        old, old_again = figures["before"], figures["before_reimport"]
        print(
            f"Before (--before): import {old['seconds']:.1f} s ="
            f" {old['seconds'] / floor['seconds']:.2f}x the floor"
            f" (CPU {old['cpu_seconds'] / floor['cpu_seconds']:.2f}x),"
            f" peak RSS {max(old['peak_rss_mb'], old_again['peak_rss_mb']):.0f} MB,"
            f" re-import {old_again['seconds']:.1f} s"
        )
    print()
    targets = [
        (f"import time <= {TARGET_RATIO}x the floor", f"{ratio:.2f}x", ratio <= TARGET_RATIO),
        (
            f"peak RSS < {TARGET_RSS_MB:.0f} MB (import, re-import)",
            f"{first['peak_rss_mb']:.0f} / {again['peak_rss_mb']:.0f} MB",
            peak < TARGET_RSS_MB,
        ),
        (
            "re-import no slower than the first import",
            f"{again['seconds']:.1f} s vs {first['seconds']:.1f} s",
            again["seconds"] <= first["seconds"],
        ),
        ("re-import changes nothing", f"{new} new, {changed} changed", figures["untouched"]),
    ]
    if figures["before"]:
        old_again = figures["before_reimport"]
        targets.append(
            (
                "re-import no slower than before's (--before)",
                f"{again['seconds']:.1f} s vs {old_again['seconds']:.1f} s",
                again["seconds"] <= old_again["seconds"],
            )
        )
    width = max(len(t[0]) for t in targets)
    print(f"{'target':<{width}}  {'measured':<22}  result")
    for label, measured, ok in targets:
        print(f"{label:<{width}}  {measured:<22}  {'PASS' if ok else 'MISS'}")
    return all(ok for _, _, ok in targets)


def orchestrate(args: argparse.Namespace) -> None:
    if args.shape:
        names = list(SHAPES) if "all" in args.shape else list(dict.fromkeys(args.shape))
        shapes = [(name, *SHAPES[name]) for name in names]
    else:
        shapes = [(f"{args.customers}x{args.years}", args.customers, args.years)]
    if args.keep:
        root = Path(args.keep).resolve()
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="import-bench-"))
    before = Path(args.before).resolve() if args.before else None
    results = []
    try:
        for name, customers, years in shapes:
            # One folder a shape, so a kept one is reused by the next run of that shape.
            work = root / name if len(shapes) > 1 or args.shape else root
            work.mkdir(parents=True, exist_ok=True)
            print(f"== shape {name}: {customers:,} customers x {years} years ==")
            results.append((name, measure(work, customers, years, args.repeat, before)))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    met = [report(figures) for _, figures in results]
    if len(results) > 1 or before:
        print()
        print(
            f"{'shape':<8} {'code':<7} {'rows':>10} {'import':>8} {'floor':>8} {'ratio':>6} "
            f"{'CPU ratio':>9} {'RSS':>7} {'re-import':>9}  targets"
        )
        for (name, figures), ok in zip(results, met, strict=True):
            floor = figures["floor"]
            runs = [("this", figures["import"], figures["reimport"], "PASS" if ok else "MISS")]
            if figures["before"]:
                runs.insert(0, ("before", figures["before"], figures["before_reimport"], ""))
            for code, first, again, verdict in runs:
                print(
                    f"{name:<8} {code:<7} {_total_rows(first):>10,} {first['seconds']:>7.1f}s"
                    f" {floor['seconds']:>7.1f}s {first['seconds'] / floor['seconds']:>5.2f}x"
                    f" {first['cpu_seconds'] / floor['cpu_seconds']:>8.2f}x"
                    f" {max(first['peak_rss_mb'], again['peak_rss_mb']):>4.0f} MB"
                    f" {again['seconds']:>8.1f}s  {verdict}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shape",
        action="append",
        choices=[*SHAPES, "all"],
        help="a named shape (repeatable; `all` runs each): "
        + ", ".join(f"{n} = {c:,} customers x {y} years" for n, (c, y) in SHAPES.items()),
    )
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="run the phases N times and keep each one's fastest (for a busy machine)",
    )
    parser.add_argument(
        "--keep", metavar="DIR", help="work in DIR and keep the data (reused on the next run)"
    )
    parser.add_argument(
        "--before",
        metavar="CHECKOUT",
        help="also run the import of another checkout of this project (e.g. a worktree of"
        " main) in the same rounds, for before/after figures",
    )
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        run_phase(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
