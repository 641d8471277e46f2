"""Benchmark: building the account statement PDF and the year's chart PNG (run on demand).

    .venv/bin/python bench/documents_bench.py [--runs N]

Issue 16's targets: a 12-month statement in at most 100 ms and 100 kB, the chart in at
most 50 ms after warm-up and 30 kB. Measured in one process, in this order:

1. cold      - the first statement and the first chart, with the libraries' import and
               the fonts' first load (what the first customer after a restart waits);
2. floor     - an empty page from the same PDF library (reportlab, one blank A4 page) and
               an empty picture of the chart's size saved as PNG: what the machine gives
               for nothing, measured in the same run, so the figures below can be read
               against it on a loaded or slower machine;
3. statement - a household's 12 months (a charge and a payment a month, two corrections:
               26 rows, one page) and a firm's (four sites: 104 rows, three pages);
4. chart     - 12 months with both bars in most months and six-digit amounts.

Prints the median and the slowest of N runs (wall clock), the median CPU time of this
process, and the sizes; it is not a test.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

T0 = time.perf_counter()
from core.chart import WIDTH, chart_png  # noqa: E402
from core.statement import (  # noqa: E402
    AccountStatement,
    MonthTotals,
    YearPicture,
    last_months,
)
from core.statement_pdf import statement_pdf  # noqa: E402
from storage.billing import Booking, Customer  # noqa: E402

IMPORTED_MS = (time.perf_counter() - T0) * 1000
TODAY = "2026-11-25"
CUSTOMER = Customer(
    "U0027", "Kőműves Ödönné Szűts Ürsula", "8105 Pétfürdő, Ősz utca 12.", "", "", "átutalás"
)


def household(sites: int = 1) -> AccountStatement:
    """12 months of a charge and a payment a month per site, and two corrections."""
    period = last_months(TODAY)
    rows: list[tuple[Booking, int]] = []
    balance = opening = -11_894
    for month in period.months:
        for site in range(sites):
            amount = 11_894 + 1_000 * site
            serial = len(rows)
            balance -= amount
            charge = Booking(
                f"T{serial}", "U0027", f"{month}-05", "charge", amount, 2026_000100 + serial,
                f"Víz- és csatornadíj, {site + 1}. felhasználási hely", -amount,
            )  # fmt: skip
            rows.append((charge, balance))
            balance += amount
            payment = Booking(
                f"T{serial}p", "U0027", f"{month}-20", "payment", amount, None, "Átutalás", amount
            )
            rows.append((payment, balance))
    for day, amount in (("2026-03-10", -1_500), ("2026-07-15", 2_000)):
        balance += amount
        rows.append(
            (Booking(f"A{day}", "U0027", day, "adjustment", amount, None, "Helyesbítés", amount),
             balance)
        )  # fmt: skip
    rows.sort(key=lambda row: row[0].booked_on)
    return AccountStatement("U0027", CUSTOMER, period, opening, rows, TODAY)


def picture() -> YearPicture:
    period = last_months(TODAY)
    months = [
        MonthTotals(month, 0 if i == 4 else 11_894 + 10_317 * i, 0 if i == 7 else 123_456 - i)
        for i, month in enumerate(period.months)
    ]
    return YearPicture("U0027", period, months)


def empty_pdf() -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, pageCompression=1)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def empty_png(height: int) -> Callable[[], bytes]:
    from PIL import Image

    def build() -> bytes:
        out = io.BytesIO()
        image = Image.new("L", (WIDTH, height), 255)
        image.putpalette([255, 255, 255])
        image.save(out, "PNG")
        return out.getvalue()

    return build


def timed(build: Callable[[], bytes], runs: int) -> tuple[float, float, float, int]:
    """(median ms, slowest ms, median CPU ms, size in bytes) of `runs` builds after one for
    warm-up. The CPU time is this process's own: on a machine busy with other work it stays
    near what an idle one takes, where the wall-clock time grows with the others' load."""
    data = build()
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        data = build()
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(times), max(times), statistics.median(cpu), len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs

    one, firm, chart = household(), household(sites=4), picture()
    start = time.perf_counter()
    first_pdf = statement_pdf(one)
    cold_pdf = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    first_png = chart_png(chart)
    cold_png = (time.perf_counter() - start) * 1000
    print(f"import of the renderers (reportlab, Pillow, templates): {IMPORTED_MS:.0f} ms")
    print(f"cold: first statement {cold_pdf:.0f} ms, first chart {cold_png:.0f} ms")
    from PIL import Image

    height = Image.open(io.BytesIO(first_png)).height
    print(f"({len(first_pdf)} B and {len(first_png)} B; the chart is {WIDTH}×{height})")
    load = os.getloadavg()[0]
    print(f"\n{runs} runs each after one warm-up (load {load:.1f} on {os.cpu_count()} cores)")
    print(f"{'':36} {'median':>10} {'slowest':>10} {'CPU':>10} {'size':>9}")
    for name, build in (
        ("floor: empty A4 page (reportlab)", empty_pdf),
        ("statement, household: 26 rows", lambda: statement_pdf(one)),
        ("statement, firm: 104 rows, 3 pages", lambda: statement_pdf(firm)),
        (f"floor: empty {WIDTH}×{height} PNG", empty_png(height)),
        ("chart, 12 months", lambda: chart_png(chart)),
    ):
        median, slowest, cpu, size = timed(build, runs)
        print(f"{name:36} {median:7.1f} ms {slowest:7.1f} ms {cpu:7.1f} ms {size / 1000:6.1f} kB")


if __name__ == "__main__":
    main()
