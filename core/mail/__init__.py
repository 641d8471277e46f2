"""The domain's understanding of incoming mail: parsing, Message-IDs, quotes and mail rules.

Standard library only (`email`, `html.parser`); no network, no IMAP, SMTP or
Telegram. The mail worker fetches raw bytes, calls `parse_mail`, and asks the
rules what to do:

    message_id = stored_message_id(raw)          # what parse_mail will say, from the headers
    mail = parse_mail(raw)                       # MailParseError only for empty input
    reason = automatic_reason(mail, ours)        # None: a person wrote it
    topics = self_help_topics(mail)              # e.g. ["forgotten_password"]
"""

from core.mail.charset import decode_bytes, decode_header_value
from core.mail.html_text import html_to_text
from core.mail.message_id import (
    is_stand_in,
    normalise_message_id,
    parent_references,
    replied_ids,
    stored_message_id,
)
from core.mail.parse import (
    Attachment,
    DeliveryStatus,
    MailParseError,
    ParsedMail,
    parse_mail,
)
from core.mail.quotes import REPLY_ABOVE_MARKER, forward_context, strip_quoted
from core.mail.rules import (
    AUTOMATIC_CHECKS,
    SELF_HELP_TOPICS,
    MailContext,
    automatic_reason,
    bounced_message_id,
    is_bounce,
    is_out_of_office,
    self_help_topics,
)
from core.mail.text import SUBJECT_MAX, answer_subject, fold, shorten

__all__ = [
    "AUTOMATIC_CHECKS",
    "REPLY_ABOVE_MARKER",
    "SELF_HELP_TOPICS",
    "SUBJECT_MAX",
    "Attachment",
    "DeliveryStatus",
    "MailContext",
    "MailParseError",
    "ParsedMail",
    "answer_subject",
    "automatic_reason",
    "bounced_message_id",
    "decode_bytes",
    "decode_header_value",
    "fold",
    "forward_context",
    "html_to_text",
    "is_bounce",
    "is_out_of_office",
    "is_stand_in",
    "normalise_message_id",
    "parent_references",
    "parse_mail",
    "replied_ids",
    "self_help_topics",
    "shorten",
    "stored_message_id",
    "strip_quoted",
]
