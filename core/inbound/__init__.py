"""An incoming mail's way through the domain: store, thread, open or add, answer.

Two stages (`pipeline`). First the raw mail is kept as 'received' under its
Message-ID (`store_mail`, or the IMAP reader's batch). Then `process_stored`
takes it through the chain for one mail (`chain.handle_mail`), in one
transaction, which reads like the checklists in docs/mail-notes.md:

1. ignore it? our own mail come back becomes nothing (`filters.IGNORE_RULES`,
   and a Message-ID we sent); a double send (the same sender, subject and body
   a moment ago) joins the ticket of its first copy and does nothing more;
2. thread it or open a ticket: the first of `threads.THREAD_RULES` that finds
   its ticket (References, the mail a bounce or read receipt is about, a
   subject number only from the ticket's owner), else the flood guard
   (`threads.BURST_RULES`: a sender's, or a robot domain's, burst joins one
   ticket); machine mail that threads nowhere is kept, not ticketed
   (`filters.UNMATCHED_RULES`); anything else opens a ticket for its owner (a
   web form's Reply-To person, not its robot);
3. machine mail (a read receipt, a delivery report, a vacation notice, a spam
   filter's challenge, our own mail come back) joins its ticket as a machine
   note: never reopening it, staff told at once only when our mail did not
   reach the customer; a person's mail joins as theirs, announced unless its
   ticket is flooded;
4. answer it: never a machine (`filters.NO_ANSWER_RULES`, RFC 3834), then what
   `answers.ANSWER_RULES` plan (the acknowledgement, self-help topics for the
   ticket's owner alone) within `answers.SEND_LIMITS` (per address, per domain,
   overall, a topic once per ticket), always to the ticket's owner;
5. record what became of it: the mail's final status ('ticket', 'ignored',
   'quarantined') and an `InboundResult` with its `Outcome`.

Each rule is a small named function in an ordered list (Zammad's filter
chain). What a mail *is* (automatic, a bounce, an out-of-office reply, which
self-help topic) is `core.mail`'s; what the mail worker *does* with it is
here. No IMAP, SMTP or Telegram: the reader hands in bytes and its mailbox
coordinates, and the outbox sends what is queued.
"""

from core.inbound.answers import TOPIC_SCOPE
from core.inbound.context import InboundContext, InboundResult, Outcome
from core.inbound.pipeline import (
    folder_cursor,
    process_mail,
    process_stored,
    quarantine_stored,
    restart_folder,
    start_attempt,
    store_batch,
    store_mail,
    waiting_mails,
)
from core.mail import stored_message_id

__all__ = [
    "TOPIC_SCOPE",
    "InboundContext",
    "InboundResult",
    "Outcome",
    "folder_cursor",
    "process_mail",
    "process_stored",
    "quarantine_stored",
    "restart_folder",
    "start_attempt",
    "store_batch",
    "store_mail",
    "stored_message_id",
    "waiting_mails",
]
