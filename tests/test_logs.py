"""Every log record is redacted of secrets, whatever logged it and at every level."""

from __future__ import annotations

import logging

import pytest

from launcher.logs import install_redaction, redact

# (what a log line may hold, the secret in it)
SECRETS = [
    ("xoxb-1234-5678-abcdEFGH", "abcdEFGH"),
    ("xoxp-1-2-3-abcUser", "abcUser"),
    ("xapp-1-A0123-456-abcdef", "abcdef"),
    ("abt_Z3J1bnQtdG9rZW4tdmFsdWU", "Z3J1bnQtdG9rZW4tdmFsdWU"),
    (
        "http://localhost:8000/bind/q9Vd1s2Jk3Lm4No5Pq6Rs7Tu8Vw9Xy0Za1Bc2De3Fg4",
        "q9Vd1s2Jk3Lm4No5Pq6Rs7Tu8Vw9Xy0Za1Bc2De3Fg4",
    ),
    ("https://hooks.slack.com/commands/T0123ABC/1234567890/AbCdEf123456", "AbCdEf123456"),
    ("Authorization: Bearer some-opaque-token", "some-opaque-token"),
    ("Authorization: Basic Y29tcGFueS1hcGk6czNjcjN0", "Y29tcGFueS1hcGk6czNjcjN0"),
    ("token=abt_x&client_id=company-api&client_secret=s3cr3t-value", "s3cr3t-value"),
    ("wss://wss-primary.slack.com/link/?ticket=9f8e7d6c-5b4a&app_id=A1", "9f8e7d6c-5b4a"),
    ('{"token": "verification-token-value"}', "verification-token-value"),
    ("{'response_url': 'https://example.invalid/anything'}", "example.invalid/anything"),
    (
        '"GET /login/callback?code=AuthCode-123_x&state=State-456_y HTTP/1.1" 303',
        "AuthCode-123_x",
    ),
    ("GET /grant/callback?state=State-456_y&code=c0de&iss=http%3A%2F%2Fidp", "State-456_y"),
    ("grant_type=refresh_token&refresh_token=rT-9aB_cD", "rT-9aB_cD"),
    ("code=abc&code_verifier=V3rif1er-value", "V3rif1er-value"),
    ('{"access_token": "at-123", "token_type": "Bearer"}', "at-123"),
    ('{"id_token": "eyJhbGciOi.eyJzdWIi.sig", "expires_in": 3600}', "eyJhbGciOi.eyJzdWIi.sig"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_each_kind_of_secret_is_redacted(text: str, secret: str) -> None:
    redacted = redact(f"before {text} after")
    assert secret not in redacted and "[redacted]" in redacted, redacted
    assert redacted.startswith("before ") and redacted.endswith(" after")


def test_records_and_tracebacks_of_any_logger_are_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_redaction()
    logger = logging.getLogger("some.library")
    with caplog.at_level(logging.DEBUG):
        logger.debug("sending %s", "xoxb-1234-5678-abcdEFGH")
        try:
            raise RuntimeError("failed with abt_Z3J1bnQtdG9rZW4tdmFsdWU")
        except RuntimeError:
            logger.exception("oops")
    assert "abcdEFGH" not in caplog.text and "Z3J1bnQ" not in caplog.text
    assert caplog.text.count("[redacted]") >= 2


# Issue 11's CI: "/metrics answers only the bearer token …" and the link_disabled advice's
# "Basic Information > App-Level Tokens" reached the operator as "bearer [redacted]" and
# "Basic [redacted]": the redaction took the product's own words for a credential.
PRODUCT_PACKAGES = ("account_binding", "bolt_app", "launcher", "monitoring", "web")
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def _log_texts() -> list[tuple[str, str]]:
    """(where, text) of every literal a product module hands to a logger: the message of
    each `<logger>.<level>(...)` call, whether written in place or as a module constant."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found: list[tuple[str, str]] = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants = {
                target.id: node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for call in ast.walk(tree):
                if not (
                    isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr in LOG_METHODS
                    and isinstance(call.func.value, ast.Name)
                    and "log" in call.func.value.id.lower()
                    and call.args
                ):
                    continue
                message = call.args[1 if call.func.attr == "log" else 0]
                where = f"{path.relative_to(root)}:{call.lineno}"
                if isinstance(message, ast.Constant) and isinstance(message.value, str):
                    found.append((where, message.value))
                elif isinstance(message, ast.Name) and message.id in constants:
                    found.append((where, constants[message.id]))
                elif isinstance(message, ast.JoinedStr):
                    found.extend(
                        (where, part.value)
                        for part in message.values
                        if isinstance(part, ast.Constant) and isinstance(part.value, str)
                    )
    return found


def test_the_products_own_log_messages_survive_the_redaction() -> None:
    texts = _log_texts()
    assert len(texts) > 200, "the scan found too few log calls to be reading the product"
    assert any("Basic Information" in text for _, text in texts)  # the advice is scanned
    mangled = [(where, text) for where, text in texts if redact(text) != text]
    assert mangled == []


def test_the_slack_pages_name_is_kept_but_a_basic_credential_is_not() -> None:
    assert redact("Basic Information > App-Level Tokens") == "Basic Information > App-Level Tokens"
    assert "SW5mb3JtYXRpb24" not in redact("Authorization: Basic SW5mb3JtYXRpb24=")
    assert "Informationx" not in redact("Authorization: Basic Informationx")
