"""Deterministic demo data: the three CSV files the billing system exports.

`write_demo_data` writes `customers.csv`, `invoices.csv` and `transactions.csv`
(see docs/billing-import.md) for a made-up but realistic customer base of the
utility around Pétfürdő, in one consistent export format: UTF-8 without BOM,
`;` as delimiter, CRLF line ends, a header row, dates as `2024.05.01`, amounts
as whole forints grouped the Hungarian way (`4800`, `12 345`).

The same (seed, customers, years, today) always gives byte-identical files:
everything random comes from one `random.Random(seed)`, drawn in a fixed order.
Rows are written customer by customer, so memory stays flat however long the
history is; only per-customer buffers and a set of used e-mail addresses
(at most 10 000) are kept.

The model, in short:
- every customer gets one invoice a month, issued on day `ISSUE_DAY`, due
  `DUE_DAYS` later, for `years` years ending with the month of `today`;
  invoice numbers run in issue order within a year across all customers;
- each non-zero invoice has a `terhelés` booking on its issue date and the
  `befizetés` bookings that paid it (by the customer's payment method, some
  late, a few in two parts); payments that would fall after `today` have not
  happened yet, so the invoice is still outstanding;
- a few customers fall into debt in their last months (unpaid invoices,
  partial payments); a few invoices are zero (and get no charge booking, as the
  contract wants booking amounts positive);
- now and then a small `helyesbítés` debit (a negative amount: it raises the
  debt) and the payment that settled it; both name the invoice in the
  description only, so per invoice `amount - payments == outstanding` holds and
  the account balance equals minus the outstanding total.
"""

from __future__ import annotations

import csv
import math
import os
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol, TextIO

from core import demodata_words as words
from core.billing_import import COLUMNS
from core.formats import format_export_amount

# The export's columns, in the contract's order (billing-import.md).
CUSTOMER_COLUMNS = COLUMNS["customers.csv"]
INVOICE_COLUMNS = COLUMNS["invoices.csv"]
TRANSACTION_COLUMNS = COLUMNS["transactions.csv"]

MAX_CUSTOMERS = 10_000  # "U" + 4 digits
MAX_YEARS = 20
ISSUE_DAY = 1  # the 1st, so the invoice of today's month is never in the future
DUE_DAYS = 15

# Payment methods, as indexes into words.PAYMENT_METHODS / PAYMENT_DESCRIPTIONS.
_CHEQUE, _TRANSFER, _DIRECT_DEBIT = 0, 1, 2

# Customers every data set holds at fixed positions (0-based), if it is big enough.
_LESS_THAN_FIRM = 1
_DEBTOR = 2
_ZERO_INVOICE = 3
_AMPERSAND_FIRM = 4  # also has the very long address
_HYPHEN_FIRM = 6
_ACCENTED_PERSON = 7
_SPECIAL = frozenset(
    (_LESS_THAN_FIRM, _DEBTOR, _ZERO_INVOICE, _AMPERSAND_FIRM, _HYPHEN_FIRM, _ACCENTED_PERSON)
)

# Monthly consumption shape: district heating peaks in winter, water in summer.
_HEATING = (1.45, 1.35, 1.15, 0.9, 0.75, 0.7, 0.7, 0.72, 0.8, 1.0, 1.2, 1.4)
_WATER = (0.9, 0.88, 0.92, 0.98, 1.08, 1.2, 1.3, 1.28, 1.1, 0.95, 0.9, 0.92)
_PRICE_RISE_PER_MONTH = 0.002  # about 2.4 % a year

_ZERO_INVOICE_RATE = 0.001
_ADJUSTMENT_RATE = 0.008
_SPLIT_RATE = 0.015
_DEBTOR_RATE = 0.07
_FORMAT_CACHE_LIMIT = 100_000

_ACCENTS = str.maketrans("áéíóöőúüűÁÉÍÓÖŐÚÜŰ", "aeiooouuuAEIOOOUUU")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_LEGAL_FORMS = (" Kft.", " Bt.", " Zrt.", " e.v.")
_by_day = itemgetter(0)


