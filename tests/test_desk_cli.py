"""The clerk's desk at the command line (issue 17): `run_bot.py tickets link|note|note-edit|
assign|release|show|list --holder`, each a subprocess on a real database file."""

from __future__ import annotations

import re
import time

import pytest

from core import tickets
from core.formats import format_amount
from storage.db import open_database
from tests.test_staff_cli import ME, run

DAY = 86400.0


@pytest.fixture
async def env(tmp_path) -> dict[str, str]:
    """A known customer with an overdue invoice and a payment, her mail ticket (PK-000001),
    and a mail from an address no one knows (PK-000002)."""
    path = tmp_path / "desk.sqlite3"
    db = await open_database(path)
    now = time.time()
    await db.execute(
        "INSERT INTO customers(customer_id, name, address, email, payment_method) VALUES"
        " ('U1234', 'Juhász László', '8105 Pétfürdő, Fő u. 1.', 'juhasz@example.hu', 'csekk'),"
        " ('U2000', 'Kiss Anna', '8105 Pétfürdő, Ady u. 2.', '', 'átutalás')"
    )
    await db.execute(
        "INSERT INTO invoices(invoice_no, customer_id, issue_date, due_date, amount, outstanding)"
        " VALUES (2026000123, 'U1234', '2026-01-05', '2026-01-20', 12345, 12345)"
    )
    await db.execute(
        "INSERT INTO transactions(transaction_id, customer_id, booked_on, kind, amount) VALUES"
        " ('T1', 'U1234', '2026-01-05', 'charge', 12345),"
        " ('T2', 'U1234', '2025-12-10', 'payment', 9800)"
    )
    async with db.transaction() as tx:
        for customer_id, address, subject in (
            ("U1234", "juhasz@example.hu", "Magas a számla"),
            (None, "valaki@example.hu", "Vízóra"),
        ):
            await tickets.open_ticket(
                tx,
                channel="mail",
                subject=subject,
                body="Kérem, nézzék meg.",
                new_text="Kérem, nézzék meg.",
                actor=f"mail:{address}",
                customer_id=customer_id,
                email=address,
                mail_message_id=f"<{subject[:3]}@example.hu>",
                now=now - DAY,
            )
    await db.execute(
        "INSERT INTO staff_members(user_id, username, name, seen_at) VALUES (9002, 'kata', 'Kata',"
        " 0)"
    )
    await db.close()
    return {
        "PETKOMM_DB": str(path),
        "PETKOMM_MAIL_OUTBOX_DIR": str(tmp_path / "mail"),
        "PETKOMM_STAFF_IDS": "9001,9002",
    }


def test_show_prints_the_customer_beside_the_ticket_and_link_names_an_unknown_one(env):
    shown = run(env, "tickets", "show", "PK-000001")
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "az ügyfél: Juhász László (U1234)" in out and "8105 Pétfürdő, Fő u. 1." in out
    assert "Fizetés:    csekk" in out and "Egyenleg:   \u22122545 Ft (tartozás)" in out
    assert "2026-000123  12 345 Ft  határidő: 2026. 01. 20.  LEJÁRT" in out
    assert "Utolsó befizetés: 2025. 12. 10., 9800 Ft" in out and "nincs fiókja" in out
    # One date format in the whole view, the staff chat's: no ISO date, no hyphen minus.
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", out) and not re.search(r"(^|\s)-\d", out, re.M)

    unknown = run(env, "tickets", "show", "2")
    assert "ismeretlen feladó" in unknown.stdout
    assert "tickets link PK-000002 U1234" in unknown.stdout
    assert run(env, "tickets", "link", "2", "U9999").returncode == 1
    linked = run(env, "tickets", "link", "2", "U1234")
    assert (
        linked.returncode == 0
        and "PK-000002 összekapcsolva: Juhász László (U1234)." in linked.stdout
    )
    after = run(env, "tickets", "show", "2").stdout
    assert "az ügyfél: Juhász László (U1234)" in after
    assert "Más bejelentései (1 db):" in after and "PK-000001" in after
    entries = run(env, "audit", "--actor", ME).stdout
    assert "ticket_linked" in entries and "U1234" in entries


