"""Being told (issue 15): the opt-in question, 🔔 Értesítések, and each kind of
notification arriving in the customer's chat through the Bot API emulator.

The billing import queues new-invoice and payment-received messages, the reminders
pass queues due-date reminders, staff queue outage notices; the running service's
notifier sends them. Quiet hours use the service's clock.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from datetime import datetime
from pathlib import Path

import pytest

from botapi_emulator import ChatMessage
from core import notifications
from core.accounts import BUDAPEST
from core.billing_import import COLUMNS, ImportResult, import_folder
from core.config import ConfigError, Settings
from core.formats import format_invoice_number
from core.notifications import QuietHours, address_matches
from core.texts import render
from tests.botkit import STAFF_IDS, BotEnv, Customer, active_customer, proof_for
from tests.notifykit import new_invoices_export, subscribe
from tests.test_chat_places import prove
from tests.test_run import ROOT

NOTICE_TIMEOUT = 10.0


def at(hour: int, day: int = 25) -> float:
    """A moment of 2026-11-<day> at `hour` o'clock, Budapest."""
    return datetime(2026, 11, day, hour, 0, tzinfo=BUDAPEST).timestamp()


class Billing:
    """Writes small billing exports and imports them, as the daily import would."""

    def __init__(self, env: BotEnv) -> None:
        self.env = env
        self.runs = 0

    async def load(
        self, *, invoices: list[tuple] = (), transactions: list[tuple] = ()
    ) -> ImportResult:
        self.runs += 1
        folder: Path = self.env.tmp / f"export-{self.runs}"
        folder.mkdir()
        files = {"invoices.csv": invoices, "transactions.csv": transactions}
        only = []
        for name, rows in files.items():
            if not rows:
                continue
            only.append(name)
            lines = [",".join(COLUMNS[name])] + [",".join(str(v) for v in row) for row in rows]
            (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return await import_folder(self.env.db, folder, only=only)


def invoice(customer_id: str, serial: int, amount: int, due: str, outstanding: int | None = None):
    number = f"2026-{serial:06d}"
    owed = amount if outstanding is None else outstanding
    return (number, customer_id, "2026-11-20", due, amount, owed)


async def subscribed(env: BotEnv, customer_id: str, username: str) -> Customer:
    """A customer who activated (the link logs them in), was asked once, and said yes."""
    person = await active_customer(env, customer_id, username)
    question = asked(person)
    assert question is not None, "the first login asks about notifications"
    replies = await person.press_on(question, "notify_yes")
    assert "bekapcsoltuk az értesítéseket" in person.texts(replies)
    assert "21 és 7 óra között csak üzemzavarról" in person.texts(replies)
    return person


async def settled_customer(env: BotEnv) -> str:
    """A customer with nothing unpaid due around today (the demo's own invoices would be
    reminded of too)."""
    return await env.db.fetch_value(
        "SELECT customer_id FROM customers WHERE customer_id NOT IN (SELECT customer_id FROM"
        " invoices WHERE outstanding > 0 AND due_date BETWEEN '2026-10-01' AND '2027-01-31')"
        " ORDER BY customer_id LIMIT 1"
    )


def asked(person: Customer) -> ChatMessage | None:
    for message in person.user.replies:
        if "Szeretne értesítést kapni" in (message.text or ""):
            return message
    return None


def notices_of(person: Customer, needle: str) -> list[ChatMessage]:
    return [m for m in person.user.replies if needle in (m.text or "")]


async def told(env: BotEnv, person: Customer, *needles: str) -> ChatMessage:
    """Wait for a message in the person's chat containing every needle."""

    def found() -> ChatMessage | None:
        for message in reversed(person.user.replies):
            if all(n in (message.text or "") for n in needles):
                return message
        return None

    return await env.emulator.wait_for(found, timeout=NOTICE_TIMEOUT, what=f"notice {needles}")


async def settled(env: BotEnv) -> dict[str, int]:
    """Once the notifier has nothing due: the deliveries by status."""
    await env.service.notifier.run_once()  # the round under way, then one of the test's
    rows = await env.db.fetch_all(
        "SELECT status, count(*) FROM notification_deliveries GROUP BY status"
    )
    return {r[0]: r[1] for r in rows}


async def deliveries_of(env: BotEnv, person: Customer) -> list[tuple[str, str, str]]:
    rows = await env.db.fetch_all(
        "SELECT n.kind, d.status, coalesce(d.last_error, '') FROM notification_deliveries d"
        " JOIN notifications n ON n.id = d.notification_id WHERE d.telegram_user_id = ?"
        " ORDER BY d.id",
        (person.id,),
    )
    return [(r[0], r[1], r[2]) for r in rows]


# --- the question and the page ----------------------------------------------------------


async def test_the_first_login_asks_once_and_a_new_invoice_is_told_once_per_import(bot_env):
    env = bot_env
    eva = await subscribed(env, "U0003", "eva3")
    billing = Billing(env)

    result = await billing.load(
        invoices=[
            invoice("U0003", 900001, 12345, "2026-12-10"),
            invoice("U0003", 900002, 4800, "2026-12-12"),
        ]
    )
    assert result.notices.new_invoice == 1
    notice = await told(env, eva, "2 új számlája érkezett")
    assert "Ügyfél-azonosító: U0003" in notice.text
    assert "2026-900001: 12\u00a0345\u00a0Ft, fizetési határidő: 2026. 12. 10." in notice.text
    assert "2026-900002: 4800\u00a0Ft" in notice.text
    assert await settled(env) == {"sent": 1}
    assert len(notices_of(eva, "új számlája érkezett")) == 1  # one message for the import

    # The same files again bring nothing new: nothing more is told.
    again = await billing.load(invoices=[invoice("U0003", 900001, 12345, "2026-12-10")])
    assert again.notices.new_invoice == 0

    # Logging in again does not ask again.
    await eva.press("logout")
    replies = await eva.login("eva3", "Tavaszi-Szel-42")
    assert "Szeretne értesítést" not in eva.texts(replies)


async def test_the_page_turns_each_kind_off_and_an_opted_out_customer_is_not_told(bot_env):
    env = bot_env
    eva = await subscribed(env, "U0003", "eva3")
    ilona = await subscribed(env, "U0004", "ilona4")

    page = (await ilona.press("notifications"))[-1]
    assert "🔔 Értesítések" in page.text and "Ügyfél-azonosító: U0004" in page.text
    assert "✅ Új számla" in str(page.inline_keyboard)
    await ilona.press_on(page, "✅ Új számla")  # the page is edited in place
    buttons = [text for row in ilona.user.inline_buttons() for text, _ in row]
    assert "⬜ Új számla" in buttons and "✅ Befizetés" in buttons

    await Billing(env).load(
        invoices=[
            invoice("U0003", 900011, 5000, "2026-12-10"),
            invoice("U0004", 900012, 6000, "2026-12-10"),
        ]
    )
    await told(env, eva, "Új számlája érkezett", "2026-900011")
    assert await settled(env) == {"sent": 1}
    assert notices_of(ilona, "Új számlája") == []
    assert await deliveries_of(env, ilona) == []  # not even queued


# --- payments and reminders --------------------------------------------------------------


async def test_a_payment_that_settles_an_invoice_is_told_with_the_invoice(bot_env):
    env = bot_env
    eva = await subscribed(env, "U0003", "eva3")
    billing = Billing(env)
    await billing.load(invoices=[invoice("U0003", 900021, 7300, "2026-12-10")])
    await told(env, eva, "Új számlája érkezett", "2026-900021")

    result = await billing.load(
        invoices=[invoice("U0003", 900021, 7300, "2026-12-10", outstanding=0)],
        transactions=[("T-900021", "U0003", "2026-11-26", "befizetés", 7300, "2026-900021", "")],
    )
    assert result.notices.payment == 1
    notice = await told(env, eva, "Befizetése megérkezett")
    assert "Ügyfél-azonosító: U0003" in notice.text
    assert "a 7300\u00a0Ft befizetését" in notice.text
    assert "• 2026-900021: 7300\u00a0Ft" in notice.text


async def test_reminders_before_and_after_the_due_date_once_each_never_when_paid(bot_env):
    env = bot_env
    who = await settled_customer(env)
    eva = await subscribed(env, who, "eva3")
    billing = Billing(env)
    # Due in 3 days (2026-11-28), and 3 days overdue (2026-11-22), both unpaid.
    await billing.load(
        invoices=[
            invoice(who, 900031, 9100, "2026-11-28"),
            ("2026-900032", who, "2026-11-01", "2026-11-22", 8200, 8200),
        ]
    )
    await told(env, eva, "2 új számlája érkezett")

    assert await env.service.remind() == 2
    before = await told(env, eva, "Közeleg a fizetési határidő")
    assert "A 2026-900031 számlaszámú számla fizetési határideje 2026. 11. 28." in before.text
    assert "Még fizetendő: <b>9100\u00a0Ft</b>" in before.html
    after = await told(env, eva, "Lejárt fizetési határidő")
    assert "A 2026-900032 számlaszámú" in after.text and f"Ügyfél-azonosító: {who}" in after.text

    assert await env.service.remind() == 0  # once per invoice
    assert await settled(env) == {"sent": 3}
    assert len(notices_of(eva, "Közeleg")) == 1 and len(notices_of(eva, "Lejárt")) == 1


async def test_quiet_hours_hold_all_but_outages_and_a_reminder_paid_meanwhile_never_goes(
    staff_bot,
):
    env = await staff_bot()
    who = await settled_customer(env)
    eva = await subscribed(env, who, "eva3")
    billing = Billing(env)
    await billing.load(invoices=[invoice(who, 900041, 9100, "2026-11-28")])
    await told(env, eva, "Új számlája érkezett")
    address = await env.db.fetch_value(
        "SELECT address FROM customers WHERE customer_id = ?", (who,)
    )
    town = address.split(",")[0].split(" ", 1)[1]

    env.clock.now = at(22)  # 22:00 in Budapest: quiet hours
    assert await env.service.remind() == 1
    await billing.load(invoices=[invoice(who, 900042, 3000, "2026-12-20")])
    clerk = env.clerk()
    preview = (await clerk.command("notice", f"{town} | Holnap 8 és 12 óra között vízszünet."))[-1]
    await clerk.press(preview, preview.inline_keyboard[0][0]["text"])
    outage = await told(env, eva, "Üzemzavar, tervezett munka", "vízszünet")
    assert f"Ügyfél-azonosító: {who}" in outage.text
    counts = await settled(env)
    assert counts == {"sent": 2, "queued": 2}, counts  # the reminder and the invoice wait
    assert notices_of(eva, "Közeleg") == [] and notices_of(eva, "2026-900042") == []

    # Paid in the night's import: the morning sends the new invoice, not the reminder.
    await billing.load(
        invoices=[invoice(who, 900041, 9100, "2026-11-28", outstanding=0)],
        transactions=[("T-900041", who, "2026-11-25", "payment", 9100, "2026-900041", "")],
    )
    env.clock.now = at(7, day=26)
    env.service.notifier.wake()
    await told(env, eva, "Új számlája érkezett", "2026-900042")
    await told(env, eva, "Befizetése megérkezett", "2026-900041")
    await settled(env)
    assert notices_of(eva, "Közeleg") == []
    kinds = await deliveries_of(env, eva)
    assert ("reminder_before", "dropped", "paid") in kinds


# --- staff notices --------------------------------------------------------------------


async def test_staff_notice_has_a_preview_and_count_and_reaches_only_that_street(staff_bot):
    env = await staff_bot()
    eva = await subscribed(env, "U0003", "eva3")
    ilona = await subscribed(env, "U0004", "ilona4")
    addresses = dict(
        await env.db.fetch_all(
            "SELECT customer_id, address FROM customers WHERE customer_id IN ('U0003', 'U0004')"
        )
    )
    town, street = (
        addresses["U0003"].split(",")[0].split(" ", 1)[1],
        addresses["U0003"].split(",")[1],
    )
    street = street.strip().rsplit(" ", 1)[0]  # without the house number
    same_street = addresses["U0004"].split(",")[1].strip().startswith(street)

    stranger = env.clerk(4242, "Béla")
    refused = await stranger.command("notice", f"{town} | Holnap vízszünet.")
    assert "csak az ügyfélszolgálat munkatársai" in refused[-1].text

    clerk = env.clerk(STAFF_IDS[0])
    usage = await clerk.command("notice")
    assert "Használat: /notice" in usage[-1].text
    preview = (await clerk.command("notice", f"{town}, {street}\nHolnap 8-tól vízszünet."))[-1]
    expected = 2 if same_street else 1
    assert f"Címzettek: {expected} ügyfél" in preview.text
    assert "Holnap 8-tól vízszünet." in preview.text
    send = preview.inline_keyboard[0][0]["text"]
    assert send == f"📢 Küldés ({expected} ügyfél)"
    done = await clerk.press(preview, send)
    assert f"{expected} ügyfélnek elküldjük" in done[-1].text
    again = await clerk.press(preview, send) if preview.inline_keyboard else []
    assert again == [] or "már elküldték" in again[-1].text

    await told(env, eva, "vízszünet", "Ügyfél-azonosító: U0003")
    await settled(env)
    assert len(notices_of(eva, "vízszünet")) == 1
    assert len(notices_of(ilona, "vízszünet")) == (1 if same_street else 0)
    audit = await env.db.fetch_all(
        "SELECT actor, action FROM audit_log WHERE action = 'notice_sent'"
    )
    assert [tuple(row) for row in audit] == [(f"staff:{STAFF_IDS[0]}", "notice_sent")]


# --- who stops hearing ------------------------------------------------------------------


async def test_logout_stops_notifications_and_drops_those_waiting(bot_env):
    env = bot_env
    eva = await subscribed(env, "U0003", "eva3")
    billing = Billing(env)
    env.clock.now = at(23)  # quiet: the new invoice waits for the morning
    await billing.load(invoices=[invoice("U0003", 900051, 5000, "2026-12-10")])
    assert await settled(env) == {"queued": 1}

    await eva.command("kijelentkezes")  # the login idled out meanwhile: this still ends it
    await billing.load(invoices=[invoice("U0003", 900052, 5000, "2026-12-10")])
    env.clock.now = at(8, day=26)
    env.service.notifier.wake()
    assert await settled(env) == {"dropped": 1}
    assert notices_of(eva, "Új számlája") == []


async def test_a_user_who_blocked_the_bot_is_not_told_again(bot_env):
    env = bot_env
    eva = await subscribed(env, "U0003", "eva3")
    billing = Billing(env)
    eva.user.block()
    await billing.load(invoices=[invoice("U0003", 900061, 5000, "2026-12-10")])
    await env.emulator.wait_for(
        lambda: [c for c in env.emulator.calls("sendMessage", ok=False) if c.error_code == 403],
        timeout=NOTICE_TIMEOUT,
        what="the 403",
    )
    assert await settled(env) == {"failed": 1}
    await billing.load(invoices=[invoice("U0003", 900062, 5000, "2026-12-10")])
    assert await settled(env) == {"failed": 1}  # nothing queued for a blocked user
    refused = [c for c in env.emulator.calls("sendMessage", ok=False) if c.error_code == 403]
    assert len(refused) == 1

    # Back in the chat, the page shows their choices; notifications come again.
    await eva.press("notifications")
    await billing.load(invoices=[invoice("U0003", 900063, 5000, "2026-12-10")])
    await told(env, eva, "Új számlája érkezett", format_invoice_number(2026900063))


async def run_cli(env: BotEnv, *args: str) -> tuple[int, str, str]:
    """The command line in a process of its own, on the bot's database; (exit code,
    standard output, standard error)."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("PETKOMM_", "TELEGRAM_"))
    }
    environment["PETKOMM_DB"] = str(env.settings.db_path)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "run_bot.py"),
        *args,
        env=environment,
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, stdout.decode(), stderr.decode()


async def test_the_command_line_previews_asks_and_sends_a_notice(bot_env):
    env = bot_env
    eva = await subscribed(env, "U0003", "eva3")
    address = await env.db.fetch_value("SELECT address FROM customers WHERE customer_id = 'U0003'")
    town = address.split(",")[0].split(" ", 1)[1].upper()  # case and accents do not matter
    text = "Csőtörés miatt 14 óráig nincs víz."

    code, out, err = await run_cli(env, "notices", "send", "--town", town, "--text", text)
    assert code == 1 and "add --yes" in err
    assert "Csőtörés miatt 14 óráig nincs víz." in out
    assert "Ügyfél-azonosító: (mindenkinél a sajátja)" in out
    assert "Recipients: " in out
    code, out, err = await run_cli(env, "notices", "send", "--town", town, "--text", text, "--yes")
    assert code == 0, err
    count = int(out.split("Queued for ")[1].split()[0])
    assert count >= 1
    env.service.notifier.wake()  # another process queued it: the service's poll finds it
    await told(env, eva, "Csőtörés miatt", "Ügyfél-azonosító: U0003")
    audit = await env.db.fetch_all(
        "SELECT actor, action FROM audit_log WHERE action = 'notice_sent'"
    )
    assert len(audit) == 1 and audit[0][0].startswith("cli:")


# --- the rules, directly ---------------------------------------------------------------


def test_an_address_matches_its_town_and_street_whatever_the_accents_and_abbreviations():
    address = "8105 Pétfürdő, Ady Endre u. 3. 2/5."
    assert address_matches(address, "Pétfürdő")
    assert address_matches(address, "PETFURDO", "ady endre utca")
    assert address_matches(address, "pétfürdő", "Ady Endre")
    assert address_matches(address, "Pétfürdő", "Ady")  # a street's first word names it
    assert not address_matches(address, "Várpalota")
    assert not address_matches(address, "Pétfürdő", "Petőfi Sándor u.")
    assert not address_matches("8100 Várpalota, Ady Endre u. 1.", "Pétfürdő", "Ady Endre u.")


def test_quiet_hours_span_midnight_in_budapest_time():
    quiet = QuietHours(21, 7)
    assert not quiet.quiet(at(20))
    assert quiet.quiet(at(21)) and quiet.quiet(at(23)) and quiet.quiet(at(6, day=26))
    assert not quiet.quiet(at(7, day=26))
    assert quiet.ends_after(at(22)) == at(7, day=26)
    assert not QuietHours(0, 0).quiet(at(23))


def test_a_long_import_lists_ten_invoices_and_counts_the_rest():
    invoices = [
        {
            "invoice_no": 2026_900100 + n,
            "amount": 1000,
            "outstanding": 1000,
            "due_date": "2026-12-10",
        }
        for n in range(12)
    ]
    text = render("chat/notify/new_invoice.txt", customer_id="U0003", address="", invoices=invoices)
    assert "12 új számlája érkezett" in text
    assert "2026-900109" in text and "2026-900110" not in text
    assert "… és további 2 számla." in text


async def test_an_added_customer_accounts_new_invoice_reaches_the_login_naming_it(bot_env):
    # Issue 16 §4 with 15 §2: the holiday house added in Fiókváltás is told of too.
    env = bot_env
    eva = await subscribed(env, "U0003", "eva3")
    house = await proof_for(env.db, "U0004")
    listing = await eva.press("switch")
    await eva.press_on(listing[-1], "place_add")
    await prove(eva, house)
    result = await Billing(env).load(invoices=[invoice("U0004", 900011, 7300, "2026-12-10")])
    assert result.notices.new_invoice == 1
    notice = await told(env, eva, "számlája érkezett", "Ügyfél-azonosító: U0004")
    assert "2026-900011" in notice.text
    # It names the place as the pages do (the customer trial: "which one is U0004?").
    address = await env.db.fetch_value("SELECT address FROM customers WHERE customer_id = 'U0004'")
    assert f"Ügyfél-azonosító: U0004 · {address}" in notice.text
    # The added one is the one shown: Számlák shows it, no switching to ask for.
    assert "A részleteket a 🧾 Számlák menüben látja." in notice.text
    assert "Fiókváltás" not in notice.text


async def test_a_typed_igen_or_nem_answers_the_question_as_its_buttons_do(bot_env):
    # The customer trial: "igen" and "Igen, kérem" typed got "Rendben." and nothing on.
    env = bot_env
    eva = await active_customer(env, "U0005", "eva5")
    assert asked(eva) is not None
    replies = await eva.say("Igen, kérem")
    assert "bekapcsoltuk az értesítéseket" in eva.texts(replies)
    page = (await eva.press("notifications"))[-1]
    assert page.text.count("✅") == 4
    # A second customer says no by typing; an "igen" an hour after the question is not it.
    anna = await active_customer(env, "U0006", "anna6")
    assert "nem küldünk értesítést" in anna.texts(await anna.say("nem köszönöm"))
    page = (await anna.press("notifications"))[-1]
    assert page.text.count("✅") == 0
    peter = await active_customer(env, "U0007", "peter7")
    env.clock.advance(20 * 60)
    await peter.press("home")  # still logged in, twenty minutes later
    env.clock.advance(20 * 60)
    later = peter.texts(await peter.say("igen"))
    assert "bekapcsoltuk" not in later and "nem küldünk" not in later


async def test_a_batch_of_notifications_reads_the_addresses_with_its_claim(bot_env):
    """Sending 20 new-invoice notices names each one's address, read with the batch's
    claim: no query of the customers table per notification."""
    env = bot_env
    customers = [
        row[0]
        for row in await env.db.fetch_all(
            "SELECT customer_id FROM customers ORDER BY customer_id LIMIT 20"
        )
    ]
    users = await subscribe(env.db, customers, env.clock())
    chats = {c: env.emulator.private_user(u, f"Ügyfél {c}") for c, u in users.items()}
    traced: list[str] = []
    connections = [env.db.conn, *(env.db._readers.conns if env.db._readers else ())]
    for conn in connections:
        await conn.set_trace_callback(traced.append)
    try:
        await import_folder(
            env.db, new_invoices_export(env.tmp / "export-batch", customers), only=["invoices.csv"]
        )
        assert (await settled(env)).get("sent") == len(customers)
    finally:
        for conn in connections:
            await conn.set_trace_callback(None)
    for customer_id, chat in chats.items():
        address = await env.db.fetch_value(
            "SELECT address FROM customers WHERE customer_id = ?", (customer_id,)
        )
        [notice] = [m for m in chat.replies if "Új számlája érkezett" in (m.text or "")]
        assert f"Ügyfél-azonosító: {customer_id} · {address}" in notice.text
    one_by_one = [sql for sql in traced if "FROM customers WHERE customer_id" in sql]
    assert one_by_one == [], f"{len(one_by_one)} address queries, one per notification"


# --- how long the queue keeps what it told ------------------------------------------------

DAY = 86400.0


async def _told_at(tx, kind: str, created: float, due: str = "") -> int:
    details = f'{{"due_date": "{due}", "invoice_no": 2026900401}}' if due else "{}"
    return await tx.insert(
        "INSERT INTO notifications(customer_id, kind, details, created_at) VALUES (?, ?, ?, ?)",
        ("U0002", kind, details, created),
    )


async def _delivery_at(tx, notification: int, user: int, status: str, at: float) -> int:
    done = None if status == "queued" else at
    return await tx.insert(
        "INSERT INTO notification_deliveries(notification_id, telegram_user_id, chat_id, status,"
        " next_attempt_at, done_at) VALUES (?, ?, ?, ?, ?, ?)",
        (notification, user, user, status, at, done),
    )


async def test_the_service_forgets_what_it_told_after_30_days_never_what_waits(bot_env, caplog):
    env = bot_env
    caplog.set_level("INFO", logger="petkomm")
    now = env.clock()
    old, recent = now - 31 * DAY, now - 29 * DAY
    async with env.db.transaction() as tx:  # whole, whenever the service's own round runs
        told = await _told_at(tx, "new_invoice", now - 40 * DAY)
        gone = [
            await _delivery_at(tx, told, 7001, "sent", old),
            await _delivery_at(tx, told, 7002, "dropped", old),
            await _delivery_at(tx, told, 7003, "failed", now - 35 * DAY),
        ]
        paid = await _told_at(tx, "payment", now - 40 * DAY)
        kept = [await _delivery_at(tx, paid, 7001, "sent", recent)]
        # An outage notice still waiting (a retry due tomorrow): never forgotten, however old.
        outage = await _told_at(tx, "outage", now - 40 * DAY)
        kept.append(await _delivery_at(tx, outage, 7004, "queued", now + DAY))
        # Reminders: one whose invoice is long past every reminder window goes with its
        # delivery; one whose invoice was due 5 days ago keeps its record (its once-key), so
        # the reminders pass cannot queue it again.
        past = await _told_at(tx, "reminder_after", now - 35 * DAY, due="2026-11-05")
        gone.append(await _delivery_at(tx, past, 7001, "sent", old))
        near = await _told_at(tx, "reminder_after", now - 31 * DAY, due="2026-11-20")
        gone.append(await _delivery_at(tx, near, 7001, "sent", old))

    await env.service._housekeep(asyncio.Event())  # the hourly housekeeping's round
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("notifications:")]
    # (The service's own round, started with it, may have come first: the counts add up.)
    counted = [
        re.match(r"notifications: forgot (\d+) finished deliveries and (\d+) ", line)
        for line in lines
    ]
    assert all(counted) and lines[0].endswith(
        " notifications older than 30 days (PETKOMM_NOTIFICATION_KEEP_DAYS)"
    )
    assert [sum(int(m[n]) for m in counted) for n in (1, 2)] == [5, 2]
    left = {r[0] for r in await env.db.fetch_all("SELECT id FROM notification_deliveries")}
    assert left >= set(kept) and left.isdisjoint(gone)
    notices = {r[0] for r in await env.db.fetch_all("SELECT id FROM notifications")}
    assert {paid, outage, near} <= notices and not {told, past} & notices
    # The next round finds nothing and says nothing.
    caplog.clear()
    await env.service._housekeep(asyncio.Event())
    assert not [r for r in caplog.records if r.getMessage().startswith("notifications:")]


async def test_a_forgotten_reminder_is_not_reminded_of_again(bot_env):
    env = bot_env
    customer_id = await settled_customer(env)
    users = await subscribe(env.db, [customer_id], env.clock())
    env.emulator.private_user(users[customer_id], "Ügyfél")
    await Billing(env).load(invoices=[invoice(customer_id, 900402, 6100, "2026-11-27")])
    assert await env.service.remind() == 1  # due in two days
    assert (await settled(env)).get("sent") == 2  # the new invoice and the reminder
    # Two days later, with a keep of one day: both deliveries go; the reminder's record
    # stays while its invoice can still be reminded of.
    later = env.clock() + 2 * DAY
    forgotten = await notifications.housekeeping(env.db, later, keep_days=1, after_days=3)
    assert forgotten.deliveries == 2
    assert await env.db.fetch_value("SELECT count(*) FROM notification_deliveries") == 0
    kinds = {r[0] for r in await env.db.fetch_all("SELECT kind FROM notifications")}
    assert "reminder_before" in kinds
    assert await notifications.queue_reminders(env.db, later, 3, 3) == 0


def test_the_keep_is_a_setting_of_whole_days():
    assert Settings({}).notification_keep_days == 30
    assert Settings({"PETKOMM_NOTIFICATION_KEEP_DAYS": "7"}).notification_keep_days == 7
    for bad in ("0", "harminc"):
        with pytest.raises(ConfigError, match="PETKOMM_NOTIFICATION_KEEP_DAYS"):
            _ = Settings({"PETKOMM_NOTIFICATION_KEEP_DAYS": bad}).notification_keep_days
