"""The customer beside a ticket (issue 17, point 1): who wrote, and where they stand.

When the ticket's customer is known (a logged-in chat customer, a mail from an
address the billing data or a portal account names, or a ticket staff linked
with `/link`), staff see their name, customer ID, address, payment method,
balance, unpaid invoices (overdue marked), last payment, whether they use the
chat, and their earlier tickets. A sender no one knows is said to be unknown,
with the tickets that came from the same address or chat.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts import local_time
from core.db import Queryable
from core.statement import Statement, statement
from core.tickets import ticket_number
from storage import desk as store
from storage.tickets import Ticket

EARLIER_SHOWN = 5  # earlier tickets listed beside a ticket


@dataclass(frozen=True)
class Earlier:
    """Another ticket of the same customer (or address), as a line beside this one."""

    number: str
    received: str  # Budapest
    subject: str
    closed: bool


@dataclass(frozen=True)
class Beside:
    """What staff see beside a ticket; `card` None when the customer is not known."""

    statement: Statement | None
    last_payment: store.Payment | None
    chat: store.ChatUse | None
    earlier: list[Earlier]
    earlier_total: int

    @property
    def known(self) -> bool:
        return self.statement is not None and self.statement.customer is not None


async def beside(db: Queryable, ticket: Ticket, now: float) -> Beside:
    """The customer's card and earlier tickets, as of `now`."""
    others, total = await store.other_tickets(db, ticket, limit=EARLIER_SHOWN)
    earlier = [
        Earlier(ticket_number(t.id), local_time(t.created_at), t.subject, t.status == "closed")
        for t in others
    ]
    if not ticket.customer_id:
        return Beside(None, None, None, earlier, total)
    return Beside(
        statement=await statement(db, ticket.customer_id, now),
        last_payment=await store.last_payment(db, ticket.customer_id),
        chat=await store.chat_use(db, ticket.customer_id),
        earlier=earlier,
        earlier_total=total,
    )