def test_a_note_stays_inside_and_only_its_author_edits_it(env):
    added = run(env, "tickets", "note", "1", "--text", "Visszahívni délután.")
    assert added.returncode == 0, added.stderr
    assert (
        "PK-000001: 1. belső jegyzet rögzítve (csak munkatársak látják, az ügyfélhez nem jut el)."
        in added.stdout
    )
    shown = run(env, "tickets", "show", "1").stdout
    assert "--- 1. belső jegyzet, " in shown and "Visszahívni délután." in shown

    edited = run(env, "tickets", "note-edit", "1", "--text", "Visszahívtuk.")
    assert edited.returncode == 0 and "PK-000001: 1. jegyzet szerkesztve." in edited.stdout
    assert "Visszahívtuk." in run(env, "tickets", "show", "1").stdout

    # A note someone else wrote (a clerk in the staff chat) is not ours to change.
    async def staff_note() -> None:
        db = await open_database(env["PETKOMM_DB"])
        await db.execute(
            "INSERT INTO ticket_notes(ticket_id, author, author_name, body, created_at)"
            " VALUES (1, 'staff:9001', 'Anna', 'Anna jegyzete', 0)"
        )
        await db.close()

    import asyncio

    asyncio.run(staff_note())
    refused = run(env, "tickets", "note-edit", "2", "--text", "Átírom")
    assert refused.returncode == 1 and "csak az írója szerkesztheti" in refused.stderr
    # No mail went anywhere.
    assert run(env, "outbox", "list").stdout.count("@") == 0


def test_assign_shows_the_holder_in_the_list_and_release_frees_it(env):
    assigned = run(env, "tickets", "assign", "1", "@kata")
    assert assigned.returncode == 0, assigned.stderr
    assert "PK-000001: mostantól Kata kezeli." in assigned.stdout
    listing = run(env, "tickets", "list").stdout
    assert "[Kata]" in next(line for line in listing.splitlines() if line.startswith("PK-000001"))
    held = run(env, "tickets", "list", "--holder", "@kata").stdout
    assert "Nyitott bejelentések, amelyeket @kata kezel: 1" in held and "PK-000002" not in held
    assert run(env, "tickets", "assign", "1", "4242").returncode == 1  # not staff
    assert run(env, "tickets", "assign", "1", "@senki").returncode == 1
    released = run(env, "tickets", "release", "1")
    assert "PK-000001: már senki sem kezeli." in released.stdout
    assert "[Kata]" not in run(env, "tickets", "list").stdout
    actions = [line for line in run(env, "audit").stdout.splitlines() if "ticket_" in line]
    assert any("ticket_assigned" in line for line in actions)
    assert any("ticket_released" in line for line in actions)


def test_the_desk_commands_have_help():
    for command in (
        "link",
        "note",
        "note-edit",
        "take",
        "assign",
        "release",
        "merge",
        "search",
        "canned",
        "digest",
    ):
        result = run({}, "tickets", command, "--help")
        assert result.returncode == 0 and "usage:" in result.stdout
        # Argparse's own words stay English; ours are Hungarian.
        words = result.stdout.lower()
        assert any(w in words for w in ("bejelentés", "sablon", "jegyzet")), result.stdout
    taken = run({}, "tickets", "take", "--help").stdout
    assert "Ön kezeli a bejelentést" in " ".join(taken.split())


def test_a_canned_answer_is_filled_with_the_debt_shown_and_sent_when_the_clerk_says_yes(
    env, tmp_path
):
    payee = {
        **env,
        "PETKOMM_PAYEE_NAME": "PÉTKOMM Kft.",
        "PETKOMM_PAYEE_IBAN": "HU42117730161111101800000000",
    }
    listed = run(payee, "tickets", "canned")
    assert "tartozas" in listed.stdout and "Tartozás és befizetés" in listed.stdout

    declined = run(payee, "tickets", "reply", "1", "--canned", "tartozas", stdin="n\n")
    assert declined.returncode == 1 and "Nem küldtem el." in declined.stdout
    assert "Elküldjem? [i]gen, [s]zerkesztés, [n]em: " in declined.stdout
    assert f"{format_amount(12345)} kiegyenlítetlen tartozása van" in declined.stdout
    assert "Tisztelt Juhász László!" in declined.stdout
    assert "Közlemény: U1234 2026-000123" in declined.stdout
    assert "juhasz@example.hu" not in run(payee, "outbox", "list", "--queued").stdout

    # `e` opens the editor (here a script that changes a word), then `y` sends the changed text.
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/Tisztelt/Kedves/' \"$1\"\n")
    editor.chmod(0o755)
    sent = run(
        {**payee, "EDITOR": str(editor)},
        "tickets",
        "reply",
        "1",
        "--canned",
        "tartozas",
        stdin="e\ny\n",
    )
    assert sent.returncode == 0, sent.stderr
    assert "a válasz e-mailben megy ide: juhasz@example.hu" in sent.stdout
    assert "juhasz@example.hu" in run(payee, "outbox", "list", "--queued").stdout
    audit_lines = run(payee, "audit").stdout
    assert "canned_sent" in audit_lines and "tartozas, edited" in audit_lines

    unknown = run(payee, "tickets", "reply", "1", "--canned", "nincsilyen", "--yes")
    assert unknown.returncode == 1 and "nincs „nincsilyen” nevű sablon" in unknown.stderr


