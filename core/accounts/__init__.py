"""Portal accounts: registration with proof, activation and reset codes, login.

Every rule of docs/product.md's account flows lives here once; the chat (and the
mail worker, for re-sending codes) call these functions and turn the outcomes
into their own texts. The package reads in the order of a customer's way in:

- `rules`: the policy, the forms of names, addresses and codes, times, and what
  a wrong guess costs (`core.throttle`);
- `registration`: the proof of a customer account and the new account;
- `codes`: activation and reset codes, mailed, asked for again, checked, used;
- `sessions`: logging in and out, the current login, changing the password;
- `notices`: written copies mailed to the account's owner.
"""

from core.accounts.codes import (
    CodeMailer,
    CodeOutcome,
    CodeResult,
    NewCode,
    activate,
    check_code,
    find_for_reset,
    issue_new_code,
    request_activation_code,
    request_reset_code,
    reset_password,
    send_new_code,
)
from core.accounts.notices import mail_change_request
from core.accounts.registration import (
    RegisterOutcome,
    RegisterResult,
    Registration,
    canonical_customer_id,
    outdated_invoice_year,
    parse_typed_customer_id,
    register,
    registration_locked,
    username_free,
)
from core.accounts.rules import (
    ACTIVATION_PREFIX,
    BUDAPEST,
    CODE_ALPHABET,
    CODE_LENGTH,
    RESET_PREFIX,
    Policy,
    email_ok,
    find_by_username,
    hash_code,
    local_time,
    looks_like_code,
    new_code,
    normalise_code,
    normalise_username,
    username_key,
    username_looks,
    username_problem,
    wait_minutes,
)
from core.accounts.sessions import (
    CHOICE_SECONDS,
    LoginOutcome,
    LoginResult,
    SessionState,
    change_password,
    check_current_password,
    current_account,
    enter_chosen,
    login,
    logout,
)

__all__ = [
    "ACTIVATION_PREFIX",
    "BUDAPEST",
    "CHOICE_SECONDS",
    "CODE_ALPHABET",
    "CODE_LENGTH",
    "RESET_PREFIX",
    "CodeMailer",
    "CodeOutcome",
    "CodeResult",
    "LoginOutcome",
    "LoginResult",
    "NewCode",
    "Policy",
    "RegisterOutcome",
    "RegisterResult",
    "Registration",
    "SessionState",
    "activate",
    "canonical_customer_id",
    "change_password",
    "check_code",
    "check_current_password",
    "current_account",
    "email_ok",
    "enter_chosen",
    "find_by_username",
    "find_for_reset",
    "hash_code",
    "issue_new_code",
    "local_time",
    "login",
    "logout",
    "looks_like_code",
    "mail_change_request",
    "new_code",
    "normalise_code",
    "normalise_username",
    "outdated_invoice_year",
    "parse_typed_customer_id",
    "register",
    "registration_locked",
    "request_activation_code",
    "request_reset_code",
    "reset_password",
    "send_new_code",
    "username_free",
    "username_key",
    "username_looks",
    "username_problem",
    "wait_minutes",
]
