"""The catalog of the defence-removal check: each defence of SECURITY.md, and how to take it out.

Each Removal names its row of SECURITY.md's "Attacks and defences" table (the bold attack
name), says what it removes, and gives the smallest exact text of one file whose replacement
removes that defence and nothing else (`python -m tools.defence_check` explains the rest).
When the code changes, an entry whose text is gone is reported as stale: update its text to
the code's new shape; never drop a defence from the catalog to make the check pass.
"""

from __future__ import annotations

from tools.defence_check import Removal

FORWARDED = "Forwarded link"
EMAIL_POLICY = "Forwarded link, where policy demands more"
SWAPPED = "Link swapped under the confirm page"
POSTED = "Link posted where others see it"
REPLAYED = "Replayed link"
LATE = "Late link"
OLDER = "Older links lying around"
GUESSED = "Guessed link"
LEAKED = "Link leaked by history, Referer or logs"
SHARED_BROWSER = "Pending link left in a shared browser"
DATABASE_COPY = "Database copy"
CSRF = "CSRF"
LOGIN_CSRF = "Login CSRF with a planted cookie"
FORGED_HOST = "Forged Host header"
OPEN_REDIRECT = "Open redirect"
FIXATION = "Session fixation"
THEFT = "Session theft"
CLICKJACKING = "Clickjacking"
LONG_SESSIONS = "Long-lived or abandoned sessions"
GUESSING = "Password guessing"
ENUMERATION = "Account enumeration"
STOLEN_HASHES = "Stolen password hashes"
TYPED_NAMES = "Passwords typed into the user name field"
OLD_TOKEN = "Stolen or old API token"  # noqa: S105 - a row of SECURITY.md
OTHERS_DATA = "Reading another user's data"
HOSTILE_INPUT = "Hostile input"
MRKDWN = "Mrkdwn injection"
SECRETS_IN_LOGS = "Secrets in logs or error pages"
GRID = "Identity confusion on Enterprise Grid"
ABUSE = "Undetected abuse"

