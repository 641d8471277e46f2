"""Composing and queueing mail: headers, threading, the subject, the retry schedule."""

from __future__ import annotations

import random
from email import message_from_bytes, policy

import pytest

from core.config import Settings
from core.outbox import (
    MAX_DELAY,
    activation_link,
    build_message,
    flatten,
    mail_subject,
    next_delay,
    queue_code_mail,
    queue_mail,
    tagged_subject,
    thread_references,
)
from storage import outbox

SETTINGS = Settings({"PETKOMM_MAIL_FROM": "PÉTKOMM Kft. <petkomm@petkomm.hu>"})
NOW = 1_714_550_400.0  # 2024-05-01 08:00 UTC


def parsed(mail: outbox.OutboxMail):
    return message_from_bytes(mail.raw, policy=policy.default)


async def queue_answer(db, **overrides):
    args = dict(
        kind="answer",
        to="Kovács Éva <eva@example.hu>",
        subject="Számla kérdés",
        template="activation",
        context={"username": "eva", "code": "A" * 24, "link": "https://t.me/B0tt?start=x"},
        now=NOW,
    )
    args["context"] = {**args["context"], "expires_at": "2024. 05. 03. 08:00"}
    args.update(overrides)
    return await queue_mail(db, SETTINGS, **args)


# --- pure helpers ---------------------------------------------------------------------


def test_back_off_doubles_from_30_seconds_and_stops_at_an_hour():
    assert [next_delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert next_delay(0) == 30
    assert next_delay(500) == MAX_DELAY


def test_activation_link_is_a_telegram_deep_link():
    assert activation_link("@PetkommBot", "act_Ab-12") == "https://t.me/PetkommBot?start=act_Ab-12"
    with pytest.raises(ValueError):
        activation_link("PetkommBot", "has space")
    with pytest.raises(ValueError):
        activation_link("PetkommBot", "x" * 65)
    with pytest.raises(ValueError):
        activation_link("bad/bot", "ok")


def test_the_ticket_tag_is_put_in_front_once():
    assert tagged_subject("Számla  kérdés\r\n", "PK-000123") == "[#PK-000123] Számla kérdés"
    assert tagged_subject("Re: [#PK-000123] Számla", "PK-000123") == "Re: [#PK-000123] Számla"
    assert tagged_subject("Re: [#pk-000123] Számla", "PK-000123") == "Re: [#pk-000123] Számla"
    assert tagged_subject("Számla", None) == "Számla"


def test_references_end_with_the_parent_and_keep_first_four_and_last_six():
    chain = [f"<m{i}@example.hu>" for i in range(12)]
    refs = thread_references(chain, "<parent@example.hu>")
    assert len(refs) == 10
    assert refs[:4] == chain[:4]
    assert refs[4:9] == chain[-5:]
    assert refs[-1] == "<parent@example.hu>"
    # Repeats vanish; a bare id gets its angle brackets; the parent moves to the end.
    assert thread_references(["<a@x.hu> <b@x.hu>", "<a@x.hu>"], "a@x.hu") == [
        "<b@x.hu>",
        "<a@x.hu>",
    ]
    assert thread_references([], None) == []


@pytest.mark.parametrize("seed", range(40))
def test_long_accented_subjects_decode_exactly(seed):
    rng = random.Random(seed)
    words = ["árvíztűrő", "tükörfúrógép", "–", "PÉTKOMM", "Kft.", "ügyfél", "a", "ő", "[#PK-1]"]
    subject = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40)))
    msg = build_message(
        mail_from="PÉTKOMM Kft. <petkomm@petkomm.hu>",
        to="eva@example.hu",
        subject=subject,
        text="szöveg",
        html=None,
        message_id="<1@petkomm.hu>",
        date=NOW,
    )
    raw = flatten(msg)
    for line in raw.split(b"\r\n"):
        if line.startswith((b"Subject:", b" =?utf-8")):
            assert len(line) <= 78
    assert message_from_bytes(raw, policy=policy.default)["Subject"] == subject


# --- queueing ---------------------------------------------------------------------------