async def test_the_canned_answer_sent_from_the_command_line_holds_the_edited_text(env, tmp_path):
    import asyncio

    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/Tisztelt/Kedves/' \"$1\"\n")
    editor.chmod(0o755)
    result = await asyncio.to_thread(
        run,
        {**env, "EDITOR": str(editor)},
        "tickets",
        "reply",
        "1",
        "--canned",
        "megoldva",
        stdin="e\ny\n",
    )
    assert result.returncode == 0, result.stderr
    db = await open_database(env["PETKOMM_DB"])
    try:
        [body] = [
            row[0]
            for row in await db.fetch_all(
                "SELECT body FROM ticket_messages WHERE ticket_id = 1 AND direction = 'out'"
            )
        ]
    finally:
        await db.close()
    assert body.startswith("Kedves Juhász László!") and "rendeztük" in body


def test_search_by_words_customer_and_address_newest_first(env):
    words = run(env, "tickets", "search", "nezzek")  # "nézzék" in both tickets
    assert words.returncode == 0, words.stderr
    found = [line[:9] for line in words.stdout.splitlines() if line.startswith("PK-")]
    assert found == ["PK-000002", "PK-000001"] and "Találat: 2 " in words.stdout
    by_customer = run(env, "tickets", "search", "u1234").stdout
    assert [line[:9] for line in by_customer.splitlines() if line.startswith("PK-")] == [
        "PK-000001"
    ]
    by_name = run(env, "tickets", "search", "Juhász").stdout
    assert "PK-000001" in by_name and "PK-000002" not in by_name
    by_mail = run(env, "tickets", "search", "valaki@example.hu").stdout
    assert "PK-000002" in by_mail and "PK-000001" not in by_mail
    nothing = run(env, "tickets", "search", "gázszag")
    assert nothing.returncode == 0 and "Találat: 0 " in nothing.stdout


def test_merge_keeps_the_older_number_and_both_threads(env):
    noted = run(env, "tickets", "note", "2", "--text", "A második jegyzete.")
    assert noted.returncode == 0, noted.stderr
    merged = run(env, "tickets", "merge", "2", "1")
    assert merged.returncode == 0, merged.stderr
    assert "PK-000002 összevonva ezzel: PK-000001 (a régebbi szám marad)." in merged.stdout
    shown = run(env, "tickets", "show", "1").stdout
    assert shown.count("Kérem, nézzék meg.") == 2 and "A második jegyzete." in shown
    # The merged number shows the ticket it joined; merging again is refused.
    assert run(env, "tickets", "show", "2").stdout.startswith("PK-000001")
    again = run(env, "tickets", "merge", "1", "2")
    assert again.returncode == 1 and "már össze van vonva ezzel: PK-000001" in again.stderr
    assert run(env, "tickets", "merge", "1", "1").returncode == 1
    listed = run(env, "tickets", "list").stdout
    assert "PK-000001" in listed and "PK-000002" not in listed
    assert "tickets_merged" in run(env, "audit").stdout


def test_the_digest_prints_what_the_staff_chat_would_get(env):
    result = run({**env, "PETKOMM_ANSWER_DAYS": "2"}, "tickets", "digest")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Lejárt a válaszadási határidő: 0 db" in out and "3 napon belül lejár: 2 db" in out
    assert "Egy napnál régebben vár válaszra: 2 db" in out and "PK-000001" in out
    assert "Első válasz az elmúlt 30 napban: nem volt megválaszolt bejelentés" in out


async def _rate(env: dict[str, str], number: int, stars: int) -> None:
    """The customer rated the closed ticket just now (as the chat's star button does)."""
    from storage import desk as desk_store

    db = await open_database(env["PETKOMM_DB"])
    try:
        [rating_id] = await db.fetch_one(
            "SELECT id FROM customer_ratings WHERE ticket_id = ?", (number,)
        )
        await desk_store.rate(db, rating_id, stars, time.time())
    finally:
        await db.close()