REMOVALS = [
    # Forwarded link
    Removal(
        FORWARDED,
        "the confirm page does not name the Slack person",
        "web/templates/confirm.html",
        "<strong>{{ slack_name }}</strong>",
        "<strong></strong>",
    ),
    Removal(
        FORWARDED,
        "Cancel does not void the link",
        "account_binding/binding.py",
        "        await self._store.void_binding_request(digest(nonce), self._clock())\n"
        "        await self._audit.record(\n"
        "            AuditEvent.LINK_CANCELLED",
        "        await self._audit.record(\n            AuditEvent.LINK_CANCELLED",
    ),
    Removal(
        FORWARDED,
        "no DM to the Slack person at a bind",
        "bolt_app/notifications.py",
        "await self._send(binding, messages.bound_dm(self._app_name, user.username))",
        "pass",
    ),
    Removal(
        FORWARDED,
        "no DM to the Slack person at an unbind",
        "bolt_app/notifications.py",
        "await self._send(binding, messages.unbound_dm(self._app_name))",
        "pass",
    ),
    Removal(
        FORWARDED,
        "the home page lists no Slack accounts",
        "web/home.py",
        "bindings = await services.bindings.bindings_of(current.user) if current else []",
        "bindings = []",
    ),
    # Forwarded link, where policy demands more
    Removal(
        EMAIL_POLICY,
        "REQUIRE_EMAIL_MATCH compares no email",
        "account_binding/binding.py",
        "if not slack_email or slack_email != user.email.strip().lower():",
        "if False:",
    ),
    Removal(
        EMAIL_POLICY,
        "a mismatch leaves the link usable",
        "account_binding/binding.py",
        "                await self._store.void_binding_request(digest(nonce), self._clock())\n"
        "                error = EmailMismatch",
        "                error = EmailMismatch",
    ),
    Removal(
        EMAIL_POLICY,
        "the start does not check the users:read.email scope",
        "launcher/slack_check.py",
        'if needs_email and scopes is not None and EMAIL_SCOPE not in scopes.split(","):',
        "if False:",
    ),
    # Link swapped under the confirm page
    Removal(
        SWAPPED,
        "Connect does not compare the link the page showed",
        "web/binding_pages.py",
        "not hmac.compare_digest(\n        shown.encode(), digest(nonce).encode()\n    )",
        "False",
    ),
    # Link posted where others see it
    Removal(
        POSTED,
        "the link reply is posted in the channel",
        "bolt_app/listeners/commands/app_command.py",
        'await ack(text=reply.text, blocks=reply.blocks, response_type="ephemeral")',
        'await ack(text=reply.text, blocks=reply.blocks, response_type="in_channel")',
    ),
    # Replayed link
    Removal(
        REPLAYED,
        "the store consumes a used link again",
        "account_binding/sqlite_store.py",
        '"WHERE nonce_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING *",',
        '"WHERE nonce_hash = ? AND expires_at > ? RETURNING *",',
    ),
    Removal(
        REPLAYED,
        "a Slack identity can be bound twice",
        "account_binding/sqlite_store.py",
        "                if bound is not None:\n                    raise AlreadyBound()",
        "                if False:\n                    raise AlreadyBound()",
    ),
    # Late link
    Removal(
        LATE,
        "opening does not check expiry",
        "account_binding/binding.py",
        "if request.expires_at <= self._clock():",
        "if False:",
    ),
    Removal(
        LATE,
        "the store confirms an expired link",
        "account_binding/sqlite_store.py",
        "AND used_at IS NULL AND expires_at > ? RETURNING *",
        "AND used_at IS NULL AND ? > 0 RETURNING *",
    ),
    Removal(
        LATE,
        "expired links are never purged",
        "account_binding/sqlite_store.py",
        '"DELETE FROM binding_requests WHERE expires_at < ?"',
        '"DELETE FROM binding_requests WHERE 0 AND expires_at < ?"',
    ),
    # Older links lying around
    Removal(
        OLDER,
        "a new link leaves the older ones usable",
        "account_binding/sqlite_store.py",
        '"WHERE scope_id = ? AND slack_user_id = ? AND used_at IS NULL",',
        '"WHERE 0 AND scope_id = ? AND slack_user_id = ? AND used_at IS NULL",',
    ),
    # Guessed link
    Removal(
        GUESSED,
        "secrets of 64 bits instead of 256",
        "account_binding/tokens.py",
        "SECRET_BYTES = 32  # 256 bits",
        "SECRET_BYTES = 8",
    ),
    Removal(
        GUESSED,
        "an unknown link is answered like a used one (410), not 404",
        "web/binding_pages.py",
        "404 if isinstance(error, LinkNotFound) else",
        "410 if isinstance(error, LinkNotFound) else",
    ),
    # Link leaked by history, Referer or logs
    Removal(
        LEAKED,
        "the link page stays at /bind/<nonce> instead of redirecting",
        "web/binding_pages.py",
        "response = RedirectResponse(LINK_PATH, status_code=303)",
        "response = RedirectResponse(str(request.url.path), status_code=303)",
    ),
    Removal(
        LEAKED,
        "the link cookie is readable by script",
        "web/binding_pages.py",
        "        path=LINK_PATH,\n        httponly=True,",
        "        path=LINK_PATH,\n        httponly=False,",
    ),
    Removal(
        LEAKED,
        "the link cookie is sent to every path",
        "web/binding_pages.py",
        "        max_age=bindings.seconds_left(pending),\n        path=LINK_PATH,",
        '        max_age=bindings.seconds_left(pending),\n        path="/",',
    ),
    Removal(
        LEAKED,
        "no Referrer-Policy",
        "web/security_headers.py",
        'headers.setdefault("Referrer-Policy", "no-referrer")',
        "pass",
    ),
    Removal(
        LEAKED,
        "links are not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"/bind/[A-Za-z0-9_-]{16,}"), "/bind/[redacted]"),',
        "",
    ),
    Removal(
        LEAKED,
        "API tokens are not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"\\babt_[A-Za-z0-9_-]+"), "abt_[redacted]"),',
        "",
    ),
    Removal(
        LEAKED,
        "response_urls are not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"/commands/[A-Z0-9]+/[0-9]+/[A-Za-z0-9]+"), "/commands/[redacted]"),',
        "",
    ),
    Removal(
        LEAKED,
        "bearer headers are not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"(Bearer\\s+)[^\\s\'\\",]+", re.IGNORECASE), r"\\1[redacted]"),',
        "",
    ),
    Removal(
        LEAKED,
        "tracebacks are not redacted",
        "launcher/logs.py",
        "record.exc_text = redact(logging.Formatter().formatException(record.exc_info))",
        "pass",
    ),
    # Pending link left in a shared browser
    Removal(
        SHARED_BROWSER,
        "logout keeps the pending link",
        "web/auth.py",
        '    response.delete_cookie("binding_link", path="/bind")\n',
        "",
    ),
    # Database copy
    Removal(
        DATABASE_COPY,
        "the API token is stored in clear for the Slack side",
        "account_binding/binding.py",
        "                self._cipher.encrypt(api_token),\n",
        "                api_token,\n",
    ),
    Removal(
        DATABASE_COPY,
        "the token key does not depend on SECRET_KEY",
        "account_binding/crypto.py",
        ".derive(secret_key.encode())",
        '.derive(b"the same key for every installation")',
    ),
    Removal(
        DATABASE_COPY,
        "sessions are stored by their ID, not its hash",
        "account_binding/sessions.py",
        "digest(token), user_id, new_secret(), self._clock(), link_hash",
        "token, user_id, new_secret(), self._clock(), link_hash",
    ),
    Removal(
        DATABASE_COPY,
        "nonces are stored in clear",
        "account_binding/binding.py",
        "await self._store.add_binding_request(digest(nonce), identity,",
        "await self._store.add_binding_request(nonce, identity,",
    ),
    Removal(
        DATABASE_COPY,
        "passwords are stored in clear",
        "account_binding/passwords.py",
        "def hash_password(password: str) -> str:\n    return _hasher.hash(password)",
        "def hash_password(password: str) -> str:\n    return password",
    ),
    # CSRF
    Removal(
        CSRF,
        "Connect and Cancel take no CSRF token",
        "web/binding_pages.py",
        "    csrf.check(current.session.csrf_token, form.get(csrf.FIELD))\n",
        "",
    ),
    Removal(
        CSRF,
        "CSRF tokens are not compared, only required",
        "web/csrf.py",
        '        or not hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace"))\n',
        "",
    ),
    Removal(
        CSRF,
        "the login form's double-submit token is not compared with its cookie",
        "web/auth.py",
        "csrf.check(request.cookies.get(csrf.LOGIN_CSRF_COOKIE), form.get(csrf.FIELD))",
        "csrf.check(request.cookies.get(csrf.LOGIN_CSRF_COOKIE), "
        "request.cookies.get(csrf.LOGIN_CSRF_COOKIE))",
    ),
    Removal(
        CSRF,
        "logout accepts any non-empty token",
        "web/auth.py",
        "        csrf.check(current.session.csrf_token, form.get(csrf.FIELD))\n        token =",
        "        csrf.check(current.session.csrf_token, current.session.csrf_token "
        "if form.get(csrf.FIELD) else None)\n        token =",
    ),
    Removal(
        CSRF,
        "the CSRF token is the session ID",
        "account_binding/sessions.py",
        "digest(token), user_id, new_secret(), self._clock(), link_hash",
        "digest(token), user_id, token, self._clock(), link_hash",
    ),
    Removal(
        CSRF,
        "the API accepts a session cookie",
        "web/internal_api.py",
        '    if scheme.lower() != "bearer" or not token:\n        return None\n',
        '    if scheme.lower() != "bearer" or not token:\n'
        "        from .auth import logged_in\n\n"
        "        current = await logged_in(request)\n"
        "        return current.user if current else None\n",
    ),
    Removal(
        THEFT,
        "the session cookie is sent on cross-site requests (SameSite=None)",
        "web/auth.py",
        'SESSION_COOKIE, token, httponly=True, samesite="lax"',
        'SESSION_COOKIE, token, httponly=True, samesite="none"',
    ),
    # Login CSRF with a planted cookie
    Removal(
        LOGIN_CSRF,
        "Sec-Fetch-Site is not checked",
        "web/auth.py",
        'if fetch_site not in ("same-origin", "none"):',
        "if False:",
    ),
    Removal(
        LOGIN_CSRF,
        "Origin is not checked",
        "web/auth.py",
        "    if origin not in own:\n",
        "    if False:\n",
    ),
    # Forged Host header
    Removal(
        FORGED_HOST,
        "the site answers any Host",
        "web/app.py",
        'allowed_hosts=allowed_hosts or ["*"]',
        'allowed_hosts=["*"]',
    ),
    Removal(
        FORGED_HOST,
        "the sandbox page answers any host name",
        "fake_slack/sandbox_page.py",
        'if is_page and request.url.host not in ("127.0.0.1", "localhost", "::1"):',
        "if False:",
    ),
    Removal(
        FORGED_HOST,
        "the sandbox page takes posts from other sites",
        "fake_slack/sandbox_page.py",
        'return web.Response(status=403, text="This form did not come from the sandbox page.")',
        "pass",
    ),
    # Open redirect
    Removal(
        OPEN_REDIRECT,
        "login returns to any address",
        "web/auth.py",
        'if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):\n'
        '        return "/"\n',
        'if not isinstance(value, str):\n        return "/"\n    return value\n',
    ),
    Removal(
        OPEN_REDIRECT,
        "login returns to /\\host (read as //host by browsers)",
        "web/auth.py",
        'if "\\\\" in value or any(',
        "if False and any(",
    ),
    Removal(
        OPEN_REDIRECT,
        "GET /login when logged in redirects to any address",
        "web/auth.py",
        'return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)',
        'return RedirectResponse(str(request.query_params.get("next") or "/"), status_code=303)',
    ),
    # Session fixation
    Removal(
        FIXATION,
        "a planted session is not ended at login",
        "web/auth.py",
        "    if old:\n        await services.sessions.end(old)\n",
        "",
    ),
    # Session theft
    Removal(
        THEFT,
        "the session cookie is readable by script",
        "web/auth.py",
        "SESSION_COOKIE, token, httponly=True,",
        "SESSION_COOKIE, token, httponly=False,",
    ),
    Removal(
        THEFT,
        "the session cookie is not Secure under https",
        "web/auth.py",
        'samesite="lax", secure=services.secure_cookies',
        'samesite="lax", secure=False',
    ),
    Removal(
        THEFT,
        "no HSTS under https",
        "web/security_headers.py",
        'headers.setdefault("Strict-Transport-Security", "max-age=31536000")',
        "pass",
    ),
    Removal(
        THEFT,
        "the Content-Security-Policy allows script",
        "web/security_headers.py",
        "\"default-src 'none'; style-src",
        "\"default-src 'self' 'unsafe-inline'; script-src 'self'; style-src",
    ),
    # Clickjacking
    Removal(
        CLICKJACKING,
        "no frame-ancestors in the Content-Security-Policy",
        "web/security_headers.py",
        "\"frame-ancestors 'none'; base-uri 'none'\"",
        "\"base-uri 'none'\"",
    ),
    Removal(
        CLICKJACKING,
        "no X-Frame-Options",
        "web/security_headers.py",
        'headers.setdefault("X-Frame-Options", "DENY")',
        "pass",
    ),
    # Long-lived or abandoned sessions
    Removal(
        LONG_SESSIONS,
        "no idle timeout",
        "account_binding/sessions.py",
        "now - session.last_seen_at > self._idle_timeout\n            or",
        "False\n            or",
    ),
    Removal(
        LONG_SESSIONS,
        "no maximum age",
        "account_binding/sessions.py",
        "or now - session.created_at > self._max_age",
        "or False",
    ),
    Removal(
        LONG_SESSIONS,
        "logout leaves the session valid on the server",
        "web/auth.py",
        "        if token:\n            await services_of(request).sessions.end(token)\n",
        "",
    ),
    Removal(
        LONG_SESSIONS,
        "a new password leaves the user's sessions valid",
        "account_binding/accounts.py",
        "await self._store.delete_sessions_of(user.id)",
        "pass",
    ),
    Removal(
        LONG_SESSIONS,
        "SessionService.purge deletes nothing",
        "account_binding/sessions.py",
        "await self._store.purge_sessions(now - self._idle_timeout, now - self._max_age)",
        "pass",
    ),
    Removal(
        LONG_SESSIONS,
        "the store's session purge deletes nothing",
        "account_binding/sqlite_store.py",
        '"DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?",',
        '"DELETE FROM sessions WHERE 0 AND (last_seen_at < ? OR created_at < ?)",',
    ),
    Removal(
        LONG_SESSIONS,
        "the app's purger does not purge sessions",
        "launcher/compose.py",
        "            await sessions.purge()\n",
        "",
    ),
    # Password guessing
    Removal(
        GUESSING,
        "failures are not slowed",
        "account_binding/login.py",
        "await asyncio.sleep(min(self._limits.slowdown_seconds * failures, MAX_SLOWDOWN_SECONDS))",
        "pass",
    ),
    Removal(
        GUESSING,
        "no limit per user name",
        "account_binding/login.py",
        "limits = {account_key: self._limits.max_failures_per_account}",
        "limits = {account_key: 10**9}",
    ),
    Removal(
        GUESSING,
        "no limit per address",
        "account_binding/login.py",
        'limits["address:" + client] = self._limits.max_failures_per_address',
        'limits["address:" + client] = 10**9',
    ),
    Removal(
        GUESSING,
        "attempts are checked before they are counted, not in one transaction",
        "account_binding/login.py",
        "        attempt = await self._store.reserve_login_attempt(\n"
        "            limits, now, now - self._limits.lockout_seconds\n"
        "        )\n"
        "        if attempt is None:\n"
        "            await self._audit.record(\n"
        '                AuditEvent.LOCKED_OUT, await self._actor(name, client), detail="refused"\n'
        "            )\n"
        "            raise LoginLocked(self._limits.lockout_seconds)\n"
        "\n"
        "        user = await self._accounts.authenticate(username, password)\n",
        "        since = now - self._limits.lockout_seconds\n"
        "        counts = {key: await self._store.count_login_failures(key, since) for key in limits}\n"
        "        attempt: list[int] | None = []\n"
        "        if any(counts[key] >= limit for key, limit in limits.items()):\n"
        "            await self._audit.record(\n"
        '                AuditEvent.LOCKED_OUT, await self._actor(name, client), detail="refused"\n'
        "            )\n"
        "            raise LoginLocked(self._limits.lockout_seconds)\n"
        "\n"
        "        user = await self._accounts.authenticate(username, password)\n"
        "        if user is None:  # the failure is counted only now, after the check\n"
        "            await self._store.reserve_login_attempt({k: 10**9 for k in limits}, now, now)\n",
    ),
    Removal(
        GUESSING,
        "a lockout never ends",
        "account_binding/login.py",
        "limits, now, now - self._limits.lockout_seconds",
        "limits, now, 0",
    ),
    Removal(
        GUESSING,
        "no cap on concurrent argon2 runs",
        "account_binding/accounts.py",
        "_HASHING = anyio.CapacityLimiter(2)",
        "_HASHING = anyio.CapacityLimiter(1000)",
    ),
    Removal(
        GUESSING,
        "the throttle counts `Ada`, ` ada ` and `ADA` as three names",
        "account_binding/login.py",
        "name = normalise_username(username)[:64]",
        "name = username[:64]",
    ),
    # Account enumeration
    Removal(
        ENUMERATION,
        "an unknown user name skips the argon2 verification",
        "account_binding/accounts.py",
        "ok = await anyio.to_thread.run_sync(",
        "ok = stored_hash is not None and await anyio.to_thread.run_sync(",
    ),
    Removal(
        ENUMERATION,
        "a wrong user name gets its own message",
        "web/auth.py",
        "    except LoginFailed as error:\n        return _login_form(\n"
        "            request, next_path=next_path, error=str(error),",
        "    except LoginFailed as error:\n        return _login_form(\n"
        "            request, next_path=next_path, error=str(error) if "
        "await services.accounts.find(username) else 'No such user.',",
    ),
    # Stolen password hashes
    Removal(
        STOLEN_HASHES,
        "old hashes are not rehashed at login",
        "account_binding/accounts.py",
        "if needs_rehash(password_hash):",
        "if False:",
    ),
    # Passwords typed into the user name field
    Removal(
        TYPED_NAMES,
        "typed names that match no account go to the audit log",
        "account_binding/login.py",
        "        return Actor(user=user, client=client)\n",
        "        return Actor(user=user, client=client, username=name)\n",
    ),
    Removal(
        TYPED_NAMES,
        "typed names are kept in clear in the throttle",
        "account_binding/login.py",
        'account_key = "user:" + digest(name)',
        'account_key = "user:" + name',
    ),
    # Stolen or old API token
    Removal(
        OLD_TOKEN,
        "unbinding does not revoke the token",
        "account_binding/sqlite_store.py",
        '"UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",',
        '"UPDATE api_tokens SET revoked_at = ? WHERE 0 AND id = ? AND revoked_at IS NULL",',
    ),
    Removal(
        OLD_TOKEN,
        "a revoked token still works",
        "account_binding/sqlite_store.py",
        '"WHERE api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL",',
        '"WHERE api_tokens.token_hash = ?",',
    ),
    Removal(
        OLD_TOKEN,
        "a token under another scheme than Bearer is accepted",
        "web/internal_api.py",
        'if scheme.lower() != "bearer" or not token:',
        "if not token:",
    ),
    Removal(
        OLD_TOKEN,
        "an over-long token is looked up",
        "account_binding/api_tokens.py",
        "if not token.startswith(API_TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:",
        "if not token.startswith(API_TOKEN_PREFIX):",
    ),
    # Reading another user's data
    Removal(
        OTHERS_DATA,
        "completing a to-do item is not scoped to the token's user",
        "account_binding/sqlite_store.py",
        '"UPDATE todos SET done = 1 WHERE id = ? AND user_id = ? RETURNING *",',
        '"UPDATE todos SET done = 1 WHERE id = ? AND ? > 0 RETURNING *",',
    ),
    Removal(
        OTHERS_DATA,
        "listing to-do items is not scoped to the token's user",
        "account_binding/sqlite_store.py",
        '"SELECT * FROM todos WHERE user_id = ? ORDER BY id"',
        '"SELECT * FROM todos WHERE ? > 0 ORDER BY id"',
    ),
    # Hostile input
    Removal(
        HOSTILE_INPUT,
        "control characters and lone surrogates are accepted",
        "account_binding/text.py",
        "return _UNACCEPTABLE.search(value) is None",
        "return True",
    ),
    Removal(
        HOSTILE_INPUT,
        "form fields of any length are accepted",
        "web/auth.py",
        "if not isinstance(value, str) or len(value) > MAX_FIELD_LENGTH:",
        "if not isinstance(value, str):",
    ),
    Removal(
        HOSTILE_INPUT,
        "deeply nested JSON is not caught",
        "web/internal_api.py",
        "except (ValueError, RecursionError):",
        "except ValueError:",
    ),
    Removal(
        HOSTILE_INPUT,
        "a to-do ID too large for SQLite reaches the database",
        "web/internal_api.py",
        "if todo_id < 2**31 else None",
        "if True else None",
    ),
    # Mrkdwn injection
    Removal(
        MRKDWN,
        "nothing is escaped",
        "bolt_app/messages.py",
        'return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")',
        "return text",
    ),
    Removal(
        MRKDWN,
        "to-do titles in the list are not escaped",
        "bolt_app/messages.py",
        'lines = [f"☐ *#{t.id}* {escape(t.title)}" for t in open_items]',
        'lines = [f"☐ *#{t.id}* {t.title}" for t in open_items]',
    ),
    Removal(
        MRKDWN,
        "an unknown subcommand is echoed unescaped in the help",
        "bolt_app/messages.py",
        "Sorry, I don't know `{escape(unknown)}`.",
        "Sorry, I don't know `{unknown}`.",
    ),
    Removal(
        MRKDWN,
        "error replies are not escaped",
        "bolt_app/messages.py",
        'blocks=[_section(f":warning: {escape(message)}")]',
        'blocks=[_section(f":warning: {message}")]',
    ),
    # Secrets in logs or error pages
    Removal(
        SECRETS_IN_LOGS,
        "Slack bot and user tokens are not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"\\b(xox[a-z])-[A-Za-z0-9-]+"), r"\\1-[redacted]"),',
        "",
    ),
    Removal(
        SECRETS_IN_LOGS,
        "the Slack app-level token is not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"\\bxapp-[A-Za-z0-9-]+"), "xapp-[redacted]"),',
        "",
    ),
    # Identity confusion on Enterprise Grid
    Removal(
        GRID,
        "the identity is the workspace even on Grid",
        "account_binding/models.py",
        "scope_id=enterprise_id or team_id,",
        "scope_id=team_id,",
    ),
    # Undetected abuse
    Removal(
        ABUSE,
        "binds are not audited",
        "account_binding/binding.py",
        "await self._audit.record(AuditEvent.BOUND, actor, binding.identity)",
        "pass",
    ),
    Removal(
        ABUSE,
        "refused links are not audited",
        "account_binding/binding.py",
        "            await self._refused(error, actor, request.identity if request else None)\n",
        "",
    ),
    Removal(
        ABUSE,
        "cancellations are not audited",
        "account_binding/binding.py",
        "        await self._audit.record(\n"
        "            AuditEvent.LINK_CANCELLED, actor, request.identity if request else None\n"
        "        )\n",
        "",
    ),
    Removal(
        ABUSE,
        "logouts are not audited",
        "web/auth.py",
        "        await services_of(request).audit.record(\n"
        "            AuditEvent.LOGOUT, Actor(user=current.user, client=client_address(request))\n"
        "        )\n",
        "",
    ),
    Removal(
        ABUSE,
        "failed logins are not audited",
        "account_binding/login.py",
        "await self._audit.record(AuditEvent.LOGIN_FAILED, actor)",
        "pass",
    ),
]
