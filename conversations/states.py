"""The dialogue's states, named (values are what the persistence stores)."""

REG_EMAIL = "reg_email"
REG_USERNAME = "reg_username"
REG_PASSWORD = "reg_password"
REG_CUSTOMER = "reg_customer"
REG_INVOICE = "reg_invoice"
REG_AMOUNT = "reg_amount"
REG_CONFIRM = "reg_confirm"

ACT_CODE = "act_code"
ACT_EMAIL = "act_email"

LOGIN_USERNAME = "login_username"
LOGIN_PASSWORD = "login_password"

FORGOT_WHO = "forgot_who"
FORGOT_CODE = "forgot_code"
FORGOT_NEW = "forgot_new"
FORGOT_AGAIN = "forgot_again"

PW_CURRENT = "pw_current"
PW_NEW = "pw_new"
PW_AGAIN = "pw_again"

REPORT_TEXT = "report_text"

# Which dialogue a state belongs to (for "you are in the middle of …" replies).
DIALOGUE_OF = {
    **dict.fromkeys(
        [REG_EMAIL, REG_USERNAME, REG_PASSWORD, REG_CUSTOMER, REG_INVOICE, REG_AMOUNT, REG_CONFIRM],
        "registration",
    ),
    **dict.fromkeys([ACT_CODE, ACT_EMAIL], "activation"),
    **dict.fromkeys([LOGIN_USERNAME, LOGIN_PASSWORD], "login"),
    **dict.fromkeys([FORGOT_WHO, FORGOT_CODE, FORGOT_NEW, FORGOT_AGAIN], "forgot"),
    **dict.fromkeys([PW_CURRENT, PW_NEW, PW_AGAIN], "password"),
    REPORT_TEXT: "report",
}