def test_a_rating_shows_on_the_ticket_in_the_list_and_in_the_digest(env):
    import asyncio

    before = run(env, "tickets", "digest").stdout
    assert "Ügyfélértékelés ebben a hónapban: nincs még értékelés" in before
    assert run(env, "tickets", "close", "1").returncode == 0
    asyncio.run(_rate(env, 1, 4))

    digest = run(env, "tickets", "digest").stdout
    assert "Ügyfélértékelés ebben a hónapban: 4,0 az 5-ből (1 értékelés)" in digest
    assert "Értékelés:  4/5" in run(env, "tickets", "show", "1").stdout
    listed = run(env, "tickets", "list", "--all").stdout
    assert "[értékelés: 4/5]" in next(
        line for line in listed.splitlines() if line.startswith("PK-000001")
    )
    assert "Értékelés" not in run(env, "tickets", "show", "2").stdout


def test_a_clerk_at_the_command_line_takes_a_ticket_and_can_be_handed_one(env):
    import getpass

    me = getpass.getuser()
    taken = run(env, "tickets", "take", "PK-000001")
    assert taken.returncode == 0, taken.stderr
    assert f"PK-000001: mostantól Ön kezeli (cli:{me})." in taken.stdout
    listing = run(env, "tickets", "list").stdout
    line = next(line for line in listing.splitlines() if line.startswith("PK-000001"))
    assert f"[{me} (parancssor)]" in line
    mine = run(env, "tickets", "list", "--mine").stdout
    assert f"Az Ön nyitott bejelentései (cli:{me}): 1" in mine and "PK-000002" not in mine
    # A colleague hands the other ticket to this clerk by the audit's name.
    handed = run(env, "tickets", "assign", "2", f"cli:{me}")
    assert handed.returncode == 0, handed.stderr
    assert "Az Ön nyitott bejelentései" in run(env, "tickets", "list", "--mine").stdout
    assert "): 2" in run(env, "tickets", "list", "--mine").stdout
    taken_lines = [line for line in run(env, "audit").stdout.splitlines() if "ticket_taken" in line]
    assert len(taken_lines) == 1 and f"cli:{me}" in taken_lines[0]


def test_assigning_to_a_name_the_bot_never_met_says_what_to_do(env):
    refused = run(env, "tickets", "assign", "1", "@senki")
    assert refused.returncode == 1
    assert "nem ismerek ilyen munkatársat: @senki" in refused.stderr
    assert "Telegram-azonosítóját" in refused.stderr and "/take PK-000001" in refused.stderr
    assert "tickets take PK-000001" in refused.stderr
    nobody = run(env, "tickets", "list", "--mine")
    assert (
        nobody.returncode == 0
        and "Az Ön nyitott bejelentései" in nobody.stdout
        and ": 0" in nobody.stdout
    )


def test_a_canned_answer_says_when_the_payee_settings_are_missing(env):
    shown = run(env, "tickets", "reply", "1", "--canned", "tartozas", stdin="n\n")
    assert shown.returncode == 1 and "kiegyenlítetlen tartozása van" in shown.stdout
    assert (
        "FIGYELEM: az átutalás adatai kimaradtak, mert nincs beállítva: "
        "PETKOMM_PAYEE_NAME, PETKOMM_PAYEE_IBAN" in shown.stdout
    )
    assert "Kedvezményezett" not in shown.stdout


def test_a_debt_answer_to_an_address_the_customer_never_gave_needs_the_clerks_yes(env):
    # PK-000002 came from valaki@example.hu; a clerk linked it to Juhász László.
    assert run(env, "tickets", "link", "2", "U1234").returncode == 0
    hurried = run(env, "tickets", "reply", "2", "--canned", "tartozas", "--yes")
    assert hurried.returncode == 1
    assert "FIGYELEM: a válasz az ügyfél tartozásáról szól" in hurried.stdout
    assert "olyan e-mail címre megy, amelyet az ügyfél nem adott meg nekünk" in hurried.stdout
    assert "futtassa --yes nélkül, és erősítse meg" in hurried.stderr
    assert "valaki@example.hu" not in run(env, "outbox", "list", "--queued").stdout
    # Her own address is no question; an answer without the debt neither.
    own = run(env, "tickets", "reply", "1", "--canned", "tartozas", stdin="n\n")
    assert "tartozásáról szól" not in own.stdout
    plain = run(env, "tickets", "reply", "2", "--canned", "megoldva", "--yes")
    assert plain.returncode == 0 and "FIGYELEM" not in plain.stdout
    confirmed = run(env, "tickets", "reply", "2", "--canned", "tartozas", stdin="y\n")
    assert confirmed.returncode == 0 and "a válasz e-mailben megy ide: valaki@example.hu" in (
        confirmed.stdout
    )