class _RowWriter(Protocol):
    """What `csv.writer` returns (its class is not public)."""

    def writerow(self, row: Any, /) -> Any: ...

    def writerows(self, rows: Any, /) -> None: ...


@dataclass(frozen=True)
class RegistrationSample:
    """A customer the demo prints, so a person can try the registration."""

    customer_id: str  # "U0042"
    invoice_number: str  # "2026-000123"
    amount: int  # forints
    email: str
    name: str


@dataclass(frozen=True)
class DemoSummary:
    """What `write_demo_data` wrote.

    `in_debt` counts customers with at least one overdue invoice, `overdue`
    counts those invoices (due date before `today`, outstanding > 0).
    """

    customers: int
    invoices: int
    transactions: int
    in_debt: int
    overdue: int
    sample: RegistrationSample


def ascii_fold(text: str) -> str:
    """`Szabó-Nagy Ödön` -> `szabo-nagy odon`: lower case, Hungarian accents dropped."""
    return text.translate(_ACCENTS).lower()


def write_demo_data(
    folder: Path,
    customers: int = 200,
    seed: int = 1,
    years: int = 3,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write customers.csv, invoices.csv and transactions.csv into `folder`.

    `folder` is created if missing; the files are written under temporary
    names and renamed at the end, so a failed run leaves no half files.
    `progress(n)` is called now and then with the number of customers done.
    Raises ValueError for customers outside 1..10 000 or years outside 1..20.
    """
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ValueError(
            f"customers must be between 1 and {MAX_CUSTOMERS} "
            f"(a customer ID is U and 4 digits), got {customers}"
        )
    if not 1 <= years <= MAX_YEARS:
        raise ValueError(f"years must be between 1 and {MAX_YEARS}, got {years}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    generator = _Generator(random.Random(seed), customers, years, today or date.today())

    names = ("customers.csv", "invoices.csv", "transactions.csv")
    temporary = [folder / f".{name}.tmp" for name in names]
    step = max(1, customers // 100)
    try:
        with (
            _create(temporary[0]) as customer_file,
            _create(temporary[1]) as invoice_file,
            _create(temporary[2]) as booking_file,
        ):
            customer_csv = csv.writer(customer_file, delimiter=";")
            invoice_csv = csv.writer(invoice_file, delimiter=";")
            booking_csv = csv.writer(booking_file, delimiter=";")
            customer_csv.writerow(CUSTOMER_COLUMNS)
            invoice_csv.writerow(INVOICE_COLUMNS)
            booking_csv.writerow(TRANSACTION_COLUMNS)
            for index in range(customers):
                generator.customer(index, customer_csv, invoice_csv, booking_csv)
                done = index + 1
                if progress is not None and (done % step == 0 or done == customers):
                    progress(done)
        for source, name in zip(temporary, names, strict=True):
            os.replace(source, folder / name)
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)
    return generator.summary()


def _create(path: Path) -> TextIO:
    """A file for the csv module: UTF-8 without BOM, newlines left to the writer (CRLF)."""
    return open(path, "w", encoding="utf-8", newline="", buffering=1 << 20)


@dataclass
class _Profile:
    """One customer's master data and habits."""

    name: str
    address: str
    phone: str
    email: str
    method: int
    firm: bool
    baseline: float  # forints a month before the seasonal shape
    heating: float  # share of the bill that follows the heating season
    late_rate: float  # chance an invoice is paid after its due date
    debt_from: int  # month index from which the customer stops paying (months = never)
    zero_month: int  # month index with a forced zero invoice, -1 if none


class _Generator:
    """Holds the precomputed calendar and the running counters of one run."""

    def __init__(self, rng: random.Random, customers: int, years: int, today: date) -> None:
        self.rng = rng
        self.customers = customers
        self.months = years * 12
        # The whole range U0000-U9999 when all 10 000 IDs are used, else from U0001.
        self.first_id = 0 if customers == MAX_CUSTOMERS else 1
        self._used_emails: set[str] = set()
        self._amount_text: dict[int, str] = {}
        self._towns = [i for i, town in enumerate(words.TOWNS) for _ in range(town[2])]
        self.invoices = 0
        self.transactions = 0
        self.in_debt = 0
        self.overdue = 0
        self._sample: RegistrationSample | None = None
        self._build_calendar(today)
        # Drawn first, so it does not depend on what the customers consume.
        index = int(rng.random() * customers)
        while index in _SPECIAL:
            index = (index + 1) % customers
        self.sample_index = index

    def _build_calendar(self, today: date) -> None:
        """Precompute per month and per day everything the hot loop needs as text."""
        last = today.year * 12 + today.month - 1
        first = last - self.months + 1
        start = date(first // 12, first % 12 + 1, ISSUE_DAY)
        base = start.toordinal()
        self.today_index = today.toordinal() - base
        self.first_year = start.year

        # Day index -> "2024.05.01", its year, and the next business day (weekends skipped).
        self.day_text: list[str] = []
        self.day_year: list[int] = []
        self.business_day: list[int] = []
        day = start
        # Up to the due date of the last invoice (its issue day is never after today),
        # plus two days so a business-day shift of any day up to then can be looked up.
        for index in range(self.today_index + DUE_DAYS + 3):
            self.day_text.append(f"{day.year:04d}.{day.month:02d}.{day.day:02d}")
            self.day_year.append(day.year)
            weekday = day.weekday()
            self.business_day.append(index + (2 if weekday == 5 else 1 if weekday == 6 else 0))
            day += timedelta(days=1)
        # Payments may be planned beyond today; those are dropped before the lookup.

        self.issue_day: list[int] = []
        self.number_prefix: list[str] = []
        self.number_offset: list[int] = []
        self.charge_text: list[str] = []
        self.heating_curve: list[float] = []
        self.water_curve: list[float] = []
        months_in_year = 0
        for m in range(self.months):
            year, month0 = divmod(first + m, 12)
            if m and month0 == 0:
                months_in_year = 0
            self.issue_day.append(date(year, month0 + 1, ISSUE_DAY).toordinal() - base)
            self.number_prefix.append(f"{year}-")
            # Numbers run in issue order: all customers of a month, then the next month.
            self.number_offset.append(months_in_year * self.customers)
            months_in_year += 1
            self.charge_text.append(
                words.CHARGE_DESCRIPTION.format(year=year, month=words.MONTH_NAMES[month0])
            )
            growth = 1.0 + _PRICE_RISE_PER_MONTH * m
            self.heating_curve.append(_HEATING[month0] * growth)
            self.water_curve.append(_WATER[month0] * growth)
        self.booking_counter = [0] * (today.year - self.first_year + 1)

    # ----------------------------------------------------------- master data

    def _pick(self, options: tuple[str, ...]) -> str:
        return options[int(self.rng.random() * len(options))]

    def _person_name(self) -> tuple[str, str]:
        """A Hungarian name, family name first, and the e-mail local part for it."""
        rnd = self.rng.random
        female = rnd() < 0.5
        family = self._pick(words.FAMILY_NAMES)
        if rnd() < 0.06:
            second = self._pick(words.FAMILY_NAMES)
            if second != family:
                family = f"{family}-{second}"
        given = self._pick(words.FEMALE_GIVEN_NAMES if female else words.MALE_GIVEN_NAMES)
        name = f"{family} {given}"
        local = f"{family}.{given}"
        if rnd() < 0.1:
            middle = self._pick(words.FEMALE_GIVEN_NAMES if female else words.MALE_GIVEN_NAMES)
            if middle != given:
                name = f"{name} {middle}"
        if female and rnd() < 0.15:
            husband = self._pick(words.FAMILY_NAMES)
            if rnd() < 0.5:
                name = f"{husband}né {name}"  # "Nagyné Kovács Éva"
            else:
                husband_given = self._pick(words.MALE_GIVEN_NAMES)
                name = f"{husband} {husband_given}né"  # "Nagy Jánosné"
                local = f"{husband}.{husband_given}ne"
        if rnd() < 0.03:
            name = f"dr. {name}"
        return name, ascii_fold(local)

    def _email(self, local: str) -> str:
        """A unique address for the local part: kovacs.eva@example.hu, kovacs.eva2@..."""
        rnd = self.rng.random
        domain = words.EMAIL_DOMAINS[0] if rnd() < 0.7 else self._pick(words.EMAIL_DOMAINS)
        email = f"{local}@{domain}"
        number = 2
        while email in self._used_emails:
            email = f"{local}{number}@{domain}"
            number += 1
        self._used_emails.add(email)
        return email

    def _address(self) -> str:
        """`8105 Pétfürdő, Ady Endre u. 3. 2/5.`"""
        rnd = self.rng.random
        postcode, town, _, streets = words.TOWNS[self._towns[int(rnd() * len(self._towns))]]
        number = 1 + int(rnd() * rnd() * 120)
        address = f"{postcode} {town}, {self._pick(streets)} {number}."
        if rnd() < 0.05:
            address = f"{address[:-1]}/{'ABC'[int(rnd() * 3)]}."
        if town in words.TOWNS_WITH_FLATS and rnd() < 0.35:
            floor, door = int(rnd() * 11), 1 + int(rnd() * 12)
            address += f" fsz. {door}." if floor == 0 else f" {floor}/{door}."
        return address

    def _phone(self) -> str:
        """`+36 88 123 456` (landline), `+36 30 123 4567` (mobile) or empty."""
        rnd = self.rng.random
        kind = rnd()
        if kind < 0.15:
            return ""
        if kind < 0.45:
            return f"+36 88 {100 + int(rnd() * 900)} {int(rnd() * 1000):03d}"
        prefix = ("20", "30", "70")[int(rnd() * 3)]
        return f"+36 {prefix} {100 + int(rnd() * 900)} {int(rnd() * 10000):04d}"

    def _firm_name(self) -> str:
        pattern = self._pick(words.FIRM_PATTERNS)
        family = self._pick(words.FAMILY_NAMES)
        second = self._pick(words.FAMILY_NAMES)
        return pattern.format(family=family, family2=second)

    def _profile(self, index: int) -> _Profile:
        """Master data and habits of the customer at `index` (0-based)."""
        rnd = self.rng.random
        firm_name = {
            _LESS_THAN_FIRM: words.FIRM_LESS_THAN,
            _AMPERSAND_FIRM: words.FIRM_AMPERSAND,
            _HYPHEN_FIRM: words.FIRM_HYPHEN,
        }.get(index)
        is_sample = index == self.sample_index
        firm = firm_name is not None or (not is_sample and index not in _SPECIAL and rnd() < 0.05)

        if firm:
            name = firm_name or self._firm_name()
            local = name
            for form in _LEGAL_FORMS:
                local = local.removesuffix(form)
            local = _NOT_SLUG.sub(".", ascii_fold(local)).strip(".")
            method = _TRANSFER if rnd() < 0.85 else _DIRECT_DEBIT if rnd() < 0.7 else _CHEQUE
            has_email = rnd() < 0.95
            baseline = 15_000.0 * math.exp(rnd() * 2.8)
            heating = rnd() * 0.4
            late_rate = 0.1
        else:
            if index == _ACCENTED_PERSON:
                family, given = words.PERSON_ACCENTED
                name, local = f"{family} {given}", ascii_fold(f"{family}.{given}")
            else:
                name, local = self._person_name()
            kind = rnd()
            method = _CHEQUE if kind < 0.33 else _TRANSFER if kind < 0.58 else _DIRECT_DEBIT
            has_email = rnd() < (0.55 if method == _CHEQUE else 0.88)
            baseline = 3_500.0 * math.exp(rnd() * 1.6)
            heating = rnd() * 0.7
            late_rate = 0.25 if rnd() < 0.15 else 0.03

        address = words.LONG_ADDRESS if index == _AMPERSAND_FIRM else self._address()
        phone = self._phone()
        email = self._email(local) if has_email or is_sample else ""
        months = self.months
        debt_from = months
        if index == _DEBTOR:
            debt_from = months - 6
        elif not is_sample and rnd() < _DEBTOR_RATE:
            debt_from = months - 1 - int(rnd() * 10)
        return _Profile(
            name=name,
            address=address,
            phone=phone,
            email=email,
            method=method,
            firm=firm,
            baseline=baseline,
            heating=heating,
            late_rate=late_rate,
            debt_from=debt_from,
            zero_month=months - 2 if index == _ZERO_INVOICE else -1,
        )

    # ----------------------------------------------------------- one customer

    def _amount(self, amount: int) -> str:
        text = self._amount_text.get(amount)
        if text is None:
            text = format_export_amount(amount)
            if amount < _FORMAT_CACHE_LIMIT:
                self._amount_text[amount] = text
        return text

    def customer(
        self,
        index: int,
        customer_csv: _RowWriter,
        invoice_csv: _RowWriter,
        booking_csv: _RowWriter,
    ) -> None:
        """Generate and write one customer, its invoices and its bookings."""
        profile = self._profile(index)
        customer_id = f"U{self.first_id + index:04d}"
        customer_csv.writerow(
            (
                customer_id,
                profile.name,
                profile.address,
                profile.phone,
                profile.email,
                words.PAYMENT_METHODS[profile.method],
            )
        )

        # Local names: this loop runs 1.2 M times in the big benchmark.
        rnd = self.rng.random
        amount_text = self._amount_text
        amount_of = self._amount
        day_text = self.day_text
        business_day = self.business_day
        today = self.today_index
        issue_day = self.issue_day
        prefix = self.number_prefix
        offset = self.number_offset
        charge_text = self.charge_text
        charge, payment, adjustment = words.KIND_CHARGE, words.KIND_PAYMENT, words.KIND_ADJUSTMENT
        descriptions = words.PAYMENT_DESCRIPTIONS
        method = profile.method
        own_text = descriptions[method]
        transfer_text = descriptions[_TRANSFER]
        late_rate = profile.late_rate
        late_span = 60 if method == _CHEQUE else 45
        debt_from = profile.debt_from
        zero_month = profile.zero_month
        zero_rate = 0.0 if index == self.sample_index else _ZERO_INVOICE_RATE
        split_rate = 0.0 if profile.firm else _SPLIT_RATE
        share = profile.heating
        baseline = profile.baseline
        monthly = [
            baseline * (share * heat + (1.0 - share) * water)
            for heat, water in zip(self.heating_curve, self.water_curve, strict=True)
        ]
        number = index + 1
        invoice_rows = []
        bookings: list[tuple[int, str, int, str, str]] = []
        overdue = 0
        last_number, last_amount, last_month = "", 0, -1

        for m in range(self.months):
            amount = int(monthly[m] * (0.88 + 0.24 * rnd()))
            if m == zero_month or rnd() < zero_rate:
                amount = 0
            invoice = f"{prefix[m]}{offset[m] + number:06d}"
            issued = issue_day[m]
            due = issued + DUE_DAYS
            paid = 0
            if amount:
                last_number, last_amount, last_month = invoice, amount, m
                bookings.append((issued, charge, amount, invoice, charge_text[m]))
                # Plan up to two payments: (day, amount, description).
                second = 0
                if m >= debt_from:
                    kind = rnd()
                    first_text = transfer_text if method == _DIRECT_DEBIT else own_text
                    if kind < 0.5:
                        first = 0  # not paid at all
                    elif kind < 0.8:
                        first = int(amount * (0.3 + 0.4 * rnd())) // 500 * 500
                        first_day = due + int(rnd() * 40)
                    else:
                        first = amount
                        first_day = due + 20 + int(rnd() * 70)
                elif method == _DIRECT_DEBIT:
                    first = amount
                    if rnd() < 0.005:  # the collection failed, paid later by transfer
                        first_day, first_text = due + 8 + int(rnd() * 30), transfer_text
                    else:
                        first_day, first_text = due, own_text
                else:
                    first, first_text = amount, own_text
                    if rnd() < late_rate:
                        first_day = due + 1 + int(rnd() * late_span)
                    else:
                        first_day = issued + 2 + int(rnd() * (DUE_DAYS - 1))
                    if rnd() < split_rate and amount >= 2000:
                        second = amount // 2 // 100 * 100
                        first -= second
                        second_day = first_day + 10 + int(rnd() * 25)

                if index == self.sample_index and m == self.months - 1:
                    # The demo's sample still owes its latest invoice, so that Tartozás shows
                    # how to pay it; decided after the draws, so nobody else's data changes.
                    first = 0
                # A payment after today has not happened yet.
                if first and first_day <= today:
                    first_day = business_day[first_day]
                    if first_day <= today:
                        bookings.append((first_day, payment, first, invoice, first_text))
                        paid = first
                        if second and second_day <= today:
                            second_day = business_day[second_day]
                            if second_day <= today:
                                bookings.append((second_day, payment, second, invoice, own_text))
                                paid += second

                if rnd() < _ADJUSTMENT_RATE:
                    # A debit correction (negative: it raises the debt), settled by a
                    # payment a few days later, so the balance still matches the invoices.
                    day = issued + 3 + int(rnd() * 25)
                    settled = day + 5 + int(rnd() * 10)
                    if settled <= today and business_day[settled] <= today:
                        correction = 50 + int(rnd() * 1950)
                        what = self._pick(words.ADJUSTMENT_DESCRIPTIONS)
                        text = f"{what} ({invoice})"
                        bookings.append((business_day[day], adjustment, -correction, "", text))
                        bookings.append(
                            (business_day[settled], payment, correction, "", f"{what} rendezése")
                        )

            outstanding = amount - paid
            if outstanding and due < today:
                overdue += 1
            invoice_rows.append(
                (
                    invoice,
                    customer_id,
                    day_text[issued],
                    day_text[due],
                    amount_text.get(amount) or amount_of(amount),
                    amount_text.get(outstanding) or amount_of(outstanding),
                )
            )
        invoice_csv.writerows(invoice_rows)

        # Bookings in date order (stable: a charge stays before same-day payments),
        # numbered per booking year.
        bookings.sort(key=_by_day)
        counter = self.booking_counter
        first_year = self.first_year
        day_year = self.day_year
        rows = []
        for day, booking_kind, value, invoice, text in bookings:
            year = day_year[day]
            serial = counter[year - first_year] + 1
            counter[year - first_year] = serial
            rows.append(
                (
                    f"T-{year}-{serial:06d}",
                    customer_id,
                    day_text[day],
                    booking_kind,
                    amount_text.get(value) or amount_of(value),
                    invoice,
                    text,
                )
            )
        booking_csv.writerows(rows)

        self.invoices += len(invoice_rows)
        self.transactions += len(rows)
        self.overdue += overdue
        self.in_debt += overdue > 0
        if index == self.sample_index and last_month >= self.months - 12:
            self._sample = RegistrationSample(
                customer_id=customer_id,
                invoice_number=last_number,
                amount=last_amount,
                email=profile.email,
                name=profile.name,
            )

    def summary(self) -> DemoSummary:
        """The counts of the finished run and the registration sample."""
        if self._sample is None:  # the sample never gets a zero invoice, so this cannot happen
            raise RuntimeError("demo data has no registration sample")
        return DemoSummary(
            customers=self.customers,
            invoices=self.invoices,
            transactions=self.transactions,
            in_debt=self.in_debt,
            overdue=self.overdue,
            sample=self._sample,
        )
