"""When a mail becomes nothing, and when it gets no automatic answer.

Each rule is a small named function giving a short English reason (or None),
in an ordered list read top-down like the checklists in docs/mail-notes.md; the
first reason found is the one kept. What a mail *is* (automatic, a bounce, an
out-of-office reply) is decided by `core.mail.rules`; these rules decide what
the mail worker *does* with it.

- `IGNORE_RULES`: mails kept but turned into nothing (our own mail come back);
- `UNMATCHED_RULES`: machine mail that threads nowhere is kept, not ticketed;
- `NO_ANSWER_RULES`: never answer a machine (RFC 3834, and the machine mail the
  headers do not tell: receipts, challenges, vacation notices, our own mail come
  back), nor a mail too old (self-help goes to the ticket's owner alone: `answers`).
"""

from __future__ import annotations

from collections.abc import Callable

from core.accounts import email_ok
from core.inbound.context import InboundContext, MailFacts, Situation
from core.mail.rules import from_ourselves, our_x_loop

# --- mails that become nothing -------------------------------------------------------

IgnoreRule = Callable[[MailFacts, InboundContext], str | None]


def own_mail_come_back(facts: MailFacts, ctx: InboundContext) -> str | None:
    """One of our own mails (From us, or our X-Loop) came back: never a customer's message.
    Redirected back by someone (`Resent-From` theirs), it is kept as a machine note on its
    ticket instead (staff see that the address sends our mail back)."""
    if facts.redirected_by:
        return None
    return from_ourselves(facts.mail, ctx.ours) or our_x_loop(facts.mail, ctx.ours)


IGNORE_RULES: list[IgnoreRule] = [own_mail_come_back]


def ignore_reason(facts: MailFacts, ctx: InboundContext) -> str | None:
    """Why this mail becomes nothing at all, or None."""
    for rule in IGNORE_RULES:
        reason = rule(facts, ctx)
        if reason:
            return reason
    return None


# --- machine mail that threads nowhere -------------------------------------------------

UnmatchedRule = Callable[[MailFacts], str | None]


def unmatched_bounce(facts: MailFacts) -> str | None:
    """A bounce of no mail we know: kept for the record, no ticket."""
    return "bounce of no known mail" if facts.bounce else None


def unmatched_auto_reply(facts: MailFacts) -> str | None:
    """An out-of-office reply to no mail we know: nothing for staff to do."""
    return "auto-reply to no known mail" if facts.out_of_office else None


def unmatched_receipt(facts: MailFacts) -> str | None:
    """A read receipt of no mail we know."""
    return "read receipt of no known mail" if facts.machine == "receipt" else None


def unmatched_challenge(facts: MailFacts) -> str | None:
    """A spam filter's challenge about no mail we know: confirming it helps nobody."""
    return "spam-filter challenge about no known mail" if facts.machine == "challenge" else None


def unmatched_echo(facts: MailFacts) -> str | None:
    """One of our own answers come back (resent, redirected) that threads nowhere: never a
    new report, or our acknowledgement of it would start a loop."""
    return "our own answer came back" if facts.machine == "echo" else None


UNMATCHED_RULES: list[UnmatchedRule] = [
    unmatched_bounce,
    unmatched_auto_reply,
    unmatched_receipt,
    unmatched_challenge,
    unmatched_echo,
]


def unmatched_reason(facts: MailFacts) -> str | None:
    """Why a mail that belongs to no ticket opens none either, or None."""
    for rule in UNMATCHED_RULES:
        reason = rule(facts)
        if reason:
            return reason
    return None


# --- never answer a machine ----------------------------------------------------------

NoAnswerRule = Callable[[Situation], str | None]


def not_to_machines(situation: Situation) -> str | None:
    """RFC 3834 and practice: the checklist in `core.mail.rules.AUTOMATIC_CHECKS`."""
    return situation.facts.automatic


_MACHINE_REASONS = {
    "bounce": "bounce",
    "delayed": "bounce",
    "delivered": "bounce",
    "auto_reply": "out-of-office reply",
    "receipt": "read receipt",
    "challenge": "spam-filter challenge",
    "echo": "our own mail came back",
}


def not_to_auto_replies(situation: Situation) -> str | None:
    """Machine mail the headers do not always tell: bounces, out-of-office and vacation
    notices, read receipts, spam filters' challenges, our own mail come back."""
    machine = situation.facts.machine
    return _MACHINE_REASONS.get(machine) if machine else None


def needs_an_address(situation: Situation) -> str | None:
    """Only a plausible single owner address (Reply-To person or From) can be answered."""
    owner = situation.facts.owner
    return None if owner and email_ok(owner) else "no usable sender address"


def not_to_old_mail(situation: Situation) -> str | None:
    """Mail that waited in the mailbox for days (read for the first time, a long outage)
    becomes a ticket, but an automatic answer so late would only confuse: staff answer.
    The arrival is the server's (IMAP INTERNALDATE), never the sender's Date header."""
    if situation.arrived_at is None:
        return None
    age = situation.now - situation.arrived_at
    if age > situation.ctx.max_answer_age:
        return f"arrived {age / 86400:.1f} days ago: too late for an automatic answer"
    return None


NO_ANSWER_RULES: list[NoAnswerRule] = [
    not_to_machines,
    not_to_auto_replies,
    needs_an_address,
    not_to_old_mail,
]


def no_answer_reason(situation: Situation) -> str | None:
    """Why this mail gets no automatic answer at all, or None."""
    for rule in NO_ANSWER_RULES:
        reason = rule(situation)
        if reason:
            return reason
    return None