async def test_a_reply_threads_into_its_ticket(db):
    chain = [f"<m{i}@example.hu>" for i in range(12)]
    queued = await queue_answer(
        db,
        subject="Re: Számla kérdés",
        ticket_number="PK-000123",
        in_reply_to="<parent@example.hu>",
        references=chain,
    )
    assert queued.subject == "[#PK-000123] Re: Számla kérdés"
    mail = await outbox.get_by_message_id(db, queued.message_id)
    assert mail is not None and mail.status == "queued" and mail.next_attempt_at == NOW
    assert mail.recipient == "eva@example.hu"
    msg = parsed(mail)
    assert msg["Subject"] == "[#PK-000123] Re: Számla kérdés"
    assert msg["In-Reply-To"] == "<parent@example.hu>"
    refs = str(msg["References"]).split()
    assert len(refs) == 10 and refs[0] == chain[0] and refs[-1] == "<parent@example.hu>"
    assert msg["Message-ID"] == queued.message_id == mail.message_id
    assert queued.message_id.endswith("@petkomm.hu>")
    assert msg["X-Loop"] == "petkomm@petkomm.hu"
    assert "Auto-Submitted" not in msg  # a clerk's answer is written by a person

    again = await queue_answer(db, subject=queued.subject, ticket_number="PK-000123")
    assert again.subject.count("[#PK-000123]") == 1
    assert again.message_id != queued.message_id


async def test_an_automatic_answer_says_so(db):
    queued = await queue_answer(db, kind="ack", auto_reply=True, ticket_number="PK-000007")
    msg = parsed(await outbox.get_mail(db, queued.id))
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"


async def test_code_mails_are_auto_generated_and_carry_the_grouped_code(db):
    await queue_code_mail(
        db,
        SETTINGS,
        purpose="reset",
        to="eva@example.hu",
        username="eva",
        code="ABCDEFGHJKLMNPQRSTUVWXYZ",
        link="https://t.me/petkomm_bot?start=rst_ABCDEFGHJKLMNPQRSTUVWXYZ",
        expires_at="2024. 05. 01. 10:00",
    )
    [mail] = await outbox.fetch_due(db, NOW + 10**9)
    msg = parsed(mail)
    assert mail.kind == "reset"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Subject"] == mail_subject("reset")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for body in (text, html):
        assert "ABCD EFGH JKLM NPQR STUV WXYZ" in body
        assert "Elfelejtett jelszó" in body
        assert "2024. 05. 01. 10:00" in body


async def test_a_mail_queued_in_a_rolled_back_transaction_leaves_no_row(db):
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.transaction() as tx:
            await queue_code_mail(
                tx,
                SETTINGS,
                purpose="activation",
                to="eva@example.hu",
                username="eva",
                code="A" * 24,
                link="https://t.me/PetkommBot?start=x",
                expires_at="2024. 05. 03.",
            )
            assert (await outbox.count_by_status(tx))["queued"] == 1
            raise Boom
    assert await outbox.count_by_status(db) == {"queued": 0, "sent": 0, "failed": 0}

    async with db.transaction() as tx:
        await queue_code_mail(
            tx,
            SETTINGS,
            purpose="activation",
            to="eva@example.hu",
            username="eva",
            code="A" * 24,
            link="https://t.me/PetkommBot?start=x",
            expires_at="2024. 05. 03.",
        )
    assert (await outbox.count_by_status(db))["queued"] == 1


async def test_bad_addresses_are_refused_before_anything_is_stored(db):
    for to in ("nobody", "eva@example.hu\r\nBcc: x@y.hu"):
        with pytest.raises(ValueError):
            await queue_answer(db, to=to)
    assert (await outbox.count_by_status(db))["queued"] == 0


async def test_the_repository_moves_a_mail_through_its_states(db):
    first = await queue_answer(db)
    second = await queue_answer(db, now=NOW + 1)
    assert [m.id for m in await outbox.fetch_due(db, NOW + 1)] == [first.id, second.id]
    assert [m.id for m in await outbox.fetch_due(db, NOW)] == [first.id]
    assert await outbox.next_due_at(db) == NOW

    assert await outbox.schedule_retry(db, first.id, NOW + 30, "451 later")
    assert [m.id for m in await outbox.fetch_due(db, NOW + 29)] == [second.id]
    assert await outbox.mark_sent(db, second.id, NOW + 2)
    assert not await outbox.mark_sent(db, second.id, NOW + 3)  # only once
    assert await outbox.mark_failed(db, first.id, "550 no such user")
    assert not await outbox.schedule_retry(db, first.id, NOW + 60, "late")  # failed stays failed

    [failed] = await outbox.list_failed(db)
    assert (failed.id, failed.attempts, failed.last_error) == (first.id, 2, "550 no such user")
    sent = await outbox.get_mail(db, second.id)
    assert sent.sent_at == NOW + 2 and sent.attempts == 1
    assert await outbox.count_by_status(db) == {"queued": 0, "sent": 1, "failed": 1}
    assert await outbox.next_due_at(db) is None

    assert await outbox.requeue(db, first.id, NOW + 100)
    assert [m.id for m in await outbox.fetch_due(db, NOW + 100)] == [first.id]
