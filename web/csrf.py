"""CSRF tokens for every form that changes state.

A logged-in form carries the session's CSRF token. The login form, before any session
exists, uses a double-submit token: a random cookie (`web.cookies.LOGIN_CSRF`) that the form
must repeat.
"""

from __future__ import annotations

import hmac

from starlette.exceptions import HTTPException

from account_binding.tokens import new_secret

FIELD = "csrf_token"


def check(expected: str | None, submitted: object) -> None:
    if (
        not expected
        or not isinstance(submitted, str)
        or not hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace"))
    ):
        raise HTTPException(
            403,
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again.",
        )


def new_login_token() -> str:
    return new_secret()