def test_the_demos_printed_command_fills_a_canned_answer_as_the_staff_chat_does(env, tmp_path):
    import os
    import subprocess
    from pathlib import Path

    from cli.terminal_demo import demo_settings, staff_command
    from core.config import Settings

    settings = demo_settings(
        Settings({"TELEGRAM_BOT_TOKEN": "123456:TITKOS", "PETKOMM_SMTP_PASSWORD": "jelszo"}),
        Path(env["PETKOMM_DB"]),
        tmp_path / "mail",
    )
    printed = staff_command(settings, "tickets", "reply", "PK-000001", "--canned", "tartozas")
    assert "TITKOS" not in printed and "jelszo" not in printed
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))}
    result = subprocess.run(
        ["bash", "-c", printed],
        env=clean,
        cwd=tmp_path,
        input="n\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Kedvezményezett: PÉTKOMM Kft." in result.stdout, result.stderr
    assert "FIGYELEM" not in result.stdout


async def _chat_ticket(env: dict[str, str]) -> None:
    """Juhász László reports the same thing in the chat (PK-000003), an hour later."""
    db = await open_database(env["PETKOMM_DB"])
    try:
        async with db.transaction() as tx:
            await tickets.open_ticket(
                tx,
                channel="telegram",
                subject="Írtam e-mailt is",
                body="Írtam e-mailt is a számláról.",
                new_text="Írtam e-mailt is a számláról.",
                actor="telegram:555",
                customer_id="U1234",
                telegram_user_id=555,
                telegram_chat_id=555,
                now=time.time() - DAY + 3600,
            )
    finally:
        await db.close()


def test_a_chat_and_a_mail_ticket_merged_say_which_way_each_message_went(env):
    import asyncio

    asyncio.run(_chat_ticket(env))
    assert run(env, "tickets", "merge", "3", "1").returncode == 0
    replied = run(env, "tickets", "reply", "1", "--text", "Megnézzük.")
    assert replied.returncode == 0
    shown = run(env, "tickets", "show", "1").stdout
    assert "--- ügyfél, e-mailben, " in shown and "--- ügyfél, a csevegésben, " in shown
    # He wrote last in the chat: the answer goes there, not to his mailbox.
    assert f"--- munkatárs: {ME}, a csevegésben, " in shown
    assert "Telegram" in replied.stdout, replied.stdout
    listed = run(env, "tickets", "list", "--all").stdout
    gone = next(line for line in listed.splitlines() if line.startswith("PK-000003"))
    assert "[összevonva: PK-000001]" in gone
    # A ticket of one way only names none.
    assert ", e-mailben, " not in run(env, "tickets", "show", "2").stdout


def test_the_digest_words_answer_times_as_the_staff_chat_does():
    from cli.tickets import _span

    assert _span(300) == "5 perc" and _span(5 * 3600) == "5,0 óra" and _span(3 * 86400) == "3,0 nap"


async def _refused_stranger(env: dict[str, str]) -> None:
    """Mallory (Telegram user 3001, not staff) tried /search in the staff group."""
    from core import staff

    db = await open_database(env["PETKOMM_DB"])
    try:
        await staff.refuse(
            db, user_id=3001, what="/search", reason=staff.NOT_STAFF, now=time.time()
        )
    finally:
        await db.close()


def test_audit_takes_a_bare_telegram_user_id_and_names_the_actor_forms(env):
    import asyncio

    asyncio.run(_refused_stranger(env))
    by_number = run(env, "audit", "--actor", "3001").stdout
    assert "tg:3001" in by_number and "staff_refused" in by_number and "/search" in by_number
    assert run(env, "audit", "--actor", "tg:3001").stdout == by_number
    unknown = run(env, "audit", "--actor", "mallory").stdout
    assert "No audit entries." in unknown and "tg:ID" in unknown
    assert "tg:3001" in run(env, "audit", "--help").stdout
