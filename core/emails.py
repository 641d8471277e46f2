"""E-mail addresses as people type them: checked once, at the door, before anything is kept.

A homemade pattern let through addresses the mailer then refused or sent
elsewhere (a NUL byte in the local part, `a[b@…`, `nev:b@…` that the mail
library reads as a group and mails to `b@…`). The check is
`email-validator`'s RFC 5321/5322 syntax check, with no DNS look-up (the bot
must answer without network access, and a domain that does not resolve today
may tomorrow):

- one bare address, no display name, no quoted local part, no IP literal;
- an ASCII local part (an internationalised one needs SMTPUTF8, which not
  every server offers); a domain with accents is kept in its ASCII (IDNA)
  form, which every server accepts;
- at most 254 characters, the domain with a dot, no reserved name
  (`localhost`, `.test`, `.invalid`, …);
- no `=?` in it: valid syntax, but the mail library reads `=?utf-8?q?evil?=@…`
  as an RFC 2047 encoded word and mails `evil@…`, or another address it
  decodes to (found by the attacker trial).

The address kept is the normalised one (domain in lower case), so the outbox
mails exactly what was checked.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254  # RFC 5321's limit on a path, which every address must fit


def normalised_email(text: str) -> str | None:
    """The address to keep and mail, or None when `text` is not one usable address.

    Surrounding spaces are ignored; anything else that is not plain address
    syntax (spaces inside, control characters, brackets, a second `@`, a
    display name) makes it None.
    """
    candidate = text.strip()
    if not candidate or len(candidate) > MAX_LENGTH:
        return None
    try:
        checked = validate_email(
            candidate,
            check_deliverability=False,  # no DNS: the chat answers at once, offline too
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError:
        return None
    address = checked.ascii_email  # not None: an internationalised local part was refused
    if address is None or len(address) > MAX_LENGTH or "=?" in address:
        return None
    return address


def email_ok(text: str) -> bool:
    """Whether `text` is one usable e-mail address (see `normalised_email`)."""
    return normalised_email(text) is not None
