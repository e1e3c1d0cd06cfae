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
BEYOND_REACH = "The service credential or a person's token acting beyond its reach"
HOSTILE_INPUT = "Hostile input"
MRKDWN = "Mrkdwn injection"
SECRETS_IN_LOGS = "Secrets in logs or error pages"
GRID = "Identity confusion on Enterprise Grid"
ABUSE = "Undetected abuse"
PLANTED = "Planted session"
HUGE_BODIES = "Huge or endless request bodies"
SLACK_AT_CONNECT = "Slack failing while a person presses Connect"
CHOSEN_NAMES = "Self-chosen names as identity evidence"
ENVELOPES = "Commands from outside the installation, malformed envelopes"
SLOW = "A slow database or Slack"
SANDBOX_POSTS = "Sandbox page posted from another site"
MACHINE_USERS = "Other users of the machine"
WEAK_KEY = "Weak `SECRET_KEY`"
REPRS = "Secrets in representations"
FLOODING = "Flooding writes"
SLACK_AT_BIND = "Slack failing when a bind needs it"
SECOND_ACCOUNT = "A second account with someone's email"
INTROSPECTION_CLIENTS = "Introspection by a client without the credentials"
INACTIVE_TOKENS = "A revoked or expired token taken for active"
BROKEN_PLUGIN = "A plugin that breaks"
# Issue 12, fast
POOLED_CLIENT = "One person's credential or cookie in another's request"
# Issue 10, Enterprise Grid
GRID_MERGE = "Two bindings of one Slack person on Enterprise Grid"
GRID_WORKSPACE = "Commands from another workspace of the organisation"
# Issue 10, lifecycle
SLACK_GONE = "A binding outliving its Slack workspace or person"
ACCOUNT_ENDED = "An internal account that must stop acting"
CREDENTIAL_ELSEWHERE = "A credential sent somewhere else"
SURPRISE_COMMANDS = "Commands added by surprise"
SIGN_IN_CALLBACK = "A forged, replayed or misdirected sign-in answer"
ID_TOKEN = "A forged or stale ID token"  # noqa: S105 - a row of SECURITY.md
OUTSIDERS = "People from outside the company signing in"
TAKEOVER = "An account taken over through single sign-on"
AROUND_PROXY = "Identity headers sent around the proxy"
FORWARDED_FOR_GOOD = "Forwarded link, closed for good"
OAUTH_TOKENS = "A person's OAuth tokens misused or outliving the binding"
# Issue 10, unbinding
STALE_DISCONNECT = (
    "Disconnecting someone else from Slack, or a newer connection with an old question"
)
WEB_OWNER = "Removing someone else's Slack connection on the web"
# Issue 11, outbox
UNSEEN = "A binding made unseen"
CROSS_SITE_REMOVE = "A cross-site Remove"
# Issue 10, never a dead button (helper "links")
WRONG_CLICKER = "A link button answered for the wrong person"
RESEND_ABUSE = '"Send me a new link in Slack" abused'
# Issue 10, resume
RESUMED_UNSEEN = "A command run unseen after connecting"
RESUMED_TWICE = "A resumed command run twice, or for someone else"
RESUME_URL = "A command's response_url kept or used too long"
# Issue 11, internal-api
SLOW_INTERNAL_APP = "A slow, down or failing internal application"
# Issue 10, administration
ADMIN_TERMINAL = "Terminal escapes in an administrator's listing"
SSO_PASSWORD = "A password for an account made by single sign-on"  # noqa: S105 - a row of SECURITY.md
ADMIN_PASSWORD = "An administrator's password change leaving sessions open, or unrecorded"  # noqa: S105 - a row of SECURITY.md
ADMIN_REMOVAL = "An administrator's removal reaching the wrong bindings, or done unseen"
BROAD_SCOPES = "Over-broad Slack scopes"
# Issue 11, durability
BURST = "A burst of slash commands"
# Issue 11, health
METRICS_READ = "Metrics read by anyone who can reach the site"
METRICS_IDENTIFIERS = "Identifiers or secrets in metrics and probes"
PROBE_HANGS = "A probe that hangs, or gets a healthy app restarted"

REMOVALS = [
    # Forwarded link
    Removal(
        FORWARDED,
        "the confirm page does not name the Slack person",
        "web/templates/confirm.html",
        '{% if real_name %}<li>Real name: <bdi class="name">{{ real_name | cap(80) }}</bdi></li>'
        "{% endif %}",
        "",
    ),
    Removal(
        FORWARDED,
        "the confirm page does not show the Slack user ID",
        "web/templates/confirm.html",
        "User ID <code>{{ link.identity.user_id | cap(32) }}</code>",
        "",
    ),
    Removal(
        FORWARDED,
        "Cancel does not void the link",
        "account_binding/binding.py",
        '        await self._store.void_binding_request(digest(nonce), self._clock(), "cancelled")\n'
        "        await self._audit.record(AuditEvent.LINK_CANCELLED, actor, request.identity)",
        "        await self._audit.record(AuditEvent.LINK_CANCELLED, actor, request.identity)",
    ),
    Removal(
        FORWARDED,
        "no DM to the Slack person at a bind",
        "account_binding/binding.py",
        "                notice=NoticeKind.BOUND,",
        "                notice=None,",
    ),
    Removal(
        FORWARDED,
        "no DM to the Slack person at an unbind",
        "account_binding/binding.py",
        "identity=identity, notice=NoticeKind.UNBOUND",
        "identity=identity, notice=None",
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
        "if not slack_email or slack_email != ascii_lower(user.email.strip()):",
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
        '    if not same_link(form.get("link_id"), nonce):\n        # Another link was opened',
        "    if False:\n        # Another link was opened",
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
        "web/cookies.py",
        "        httponly=True,\n        samesite=samesite,",
        "        httponly=base != LINK,\n        samesite=samesite,",
    ),
    Removal(
        LEAKED,
        "the Referrer-Policy lets the full address leave the site",
        "web/security_headers.py",
        'headers.setdefault("Referrer-Policy", "same-origin")',
        'headers.setdefault("Referrer-Policy", "unsafe-url")',
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
        "    cookies.forget(request, response, cookies.LINK)\n",
        "",
    ),
    # Database copy
    Removal(
        DATABASE_COPY,
        "the API token is stored in clear for the Slack side",
        "account_binding/binding.py",
        "                self._cipher.encrypt(api_token) if api_token else None,\n",
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
        "            digest(token),\n            user_id,\n            new_secret(),",
        "            token,\n            user_id,\n            new_secret(),",
    ),
    Removal(
        DATABASE_COPY,
        "nonces are stored in clear",
        "account_binding/binding.py",
        "        await self._store.add_binding_request(\n            digest(nonce),\n",
        "        await self._store.add_binding_request(\n            nonce,\n",
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
        "csrf.check(cookies.read(request, cookies.LOGIN_CSRF), form.get(csrf.FIELD))",
        "csrf.check(cookies.read(request, cookies.LOGIN_CSRF), "
        "cookies.read(request, cookies.LOGIN_CSRF))",
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
        "            user_id,\n            new_secret(),\n            self._clock(),",
        "            user_id,\n            token,\n            self._clock(),",
    ),
    Removal(
        CSRF,
        "the API accepts a session cookie",
        "stand_in/api.py",
        "        return await self._auth.user_for(request.headers)\n",
        "        from web.auth import logged_in\n\n"
        "        current = await logged_in(request)\n"
        "        if current is not None:\n"
        "            return current.user\n"
        "        return await self._auth.user_for(request.headers)\n",
    ),
    Removal(
        THEFT,
        "the session cookie is sent on cross-site requests (SameSite=None)",
        "web/auth.py",
        'cookies.set_cookie(request, response, cookies.SESSION, token, samesite="lax")',
        'cookies.set_cookie(request, response, cookies.SESSION, token, samesite="none")',
    ),
    # Login CSRF with a planted cookie
    Removal(
        LOGIN_CSRF,
        "Sec-Fetch-Site is not checked",
        "web/forms.py",
        'if fetch_site != "same-origin":',
        "if False:",
    ),
    Removal(
        LOGIN_CSRF,
        "Sec-Fetch-Site: same-site (a sibling subdomain) is accepted",
        "web/forms.py",
        'if fetch_site != "same-origin":',
        'if fetch_site not in ("same-origin", "same-site"):',
    ),
    Removal(
        LOGIN_CSRF,
        "Origin is not checked",
        "web/forms.py",
        'if request.headers.get("origin") != services_of(request).site_origin:',
        "if False:",
    ),
    Removal(
        LOGIN_CSRF,
        "Origin: null is accepted",
        "web/forms.py",
        'if request.headers.get("origin") != services_of(request).site_origin:',
        'if request.headers.get("origin") not in (services_of(request).site_origin, "null"):',
    ),
    Removal(
        LOGIN_CSRF,
        "a post with neither Sec-Fetch-Site nor Origin is accepted",
        "web/forms.py",
        'if request.headers.get("origin") != services_of(request).site_origin:',
        'if request.headers.get("origin", services_of(request).site_origin) != '
        "services_of(request).site_origin:",
    ),
    Removal(
        LOGIN_CSRF,
        "Referrer-Policy: no-referrer (browsers then send Origin: null on the site's own posts)",
        "web/security_headers.py",
        'headers.setdefault("Referrer-Policy", "same-origin")',
        'headers.setdefault("Referrer-Policy", "no-referrer")',
    ),
    # Planted session
    Removal(
        PLANTED,
        "any logged-in session counts as made for the link",
        "web/auth.py",
        "    if current is None or current.session.link_hash is None:\n"
        "        return False\n"
        "    return hmac.compare_digest(current.session.link_hash.encode(), digest(nonce).encode())",
        "    return current is not None",
    ),
    Removal(
        PLANTED,
        "GET /bind shows the confirm page to any session",
        "web/binding_pages.py",
        "        if not made_for(current, nonce):\n            # Checked from the store alone",
        "        if current is None:\n            # Checked from the store alone",
    ),
    Removal(
        PLANTED,
        "POST /bind binds for any session",
        "web/binding_pages.py",
        "    if not made_for(current, nonce):\n"
        "        return login_redirect(LINK_PATH)\n"
        "    assert current is not None\n"
        "    csrf.check",
        "    if current is None:\n        return login_redirect(LINK_PATH)\n    csrf.check",
    ),
    Removal(
        PLANTED,
        "the login form's link hash is not checked against the link cookie",
        "web/auth.py",
        "        if nonce is None or not hmac.compare_digest(\n"
        '            digest(nonce).encode(), str(link_id).encode("utf-8", "replace")\n'
        "        ):",
        "        if False:",
    ),
    Removal(
        PLANTED,
        "GET /login skips the login for a session made for no link or another",
        "web/auth.py",
        "if current is not None and (nonce is None or made_for(current, nonce)):",
        "if current is not None:",
    ),
    Removal(
        PLANTED,
        "of two cookies of one name, the first is used",
        "web/cookies.py",
        "    if len(values) != 1 or not values[0]:",
        "    if not values or not values[0]:",
    ),
    Removal(
        PLANTED,
        "no __Host- prefix under https",
        "web/cookies.py",
        "return HOST_PREFIX + base if services_of(connection).secure_cookies else base",
        "return base",
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
        '    next_path = safe_next(request.query_params.get("next"))\n    nonce = _link_for_login',
        '    next_path = str(request.query_params.get("next") or "/")\n    nonce = _link_for_login',
    ),
    # Session fixation
    Removal(
        FIXATION,
        "a planted session is not ended at login",
        "web/auth.py",
        "            await services.grants.discard_pending(old)\n"
        "        await services.sessions.end(old)\n",
        "            await services.grants.discard_pending(old)\n",
    ),
    # Session theft
    Removal(
        THEFT,
        "the session cookie is readable by script",
        "web/cookies.py",
        "        httponly=True,\n        samesite=samesite,",
        "        httponly=base != SESSION,\n        samesite=samesite,",
    ),
    Removal(
        THEFT,
        "cookies are not Secure under https",
        "web/cookies.py",
        "        secure=services_of(connection).secure_cookies,\n",
        "        secure=False,\n",
    ),
    Removal(
        THEFT,
        "the login token is SameSite=Lax, not Strict",
        "web/auth.py",
        'cookies.set_cookie(request, response, cookies.LOGIN_CSRF, token, samesite="strict")',
        'cookies.set_cookie(request, response, cookies.LOGIN_CSRF, token, samesite="lax")',
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
        "                await grants.discard_pending(token)\n"
        "            await services_of(request).sessions.end(token)\n",
        "                await grants.discard_pending(token)\n",
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
        "        )\n",
        "        since = now - self._limits.lockout_seconds\n"
        "        counts = [await self._store.count_login_failures(k, since) for k in limits]\n"
        "        locked = any(c >= limit for c, limit in zip(counts, limits.values()))\n"
        "        attempt = await self._store.reserve_login_attempt(\n"
        "            {k: 0 if locked else 10**9 for k in limits}, now, since\n"
        "        )\n",
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
        "            link_id=link_field,\n            error=str(error),\n"
        "            username=username,\n            status_code=400,",
        "            link_id=link_field,\n"
        "            error=str(error) if await services.accounts.find(username) else 'No such user.',\n"
        "            username=username,\n            status_code=400,",
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
        "stand_in/auth.py",
        'if scheme.lower() != "bearer" or not credential:',
        "if not credential:",
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
        "stand_in/store.py",
        '"UPDATE todos SET done = 1 WHERE id = ? AND user_id = ? RETURNING *",',
        '"UPDATE todos SET done = 1 WHERE id = ? AND ? > 0 RETURNING *",',
    ),
    Removal(
        OTHERS_DATA,
        "listing to-do items is not scoped to the token's user",
        "stand_in/store.py",
        '"SELECT * FROM todos WHERE user_id = ? ORDER BY id"',
        '"SELECT * FROM todos WHERE ? > 0 ORDER BY id"',
    ),
    # The service credential or a person's token acting beyond its reach
    Removal(
        BEYOND_REACH,
        "a personal token may be sent with the impersonation header",
        "stand_in/auth.py",
        "        if named:\n            raise Refused(\n                403,",
        "        if False:\n            raise Refused(\n                403,",
    ),
    Removal(
        BEYOND_REACH,
        "the service credential is taken without a user named",
        "stand_in/auth.py",
        "        if not named:\n",
        "        if False:\n",
    ),
    Removal(
        BEYOND_REACH,
        "the service credential is taken with two users named",
        "stand_in/auth.py",
        "        if len(named) > 1:\n",
        "        if False:\n",
    ),
    Removal(
        BEYOND_REACH,
        "the service credential naming an unknown user is not refused",
        "stand_in/auth.py",
        "        if user is None:\n            shown",
        "        if False:\n            shown",
    ),
    Removal(
        BEYOND_REACH,
        "a credential that starts like the service credential is taken for it",
        "stand_in/auth.py",
        "return hmac.compare_digest(credential.encode(), self._service_token)",
        "return self._service_token.startswith(credential.encode()[:16])",
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
        "web/forms.py",
        "if len(value) > MAX_FIELD_LENGTH:",
        "if False:",
    ),
    Removal(
        HOSTILE_INPUT,
        "deeply nested JSON is not caught",
        "stand_in/api.py",
        "except (ValueError, RecursionError):",
        "except ValueError:",
    ),
    Removal(
        HOSTILE_INPUT,
        "a to-do ID of thousands of digits reaches int()",
        "stand_in/api.py",
        "or len(text) > MAX_ID_DIGITS:",
        ":",
    ),
    # Mrkdwn injection
    Removal(
        MRKDWN,
        "nothing is escaped",
        "bolt_app/blocks.py",
        'return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")',
        "return text",
    ),
    Removal(
        MRKDWN,
        "to-do titles in the list are not escaped",
        "stand_in/commands.py",
        'lines = [f"☐ *#{t.id}* {escape(t.title)}" for t in open_items]',
        'lines = [f"☐ *#{t.id}* {t.title}" for t in open_items]',
    ),
    Removal(
        MRKDWN,
        "the added to-do's title is not escaped",
        "stand_in/commands.py",
        'blocks=[section(f":white_check_mark: Added *#{todo.id}* {escape(todo.title)}")],',
        'blocks=[section(f":white_check_mark: Added *#{todo.id}* {todo.title}")],',
    ),
    Removal(
        MRKDWN,
        "the completed to-do's title is not escaped",
        "stand_in/commands.py",
        'blocks=[section(f":tada: Completed *#{todo.id}* ~{escape(todo.title)}~")],',
        'blocks=[section(f":tada: Completed *#{todo.id}* ~{todo.title}~")],',
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
    Removal(
        SECRETS_IN_LOGS,
        "HTTP Basic credentials (the introspection client's) are not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"(Basic\\s+)(?!Information\\b)[A-Za-z0-9+/=]+", re.IGNORECASE), '
        'r"\\1[redacted]"),',
        "",
    ),
    Removal(
        SECRETS_IN_LOGS,
        "a posted client_secret is not redacted in logs",
        "launcher/logs.py",
        '(re.compile(r"(\\bclient_secret=)[^&\\s\'\\"]+"), r"\\1[redacted]"),',
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
        "            await self._refused(\n"
        "                error,\n"
        "                actor,\n"
        "                request.identity if request else None,\n"
        "                request.ended_reason if request else None,\n"
        "            )\n",
        "",
    ),
    Removal(
        ABUSE,
        "cancellations are not audited",
        "account_binding/binding.py",
        "        await self._audit.record(AuditEvent.LINK_CANCELLED, actor, request.identity)\n",
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
    # Huge or endless request bodies
    Removal(
        HUGE_BODIES,
        "a Content-Length over the cap is not refused at once",
        "web/body_limit.py",
        "            if length > self.max_body_bytes:\n"
        "                await _refuse(scope, receive, send, 413, TOO_LARGE)\n"
        "                return\n",
        "",
    ),
    Removal(
        HUGE_BODIES,
        "a streamed body is not counted against the cap",
        "web/body_limit.py",
        "                if received > self.max_body_bytes:\n                    raise BodyTooLarge()\n",
        "",
    ),
    Removal(
        HUGE_BODIES,
        "forms are parsed with no cap on their number of fields",
        "web/forms.py",
        "max_num_fields=MAX_FORM_FIELDS,",
        "max_num_fields=None,",
    ),
    Removal(
        HUGE_BODIES,
        "MAX_BODY_BYTES is 1 MiB by default",
        "account_binding/settings.py",
        "    max_body_bytes: int = Field(\n        16384,\n",
        "    max_body_bytes: int = Field(\n        1024 * 1024,\n",
    ),
    # Slack failing while a person presses Connect
    Removal(
        SLACK_AT_CONNECT,
        "the 503 page forgets the link cookie",
        "web/binding_pages.py",
        "        return await errors.slack_unavailable(request, error)\n",
        "        response = await errors.slack_unavailable(request, error)\n"
        "        cookies.forget(request, response, cookies.LINK)\n"
        "        return response\n",
    ),
    Removal(
        SLACK_AT_CONNECT,
        "a Slack failure is shown as a used link",
        "web/binding_pages.py",
        "        return await errors.slack_unavailable(request, error)\n",
        "        return await _link_error(request, LinkUsed(), nonce, current)\n",
    ),
    # Self-chosen names as identity evidence
    Removal(
        CHOSEN_NAMES,
        "format characters (bidirectional overrides, zero-width) are kept in names",
        "account_binding/text.py",
        "            category in _DROPPED_CATEGORIES\n            or char in _DRAWS_NOTHING\n            or _DEFAULT_IGNORABLE.match(char)\n",
        '            category in ("Cc", "Zl", "Zp")\n            or char in _DRAWS_NOTHING\n',
    ),
    Removal(
        CHOSEN_NAMES,
        "letters that draw nothing are kept in names",
        "account_binding/text.py",
        "            or char in _DRAWS_NOTHING\n            or _DEFAULT_IGNORABLE.match(char)\n",
        "",
    ),
    Removal(
        CHOSEN_NAMES,
        "names are not cut to 80 characters",
        "account_binding/text.py",
        "    if len(text) > limit:\n",
        "    if False:\n",
    ),
    Removal(
        CHOSEN_NAMES,
        "pictures from any host are kept",
        "account_binding/text.py",
        "        or not host.endswith(SLACK_IMAGE_HOST_SUFFIX)\n",
        "",
    ),
    Removal(
        CHOSEN_NAMES,
        "the directory keeps the real name as chosen",
        "bolt_app/slack_directory.py",
        'real_name=first_display_name(profile.get("real_name"), user.get("real_name")),',
        'real_name=str(profile.get("real_name") or user.get("real_name") or ""),',
    ),
    Removal(
        CHOSEN_NAMES,
        "the directory keeps the display name as chosen",
        "bolt_app/slack_directory.py",
        'display_name=display_name(profile.get("display_name")),',
        'display_name=str(profile.get("display_name") or ""),',
    ),
    Removal(
        CHOSEN_NAMES,
        "the directory keeps a picture from any host",
        "bolt_app/slack_directory.py",
        'image_url=slack_image_url(profile.get("image_72")),',
        'image_url=profile.get("image_72"),',
    ),
    Removal(
        CHOSEN_NAMES,
        "the command's user name is kept as chosen",
        "bolt_app/command_payload.py",
        'user_name=first_display_name(_unescaped(payload.get("user_name"))) or user_id,',
        'user_name=str(_unescaped(payload.get("user_name")) or user_id),',
    ),
    Removal(
        CHOSEN_NAMES,
        "the workspace or organisation name is kept as chosen",
        "bolt_app/command_payload.py",
        "team_name=first_display_name(*map(_unescaped, team_names)) or team_id,",
        'team_name=str(next((t for t in map(_unescaped, team_names) if t), "") or team_id),',
    ),
    # Commands from outside the installation, malformed envelopes
    Removal(
        ENVELOPES,
        "a command without team_id is not refused as malformed",
        "bolt_app/command_payload.py",
        'team_id = _slack_id(payload, "team_id", wrong, required=True)',
        'team_id = _slack_id(payload, "team_id", wrong, required=False) or "T0"',
    ),
    Removal(
        ENVELOPES,
        "enterprise_id is used whatever its type",
        "bolt_app/command_payload.py",
        'enterprise_id = _slack_id(payload, "enterprise_id", wrong, required=False)',
        'enterprise_id = payload.get("enterprise_id")',
    ),
    Removal(
        ENVELOPES,
        "a malformed command gets no clear error",
        "bolt_app/app.py",
        '        if kind == "slash_commands":\n            try:\n                CommandRequest.from_payload(payload)',
        "        if False:\n            try:\n                CommandRequest.from_payload(payload)",
    ),
    Removal(
        ENVELOPES,
        "a workspace install answers any workspace",
        "bolt_app/installation.py",
        "return identity.team_id == self.team_id and identity.enterprise_id == self.enterprise_id",
        "return True",
    ),
    Removal(
        ENVELOPES,
        "an org-wide install answers any organisation",
        "bolt_app/installation.py",
        "return self.enterprise_id is not None and identity.enterprise_id == self.enterprise_id",
        "return True",
    ),
    Removal(
        ENVELOPES,
        "Bolt's own Socket Mode handler (unhandled or failed envelopes go unacknowledged)",
        "bolt_app/app.py",
        "    handler = AcknowledgingSocketModeHandler(",
        "    handler = AsyncSocketModeHandler(",
    ),
    Removal(
        ENVELOPES,
        "the handler waits for Bolt however long it takes",
        "bolt_app/app.py",
        "done, _ = await asyncio.wait({work}, timeout=HANDLER_ACK_DEADLINE_SECONDS)",
        "done, _ = await asyncio.wait({work})",
    ),
    # A slow database or Slack
    Removal(
        SLOW,
        "the command waits for its answer before acknowledging",
        "bolt_app/listeners/commands/app_command.py",
        "done, _ = await asyncio.wait({work}, timeout=ACK_DEADLINE_SECONDS)",
        "done, _ = await asyncio.wait({work})",
    ),
    Removal(
        SLOW,
        "a late answer is not sent through the response_url",
        "bolt_app/listeners/commands/app_command.py",
        "        if answer.reply is not None:\n            sent = await _respond(",
        "        if False:\n            sent = await _respond(",
    ),
    Removal(
        SLOW,
        "the work is cancelled at the deadline",
        "bolt_app/listeners/commands/app_command.py",
        "            await _ack(ack, messages.one_moment_reply())\n",
        "            work.cancel()\n            await _ack(ack, messages.one_moment_reply())\n",
    ),
    Removal(
        SLOW,
        "users.info on a page has no total deadline",
        "bolt_app/slack_directory.py",
        "                self._deadline,\n                self._client.users_info(user=user_id),",
        "                3600.0,\n                self._client.users_info(user=user_id),",
    ),
    Removal(
        SLOW,
        "users.info on a page retries rate limits (the app's client)",
        "bolt_app/slack_directory.py",
        "            retry_handlers=retry_handlers(metrics, rate_limits=False, server_errors=False),",
        "            retry_handlers=retry_handlers(metrics),",
    ),
    Removal(
        SLOW,
        "a temporary Slack failure reads as no such person",
        "bolt_app/slack_directory.py",
        '                log.warning("users.info for %s failed for now: HTTP %s %s", user_id, status, code)\n'
        "                raise SlackUnavailable() from None\n",
        "                return None\n",
    ),
    # Sandbox page posted from another site
    Removal(
        SANDBOX_POSTS,
        "the sandbox takes any Sec-Fetch-Site",
        "fake_slack/sandbox_page.py",
        'return fetch_site == "same-origin"',
        "return True",
    ),
    Removal(
        SANDBOX_POSTS,
        "the sandbox takes Origin: null or no Origin",
        "fake_slack/sandbox_page.py",
        'return request.headers.get("Origin") == f"{request.scheme}://{request.host}"',
        'return request.headers.get("Origin") in (None, "null", f"{request.scheme}://{request.host}")',
    ),
    Removal(
        SANDBOX_POSTS,
        "the sandbox page sends no Referrer-Policy",
        "fake_slack/sandbox_page.py",
        '    "Referrer-Policy": "same-origin",\n',
        "",
    ),
    # Other users of the machine
    Removal(
        MACHINE_USERS,
        "a new database takes the umask's mode",
        "account_binding/sqlite_store.py",
        "            _make_private_file(path)\n",
        "            path.parent.mkdir(parents=True, exist_ok=True)\n            path.touch()\n",
    ),
    Removal(
        MACHINE_USERS,
        "a database made loose before stays loose",
        "account_binding/sqlite_store.py",
        '        for suffix in ("", "-wal", "-shm"):',
        '        for suffix in ("-wal", "-shm"):',
    ),
    Removal(
        MACHINE_USERS,
        "a key file that is a link is followed",
        "account_binding/settings.py",
        "        info = path.lstat()\n",
        "        info = path.stat()\n",
    ),
    Removal(
        MACHINE_USERS,
        "a key file open to others is used",
        "account_binding/settings.py",
        "    if info.st_mode & 0o077:\n",
        "    if False:\n",
    ),
    Removal(
        MACHINE_USERS,
        "the key is written in place, through whatever is there",
        "account_binding/settings.py",
        "        fd = os.open(\n"
        "            temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600\n"
        "        )\n",
        "        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)\n"
        "        temporary = path\n",
    ),
    Removal(
        MACHINE_USERS,
        "an empty pre-made key file is used (and written into)",
        "account_binding/settings.py",
        "    if not key:\n        raise SettingsError(\n",
        "    if not key:\n        return None\n        raise SettingsError(\n",
    ),
    # Weak SECRET_KEY
    Removal(
        WEAK_KEY,
        "a short SECRET_KEY is accepted",
        "account_binding/settings.py",
        "if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) == 1:",
        "if len(set(key)) == 1:",
    ),
    Removal(
        WEAK_KEY,
        "a SECRET_KEY of one repeated character is accepted",
        "account_binding/settings.py",
        "if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) == 1:",
        "if len(key) < MIN_SECRET_KEY_LENGTH:",
    ),
    # Secrets in representations
    Removal(
        REPRS,
        "the settings show the bot token",
        "account_binding/settings.py",
        "    slack_bot_token: SecretStr | None = Field(\n",
        "    slack_bot_token: str | None = Field(\n",
    ),
    Removal(
        REPRS,
        "the settings show the app-level token",
        "account_binding/settings.py",
        "    slack_app_token: SecretStr | None = Field(\n",
        "    slack_app_token: str | None = Field(\n",
    ),
    Removal(
        REPRS,
        "the settings show SECRET_KEY",
        "account_binding/settings.py",
        "    configured_secret_key: SecretStr | None = Field(\n",
        "    configured_secret_key: str | None = Field(\n",
    ),
    Removal(
        REPRS,
        "the settings show INTERNAL_API_TOKEN",
        "account_binding/settings.py",
        "    internal_api_token: SecretStr | None = Field(\n",
        "    internal_api_token: str | None = Field(\n",
    ),
    Removal(
        REPRS,
        "the settings show INTROSPECTION_CLIENT_SECRET",
        "account_binding/settings.py",
        "    introspection_client_secret: SecretStr | None = Field(\n",
        "    introspection_client_secret: str | None = Field(\n",
    ),
    Removal(
        REPRS,
        "the Slack connection shows its bot token",
        "launcher/compose.py",
        "    bot_token: str = field(repr=False)\n",
        "    bot_token: str\n",
    ),
    Removal(
        REPRS,
        "the Slack connection shows its app-level token",
        "launcher/compose.py",
        "    app_token: str = field(repr=False)\n",
        "    app_token: str\n",
    ),
    Removal(
        REPRS,
        "the sandbox shows the demo password",
        "launcher/sandbox.py",
        "    demo_password: str = field(repr=False)\n",
        "    demo_password: str\n",
    ),
    Removal(
        REPRS,
        "an issued link shows its nonce",
        "account_binding/binding.py",
        "    nonce: str = field(repr=False)\n",
        "    nonce: str\n",
    ),
    Removal(
        REPRS,
        "a bound account shows its API token",
        "account_binding/binding.py",
        "    api_token: str | None = field(repr=False)\n",
        "    api_token: str | None\n",
    ),
    Removal(
        REPRS,
        "a stored binding shows its encrypted token",
        "account_binding/store.py",
        "    api_token_ciphertext: str | None = field(repr=False)\n",
        "    api_token_ciphertext: str | None\n",
    ),
    # Flooding writes
    Removal(
        FLOODING,
        "no limit on links per Slack identity",
        "account_binding/sqlite_store.py",
        'if recent["n"] >= limit.count:',
        "if False:",
    ),
    Removal(
        FLOODING,
        "every locked-out attempt is audited",
        "account_binding/login.py",
        "            if attempt.first_refusal:\n",
        "            if True:\n",
    ),
    Removal(
        FLOODING,
        "refused links are audited without a cap",
        "account_binding/sqlite_store.py",
        "                if count >= limit:\n                    return False\n",
        "",
    ),
    Removal(
        FLOODING,
        "the store's audit purge deletes nothing",
        "account_binding/sqlite_store.py",
        '"DELETE FROM audit_events WHERE at < ?"',
        '"DELETE FROM audit_events WHERE 0 AND at < ?"',
    ),
    Removal(
        FLOODING,
        "the app's purger does not purge the audit log",
        "launcher/compose.py",
        "            purged = await audit.purge(audit_retention_days)\n",
        "            purged = 0\n",
    ),
    # Slack failing when a bind needs it
    Removal(
        SLACK_AT_BIND,
        "a Slack failure is taken for an email mismatch (the link voided)",
        "account_binding/binding.py",
        "                raise\n            person = None",
        "                person = None\n            person = None",
    ),
    Removal(
        SLACK_AT_BIND,
        "a Slack failure at bind is not audited",
        "account_binding/binding.py",
        "                await self._audit.record(\n"
        "                    AuditEvent.SLACK_ERROR,\n"
        "                    Actor(user=user, client=actor.client),\n"
        "                    request.identity,\n"
        '                    detail="users.info at bind",\n'
        "                )\n",
        "",
    ),
    # A second account with someone's email
    Removal(
        SECOND_ACCOUNT,
        "an email another account has is accepted",
        "account_binding/sqlite_store.py",
        'if _one(db, "SELECT id FROM users WHERE email = ? COLLATE NOCASE", [email]):',
        "if False:",
    ),
    Removal(
        SECOND_ACCOUNT,
        "emails are compared with their case",
        "account_binding/sqlite_store.py",
        '"SELECT id FROM users WHERE email = ? COLLATE NOCASE"',
        '"SELECT id FROM users WHERE email = ?"',
    ),
    Removal(
        SECOND_ACCOUNT,
        "adding an account is not audited",
        "account_binding/accounts.py",
        "        if self._audit is not None:\n            await self._audit.record(AuditEvent.USER_ADDED",
        "        if False:\n            await self._audit.record(AuditEvent.USER_ADDED",
    ),
    Removal(
        SECOND_ACCOUNT,
        "an unbind is audited without the internal account",
        "account_binding/binding.py",
        "AuditEvent.UNBOUND, await self._owner_as_actor(binding, actor), identity",
        "AuditEvent.UNBOUND, actor, identity",
    ),
    # Added with the review fixes of issue 7
    Removal(
        LOGIN_CSRF,
        "PUBLIC_URL is not normalised to the origin a browser sends",
        "account_binding/settings.py",
        '    value = _normalised_origin(name, parts) + parts.path.rstrip("/")',
        '    value = value.rstrip("/")',
    ),
    Removal(
        LOGIN_CSRF,
        "a non-ASCII host name is mapped with IDNA 2003, not as browsers map it",
        "account_binding/settings.py",
        '            host = idna.encode(host, uts46=True).decode("ascii")',
        '            host = host.encode("idna").decode("ascii")',
    ),
    # Added with the settings fixes of the attack review of issue 8
    Removal(
        LOGIN_CSRF,
        "a URL's host that a browser reads as another address, or no resolver takes, is kept",
        "account_binding/settings.py",
        '    if not valid:\n        raise SettingsError(\n            f"{name} has a host that',
        '    if False:\n        raise SettingsError(\n            f"{name} has a host that',
    ),
    Removal(
        SLOW,
        "reads queue behind writes on the writer's connection",
        "account_binding/sqlite_store.py",
        "        self._reads = ReadQueue(self._reader, self._connect_reader, _busy_is)",
        "        self._reads = ReadQueue(self._executor, self._connect, _busy_is)",
    ),
    Removal(
        SLOW,
        "a lookup on the event loop waits for a lock there (issue 12)",
        "account_binding/sqlite_store.py",
        "                timeout=0,\n",
        "                timeout=BUSY_TIMEOUT_SECONDS,\n",
    ),
    Removal(
        SLOW,
        "a database locked past the busy timeout is a 500, not a 503",
        "web/app.py",
        "            StoreBusy: errors.store_busy,\n",
        "",
    ),
    Removal(
        SLOW,
        "time queued behind other writes does not count against a write's deadline",
        "account_binding/sqlite_queues.py",
        "                group = [self._queue.popleft() for _ in range(min(len(self._queue), "
        "MAX_GROUP))]",
        "                group = [self._queue.popleft()]\n"
        "                group[0].deadline += time.monotonic() - group[0].queued_at",
    ),
    Removal(
        SLOW,
        "an unauthenticated confirm page asks Slack about the link's person",
        "web/binding_pages.py",
        "            await services.bindings.pending(nonce, actor)\n            return login_redirect",
        "            await services.bindings.describe(nonce, actor)\n            return login_redirect",
    ),
    Removal(
        FORWARDED,
        "the administrator's unbind command removes nothing",
        "account_binding/administration.py",
        "            binding = await self._bindings.unbind(row.binding.identity, actor, NOTICE)",
        "            binding = None",
    ),
    Removal(
        FLOODING,
        "a login keeps every older session of its user",
        "account_binding/sessions.py",
        "            keep_at_most=MAX_SESSIONS_PER_USER,",
        "            keep_at_most=None,",
    ),
    Removal(
        FLOODING,
        "every successful login adds an audit row",
        "account_binding/login.py",
        "            await self._audit.record_capped(AuditEvent.LOGIN, Actor(user=user, client=client))",
        "            await self._audit.record(AuditEvent.LOGIN, Actor(user=user, client=client))",
    ),
    Removal(
        MACHINE_USERS,
        "a file that only starts like a database has its mode changed before it is refused",
        "account_binding/sqlite_store.py",
        "            _check_is_database(path)\n",
        "            _tighten(path)\n            _check_is_database(path)\n",
    ),
    Removal(
        SLACK_AT_BIND,
        "any users.info error but a temporary one means no such person",
        "bolt_app/slack_directory.py",
        "            if code in NO_SUCH_USER_ERRORS and status < 500:",
        "            if status < 500 and code not in TEMPORARY_ERRORS:",
    ),
    Removal(
        ENVELOPES,
        "an envelope whose payload is not an object is handed to Bolt",
        "bolt_app/app.py",
        "        if not isinstance(payload, dict):",
        "        if False:",
    ),
    Removal(
        CHOSEN_NAMES,
        "Default_Ignorable code points (variation selectors, fillers) are kept in names",
        "account_binding/text.py",
        "            or _DEFAULT_IGNORABLE.match(char)\n",
        "",
    ),  # Introspection by a client without the credentials
    Removal(
        INTROSPECTION_CLIENTS,
        "introspection takes no client authentication",
        "web/oauth.py",
        "        if credentials is None:\n"
        '            raise _invalid_client("no_credentials")\n'
        "        if oauth is None or oauth.client is None:\n"
        '            raise _invalid_client("not_configured")\n'
        "        if not oauth.client.accepts(credentials.client_id, credentials.client_secret):\n"
        '            raise _invalid_client("wrong_credentials")\n',
        "        assert oauth is not None\n",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "introspection with no client configured answers any client",
        "web/oauth.py",
        "        if oauth is None or oauth.client is None:\n"
        '            raise _invalid_client("not_configured")\n'
        "        if not oauth.client.accepts(",
        "        assert oauth is not None\n        if oauth.client and not oauth.client.accepts(",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "wrong client credentials are accepted",
        "web/oauth.py",
        "        if not oauth.client.accepts(credentials.client_id, credentials.client_secret):\n"
        '            raise _invalid_client("wrong_credentials")\n',
        "",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "the client secret is not compared",
        "account_binding/introspection.py",
        "        return id_ok and secret_ok\n",
        "        return id_ok\n",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "the client id is not compared",
        "account_binding/introspection.py",
        "        return id_ok and secret_ok\n",
        "        return secret_ok\n",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "an Authorization scheme other than Basic is read as Basic",
        "web/oauth.py",
        '    if scheme.lower() != "basic":\n        raise _invalid_client("not_basic")\n',
        "",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "failed client authentication is not audited",
        "web/oauth.py",
        "        if refusal.audit is not None:\n",
        "        if False:\n",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "failed client authentication is audited without a cap",
        "web/oauth.py",
        "            await services.audit.record_capped(\n",
        "            await services.audit.record(\n",
    ),
    Removal(
        INTROSPECTION_CLIENTS,
        "the introspection client's secret may be short",
        "account_binding/settings.py",
        '            check_secret_key(value, "INTROSPECTION_CLIENT_SECRET")\n',
        "            pass\n",
    ),
    # A revoked or expired token taken for active
    Removal(
        INACTIVE_TOKENS,
        "an expired token is still found",
        "account_binding/sqlite_store.py",
        "        if not validity.honours(issued_at, stored_expires_at, now):\n",
        "        if False:\n",
    ),
    Removal(
        INACTIVE_TOKENS,
        "a binding whose token expired is still used",
        "account_binding/binding.py",
        "        elif not validity.honours(issued_at, stored.api_token_expires_at, self._clock()):\n",
        "        elif False:\n",
    ),
    Removal(
        INACTIVE_TOKENS,
        "API_TOKEN_TTL bounds only the tokens stamped with an expiry at binding",
        "account_binding/token_validity.py",
        "        if self.ttl is not None:\n            bounds.append(issued_at + self.ttl)\n",
        "",
    ),
    Removal(
        INACTIVE_TOKENS,
        "a raised API_TOKEN_TTL lengthens the expiry stamped at binding",
        "account_binding/token_validity.py",
        "bounds = [stored_expires_at] if stored_expires_at is not None else []",
        "bounds = [stored_expires_at] if stored_expires_at is not None and not self.ttl else []",
    ),
    Removal(
        INACTIVE_TOKENS,
        "personal tokens are honoured under ACT_AS=service",
        "account_binding/token_validity.py",
        "        if not self.personal_tokens:\n            return False\n",
        "",
    ),
    Removal(
        INACTIVE_TOKENS,
        "the Slack side judges tokens without the current API_TOKEN_TTL",
        "account_binding/binding.py",
        "return TokenValidity(personal_tokens=self.issue_api_tokens, ttl=self.api_token_ttl)",
        "return TokenValidity(personal_tokens=self.issue_api_tokens)",
    ),
    Removal(
        INACTIVE_TOKENS,
        "introspection does not share the settings' token rule",
        "launcher/compose.py",
        "introspector=TokenIntrospector(store, validity=tokens),",
        "introspector=TokenIntrospector(store),",
    ),
    Removal(
        INACTIVE_TOKENS,
        "the stand-in does not share the settings' token rule",
        "launcher/compose.py",
        "            token_validity=tokens,\n",
        "",
    ),
    Removal(
        INACTIVE_TOKENS,
        "binding under API_TOKEN_TTL issues a token that never expires",
        "account_binding/binding.py",
        "api_token_expires_at=now + ttl if api_token and ttl is not None else None,",
        "api_token_expires_at=None,",
    ),
    Removal(
        INACTIVE_TOKENS,
        "a tokenless binding is used under ACT_AS=token",
        "account_binding/binding.py",
        "        if stored.api_token_ciphertext is None:\n"
        '            reason, detail = "no_token", "no token for ACT_AS=token"\n'
        "        elif",
        "        if",
    ),
    Removal(
        INACTIVE_TOKENS,
        "introspection answers active for a revoked token",
        "account_binding/sqlite_store.py",
        '"WHERE api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL",',
        '"WHERE api_tokens.token_hash = ?",',
    ),
    # A plugin that breaks
    Removal(
        BROKEN_PLUGIN,
        "one handler at a time (all share one thread)",
        "bolt_app/commands/runner.py",
        "MAX_RUNNING_HANDLERS = 32",
        "MAX_RUNNING_HANDLERS = 1",
    ),
    Removal(
        BROKEN_PLUGIN,
        "a handler loop a handler blocks still gets new handlers (issue 12)",
        "bolt_app/commands/runner.py",
        "        healthy = [h for h in self._loops if not h.stalled(now)]",
        "        healthy = list(self._loops)",
    ),
    Removal(
        BROKEN_PLUGIN,
        "what a handler leaves running on a shared loop is not cancelled (issue 12)",
        "bolt_app/commands/runner.py",
        "            await self._tidy()",
        "            pass",
    ),
    Removal(
        BROKEN_PLUGIN,
        "a handler that stops its loop stops the handlers sharing it (issue 12)",
        "bolt_app/commands/runner.py",
        "            while not self._ending:",
        "            if not self._ending:",
    ),
    Removal(
        BROKEN_PLUGIN,
        "no COMMAND_TIMEOUT",
        "bolt_app/commands/runner.py",
        "done, _ = await asyncio.wait({finished}, timeout=max(0.0, deadline - main.time()))",
        "done, _ = await asyncio.wait({finished})",
    ),
    Removal(
        BROKEN_PLUGIN,
        "a handler's exception is not caught",
        "bolt_app/listeners/commands/handlers.py",
        "    except Exception as error:\n"
        '        return Handled(_incident(typed, plugin, request, error), "failed")\n'
        "    if reply",
        "    if reply",
    ),
    Removal(
        BROKEN_PLUGIN,
        "a handler's sys.exit() stops the loop",
        "bolt_app/commands/runner.py",
        "        except (SystemExit, KeyboardInterrupt) as error:",
        "        except ZeroDivisionError as error:",
    ),
    Removal(
        BROKEN_PLUGIN,
        "a handler's wrong return is passed on",
        "bolt_app/listeners/commands/handlers.py",
        "    if reply is not None and not isinstance(reply, Reply):",
        "    if False:",
    ),
    # A credential sent somewhere else
    Removal(
        CREDENTIAL_ELSEWHERE,
        "a path may name another host",
        "bolt_app/internal_api.py",
        'if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):',
        "if not isinstance(path, str):",
    ),
    Removal(
        CREDENTIAL_ELSEWHERE,
        "dot segments pass",
        "bolt_app/internal_api.py",
        '            if part in (".", ".."):',
        "            if False:",
    ),
    Removal(
        CREDENTIAL_ELSEWHERE,
        "a segment decoding to ../x passes",
        "bolt_app/internal_api.py",
        'for part in re.split(r"[/\\\\]", unquote(segment)):',
        "for part in [unquote(segment)]:",
    ),
    Removal(
        CREDENTIAL_ELSEWHERE,
        "a refusal's reason is shown with the credential it echoes",
        "bolt_app/internal_api.py",
        '            if len(secret) >= 8:\n                message = message.replace(secret, "[redacted]")\n',
        "            pass\n",
    ),
    Removal(
        CREDENTIAL_ELSEWHERE,
        "redirects are followed",
        "bolt_app/internal_api.py",
        "                    allow_redirects=False,",
        "                    allow_redirects=True,",
    ),
    Removal(
        CREDENTIAL_ELSEWHERE,
        "a streamed answer is read whatever its size",
        "bolt_app/internal_api.py",
        "        if len(body) > MAX_ANSWER_BYTES:\n            raise _TooLarge\n",
        "",
    ),
    Removal(
        CREDENTIAL_ELSEWHERE,
        "an answer declaring a huge length is read",
        "bolt_app/internal_api.py",
        "    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:\n        raise _TooLarge\n",
        "",
    ),
    # Commands added by surprise
    Removal(
        SURPRISE_COMMANDS,
        "every installed plugin loads",
        "bolt_app/commands/loading.py",
        "    for entry in selection:\n",
        "    for entry in [*selection, '*']:\n",
    ),
    Removal(
        SURPRISE_COMMANDS,
        "a later plugin silently takes a name",
        "bolt_app/commands/table.py",
        "                if taken is not None:\n",
        "                if False:\n",
    ),
    # A forged, replayed or misdirected sign-in answer
    Removal(
        SIGN_IN_CALLBACK,
        "a callback is taken in any browser",
        "account_binding/authorization_flows.py",
        '            raise FlowRefused("another browser")',
        "            pass",
    ),
    Removal(
        SIGN_IN_CALLBACK,
        "a flow can be taken back twice",
        "account_binding/sqlite_store.py",
        '"SELECT * FROM authorization_flows WHERE state_hash = ? AND used_at IS NULL",',
        '"SELECT * FROM authorization_flows WHERE state_hash = ?",',
    ),
    Removal(
        SIGN_IN_CALLBACK,
        "an answer naming another issuer is taken (RFC 9207)",
        "web/oidc_login.py",
        "        if issuer is not None and issuer != self.provider.issuer:",
        "        if False:",
    ),
    # A forged or stale ID token
    Removal(
        ID_TOKEN,
        "the ID token's issuer is not checked",
        "relying_party/provider.py",
        '            "iss": {"essential": True, "value": self.issuer},',
        "",
    ),
    Removal(
        ID_TOKEN,
        "the ID token's audience is not checked",
        "relying_party/provider.py",
        '            "aud": {"essential": True, "value": self.client_id},',
        "",
    ),
    Removal(
        ID_TOKEN,
        "the ID token's nonce is not checked",
        "relying_party/provider.py",
        '            checks["nonce"] = {"essential": True, "value": nonce}',
        "            pass",
    ),
    Removal(
        ID_TOKEN,
        "several audiences are taken without azp",
        "relying_party/provider.py",
        '        if len(audiences) > 1 and claims.get("azp") != self.client_id:',
        "        if False:",
    ),
    Removal(
        ID_TOKEN,
        "metadata naming another issuer is taken",
        "relying_party/metadata.py",
        '        if document.get("issuer") != issuer:',
        "        if False:",
    ),
    # People from outside the company signing in
    Removal(
        OUTSIDERS,
        "an email address counts whether or not the provider verified it",
        "web/oidc_login.py",
        '        address = ascii_strip(email) if isinstance(email, str) and verified else ""',
        '        address = ascii_strip(email) if isinstance(email, str) else ""',
    ),
    Removal(
        OUTSIDERS,
        "any domain is allowed",
        "web/oidc_login.py",
        "        if domain not in self.allowed_domains:",
        "        if False:",
    ),
    # An account taken over through single sign-on
    Removal(
        TAKEOVER,
        "a sign-in's user name may be an existing account's",
        "account_binding/sqlite_store.py",
        '                    if _one(db, "SELECT id FROM users WHERE username = ?", [username]):\n'
        "                        raise UsernameTaken(username)\n"
        '                    # "" is no address',
        '                    # "" is no address',
    ),
    # Identity headers sent around the proxy
    Removal(
        AROUND_PROXY,
        "the proxy's headers are believed from any address",
        "web/proxy_identity.py",
        "        if (names or emails) and not is_within(peer_address(conn), self.trusted):",
        "        if False:",
    ),
    Removal(
        AROUND_PROXY,
        "a header sent twice is believed",
        "web/proxy_identity.py",
        "        if len(names) > 1 or len(emails) > 1:",
        "        if False:",
    ),
    Removal(
        AROUND_PROXY,
        "another person's session stays when the proxy names someone else",
        "web/proxy_identity.py",
        "        if found is not None and found.user.id != user.id:",
        "        if False:",
    ),
    # Forwarded link, closed for good
    Removal(
        FORWARDED_FOR_GOOD,
        "any Slack user who signs in is taken as the link's",
        "account_binding/slack_proof.py",
        "    if signed_in.user_id != expected.user_id:\n        return False\n",
        "",
    ),
    Removal(
        FORWARDED_FOR_GOOD,
        "Connect works without signing in with Slack",
        "web/binding_pages.py",
        '    if action == "connect" and _needs_slack_sign_in(request, current, nonce):',
        "    if False:",
    ),
    Removal(
        FORWARDED_FOR_GOOD,
        "a mismatched Slack sign-in leaves the link usable",
        "account_binding/slack_proof.py",
        "        await self._store.void_binding_request(digest(nonce), self._clock())\n"
        "        await self._audit.record(\n"
        "            AuditEvent.SLACK_IDENTITY_MISMATCH,",
        "        await self._audit.record(\n            AuditEvent.SLACK_IDENTITY_MISMATCH,",
    ),
    # A person's OAuth tokens misused or outliving the binding
    Removal(
        OAUTH_TOKENS,
        "two refreshes of one binding may run at once (no lease)",
        "account_binding/sqlite_store.py",
        '                    "AND (refreshing_until IS NULL OR refreshing_until <= ?) RETURNING *",',
        '                    "AND (refreshing_until IS NULL OR refreshing_until <= ? OR 1) '
        'RETURNING *",',
    ),
    Removal(
        OAUTH_TOKENS,
        "an access token is never refreshed before it expires",
        "account_binding/oauth_grants.py",
        "        return grant.expires_at - self._clock() < margin",
        "        return False",
    ),
    Removal(
        OAUTH_TOKENS,
        "unlink does not revoke the grant at the provider",
        "account_binding/binding.py",
        "        await self._revoke_grant(removed)\n        return binding",
        "        return binding",
    ),
    Removal(
        OAUTH_TOKENS,
        "a refused refresh leaves the binding in place",
        "account_binding/oauth_grants.py",
        '                    await self._end(binding, "grant refused at the provider")',
        "                    pass",
    ),
    Removal(
        OAUTH_TOKENS,
        "the grant callback is taken in another session",
        "web/grant_pages.py",
        "        or not _same(flow.session_hash, digest(session_token))",
        "        or False",
    ),
    Removal(
        TAKEOVER,
        "names are lower-cased with Python's lower() (the Kelvin sign becomes k)",
        "account_binding/accounts.py",
        "    return ascii_lower(ascii_strip(username))",
        "    return ascii_strip(username).lower()",
    ),
    Removal(
        OAUTH_TOKENS,
        "tokens a login for a link left unused stay with its session when it ends",
        "web/grant_pages.py",
        "            await self.pending.take(session_token)",
        "            pass",
    ),
    # Issue 10, never a dead button (helper "links")
    Removal(
        WRONG_CLICKER,
        "a click on a button carrying another person's link gets a link all the same",
        "account_binding/link_renewal.py",
        "        if request is not None and not _same_person(request.identity, identity):",
        "        if False:",
    ),
    Removal(
        WRONG_CLICKER,
        "a click by someone connected since gets a fresh link",
        "account_binding/link_renewal.py",
        "        if bound is not None:",
        "        if False:",
    ),
    Removal(
        WRONG_CLICKER,
        "the button carries the nonce itself",
        "bolt_app/listeners/commands/app_command.py",
        "    link_id = digest(link.nonce)",
        "    link_id = link.nonce",
    ),
    Removal(
        POSTED,
        "LINK_DELIVERY=dm posts the link in the reply as well",
        "bolt_app/listeners/commands/app_command.py",
        "            return messages.link_sent_by_dm_reply(name, ttl, reason=reason)",
        "            return messages.link_reply(url, name, ttl, reason=reason)",
    ),
    Removal(
        RESEND_ABUSE,
        "a used, replaced or cancelled link is renewed",
        "account_binding/sqlite_store.py",
        "                if old.used_at is not None:\n                    ended = old.ended_reason",
        "                if False:\n                    ended = old.ended_reason",
    ),
    Removal(
        RESEND_ABUSE,
        "a live link is renewed",
        "account_binding/sqlite_store.py",
        '                if old.expires_at > now:\n                    return ResendOutcome("live", old)',
        '                if False:\n                    return ResendOutcome("live", old)',
    ),
    Removal(
        RESEND_ABUSE,
        "no limit of one resend a minute",
        "account_binding/sqlite_store.py",
        '                    "WHERE link_resends.sent_at <= ?",',
        '                    "WHERE link_resends.sent_at <= ? OR 1",',
    ),
    Removal(
        RESEND_ABUSE,
        "LINKS_PER_HOUR not counted for resends",
        "account_binding/sqlite_store.py",
        "                    [*key, limit.since],",
        "                    [*key, now + 1],",
    ),
    Removal(
        RESEND_ABUSE,
        "the resend form's double-submit token is not checked",
        "web/link_resend.py",
        "    csrf.check(cookies.read(request, cookies.LOGIN_CSRF), form.get(csrf.FIELD))",
        "    pass",
    ),
    Removal(
        RESEND_ABUSE,
        "the resend form's link is not checked against the link cookie",
        "web/link_resend.py",
        '    if not same_link(form.get("link_id"), nonce):\n        return _error(',
        "    if False:\n        return _error(",
    ),
    # Issue 10, Enterprise Grid
    Removal(
        GRID_MERGE,
        "of two bindings under one key, the newer is kept",
        "account_binding/sqlite_store.py",
        'keep_old = current is None or (old["created_at"], old["id"]) < (',
        'keep_old = current is None or (old["created_at"], old["id"]) > (',
    ),
    Removal(
        GRID_MERGE,
        "the removed binding's token is not revoked",
        "account_binding/sqlite_store.py",
        '"UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL AND id = ?",',
        '"UPDATE api_tokens SET revoked_at = ? WHERE 0 AND revoked_at IS NULL AND id = ?",',
    ),
    Removal(
        GRID_MERGE,
        "the Slack person is not told of the merge",
        "bolt_app/identity_settling.py",
        "    if settled.merged is not None:",
        "    if False:",
    ),
    Removal(
        GRID_MERGE,
        "the slash command does not settle the identity first",
        "bolt_app/listeners/commands/app_command.py",
        "    await settle_identity(\n",
        "    0 and await settle_identity(\n",
    ),
    Removal(
        GRID_WORKSPACE,
        "a workspace install in an organisation answers all of it",
        "bolt_app/installation.py",
        "return identity.team_id == self.team_id and identity.enterprise_id == self.enterprise_id",
        "return identity.enterprise_id == self.enterprise_id",
    ),
    Removal(
        GRID_WORKSPACE,
        "Slack is asked again at every command it does not admit",
        "bolt_app/installation.py",
        "    def _may_reask(self) -> bool:\n        return (",
        "    def _may_reask(self) -> bool:\n        return True or (",
    ),
    # Issue 10, lifecycle
    Removal(
        SLACK_GONE,
        "app_uninstalled is not listened to",
        "bolt_app/listeners/events/lifecycle.py",
        '    app.event("app_uninstalled")(app_uninstalled)\n',
        "",
    ),
    Removal(
        SLACK_GONE,
        "a revoked bot token is not recognised",
        "bolt_app/lifecycle.py",
        "    return isinstance(bots, list) and any(isinstance(b, str) and b for b in bots)",
        "    return False",
    ),
    Removal(
        SLACK_GONE,
        "a deactivated Slack user keeps their binding",
        "bolt_app/lifecycle.py",
        '    if not isinstance(user, dict) or user.get("deleted") is not True:',
        "    if True:",
    ),
    Removal(
        SLACK_GONE,
        "a binding keyed on the workspace before it joined an organisation stays",
        "bolt_app/lifecycle.py",
        "    if enterprise_id is not None and team_id is not None:",
        "    if False:",
    ),
    Removal(
        SLACK_GONE,
        "the listener asks auth.test, which fails once the token is revoked",
        "bolt_app/listeners/events/lifecycle.py",
        "    known = installation_of(context).known\n",
        "    known = await installation_of(context).get()\n",
    ),
    Removal(
        SLACK_GONE,
        "a retried delivery is handled again",
        "account_binding/lifecycle.py",
        "        return await self._store.note_slack_event(event_id, self._clock())",
        "        await self._store.note_slack_event(event_id, self._clock())\n        return True",
    ),
    Removal(
        SLACK_GONE,
        "the removed bindings' tokens keep working",
        "account_binding/sqlite_store.py",
        '"WHERE id IN (SELECT value FROM json_each(?)) AND revoked_at IS NULL",',
        '"WHERE 0 AND id IN (SELECT value FROM json_each(?)) AND revoked_at IS NULL",',
    ),
    Removal(
        SLACK_GONE,
        "the gone workspace's links still work",
        "account_binding/sqlite_store.py",
        '                    f"WHERE ({clause}) AND used_at IS NULL",',
        '                    f"WHERE 0 AND ({clause}) AND used_at IS NULL",',
    ),
    Removal(
        SLACK_GONE,
        "an org-wide uninstall is taken for one workspace's",
        "bolt_app/lifecycle.py",
        "    if org_wide and enterprise_id is not None:",
        "    if False:",
    ),
    Removal(
        SLACK_GONE,
        "a hanging revocation has no deadline",
        "account_binding/lifecycle.py",
        "                await asyncio.wait_for(piece(), deadline_seconds)",
        "                await piece()",
    ),
    Removal(
        ACCOUNT_ENDED,
        "the right password of a disabled account logs in",
        "account_binding/login.py",
        "        if user is not None and user.disabled_at is not None:",
        "        if False:",
    ),
    Removal(
        ACCOUNT_ENDED,
        "single sign-on opens a disabled account",
        "account_binding/accounts.py",
        "            if user.disabled_at is not None:  # Issue 10, lifecycle",
        "            if False:",
    ),
    Removal(
        ACCOUNT_ENDED,
        "a disabled account's leftover session logs it in",
        "web/authentication.py",
        "    if user is None or user.disabled_at is not None:",
        "    if user is None:",
    ),
    Removal(
        ACCOUNT_ENDED,
        "the binding's transaction does not check the account",
        "account_binding/sqlite_store.py",
        '                if owner is None or owner["disabled_at"] is not None:',
        "                if owner is None:",
    ),
    Removal(
        ACCOUNT_ENDED,
        "a disabled account's token is honoured once its revocation is undone",
        "account_binding/sqlite_store.py",
        '"AND users.disabled_at IS NULL "',
        '""',
    ),
    Removal(
        ACCOUNT_ENDED,
        "disabling leaves the sessions",
        "account_binding/sqlite_store.py",
        '                db.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])\n'
        "                _note_ended(",
        "                _note_ended(",
    ),
    Removal(
        ACCOUNT_ENDED,
        "disabling leaves the bindings",
        "account_binding/sqlite_store.py",
        '                removed = _remove_bindings(db, "user_id = ?", [user_id], now)\n'
        "                db.execute(\n"
        '                    "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ?',
        "                removed = []\n"
        "                db.execute(\n"
        '                    "UPDATE api_tokens SET revoked_at = ? WHERE user_id = ?',
    ),
    Removal(
        ACCOUNT_ENDED,
        "the stand-in impersonates a disabled account",
        "stand_in/auth.py",
        "        return found[0] if found and found[0].disabled_at is None else None",
        "        return found[0] if found else None",
    ),
    Removal(
        ACCOUNT_ENDED,
        "the stand-in takes a provider's token of a disabled account",
        "stand_in/auth.py",
        "        return user if user is not None and user.disabled_at is None else None",
        "        return user",
    ),
    Removal(
        ACCOUNT_ENDED,
        "the Slack person is sent a link instead of being told why",
        "bolt_app/listeners/commands/app_command.py",
        "        if ended is not None:\n            command_outcome.note",
        "        if False:\n            command_outcome.note",
    ),
    Removal(
        ACCOUNT_ENDED,
        "remove does not ask first",
        "launcher/user_admin.py",
        '    if args.user_command == "remove" and not args.yes:',
        "    if False:",
    ),
    # Issue 10, unbinding: Disconnect in Slack, Remove on the web
    Removal(
        STALE_DISCONNECT,
        "Disconnect removes the binding the value names, whoever clicked",
        "account_binding/sqlite_store.py",
        '"AND (? IS NULL OR (scope_id = ? AND slack_user_id = ?)) RETURNING *",',
        '"AND (? IS NULL OR (? IS NOT NULL OR ? IS NULL)) RETURNING *",',
    ),
    Removal(
        STALE_DISCONNECT,
        "Disconnect removes whichever binding the person has now, not the one asked about",
        "account_binding/sqlite_store.py",
        '"DELETE FROM bindings WHERE public_id = ? AND (? IS NULL OR user_id = ?) "',
        '"DELETE FROM bindings WHERE ? IS NOT NULL AND (? IS NULL OR user_id = ?) "',
    ),
    Removal(
        STALE_DISCONNECT,
        "a binding's public ID follows its integer ID, which SQLite reuses",
        "account_binding/migrations.py",
        '"UPDATE bindings SET public_id = lower(hex(randomblob(16))) WHERE id = NEW.id; END"',
        "\"UPDATE bindings SET public_id = printf('%032x', NEW.id) WHERE id = NEW.id; END\"",
    ),
    Removal(
        WEB_OWNER,
        "Remove deletes the binding of that public ID whoever owns it",
        "account_binding/sqlite_store.py",
        '"DELETE FROM bindings WHERE public_id = ? AND (? IS NULL OR user_id = ?) "',
        '"DELETE FROM bindings WHERE public_id = ? AND (? IS NULL OR ? IS NOT NULL) "',
    ),
    Removal(
        CROSS_SITE_REMOVE,
        "Remove takes a post without the session's CSRF token",
        "web/connections.py",
        "    csrf.check(current.session.csrf_token, form.get(csrf.FIELD))\n",
        "",
    ),
    Removal(
        CROSS_SITE_REMOVE,
        "the confirm page removes at once (a GET removes)",
        "web/connections.py",
        "    binding = await services_of(request).bindings.binding_of(current.user, public_id)\n",
        "    binding = await services_of(request).bindings.remove_binding_of(\n"
        "        current.user, public_id, Actor(user=current.user)\n"
        "    )\n",
    ),
    Removal(
        OLD_TOKEN,
        "Disconnect and Remove do not revoke the token",
        "account_binding/sqlite_store.py",
        '"UPDATE api_tokens SET revoked_at = ? WHERE id IS ? AND revoked_at IS NULL",',
        '"UPDATE api_tokens SET revoked_at = ? WHERE 0 AND id IS ? AND revoked_at IS NULL",',
    ),
    Removal(
        OAUTH_TOKENS,
        "Disconnect does not revoke the grant at the provider",
        "account_binding/binding.py",
        "            removed.binding.identity,\n        )\n        await self._revoke_grant(removed)\n",
        "            removed.binding.identity,\n        )\n",
    ),
    Removal(
        OAUTH_TOKENS,
        "Remove on the web does not revoke the grant at the provider",
        "account_binding/binding.py",
        "detail=WEB_REMOVAL\n        )\n        await self._revoke_grant(removed)\n",
        "detail=WEB_REMOVAL\n        )\n",
    ),
    # Issue 10, resume: A command run unseen after connecting
    Removal(
        RESUMED_UNSEEN,
        "the box starts ticked for every command",
        "web/resume.py",
        "        return not self.changes_data",
        "        return True",
    ),
    Removal(
        RESUMED_UNSEEN,
        "Connect without the box ticked keeps the command",
        "web/binding_pages.py",
        "        await services.bindings.drop_resume(nonce)",
        "        pass",
    ),
    Removal(
        RESUMED_UNSEEN,
        "a subcommand that does not declare counts as read-only",
        "bolt_app/commands/interface.py",
        "    changes_data: bool = True",
        "    changes_data: bool = False",
    ),
    Removal(
        RESUMED_UNSEEN,
        "the confirm page shows the command unescaped",
        "web/templates/confirm.html",
        "{{ resume.typed | cap(340) }}",
        "{{ resume.typed | safe }}",
    ),
    Removal(
        RESUMED_UNSEEN,
        "a command of any length is kept, so the page cannot show it whole",
        "account_binding/resume.py",
        "        if not text or len(text) > MAX_RESUME_TEXT:",
        "        if not text:",
    ),
    Removal(
        RESUMED_UNSEEN,
        "a command unknown now counts as read-only",
        "bolt_app/resume.py",
        "        return not (isinstance(parsed, Invocation) and not parsed.subcommand.changes_data)",
        "        return isinstance(parsed, Invocation) and parsed.subcommand.changes_data",
    ),
    # Issue 10, resume: A resumed command run twice, or for someone else
    Removal(
        RESUMED_TWICE,
        "taking the command leaves it with the link",
        "account_binding/sqlite_store.py",
        '                    "WHERE nonce_hash = ?",\n'
        "                    [nonce_hash],\n"
        "                )\n"
        "                return StoredResume(",
        '                    "WHERE 0",\n'
        "                    [],\n"
        "                )\n"
        "                return StoredResume(",
    ),
    Removal(
        RESUMED_TWICE,
        "a link not consumed by binding hands out its command",
        "account_binding/sqlite_store.py",
        """"AND ended_reason = 'bound' AND resume_text IS NOT NULL",""",
        """"AND resume_text IS NOT NULL",""",
    ),
    Removal(
        RESUMED_TWICE,
        "a binding that is not the link's takes its command",
        "account_binding/binding.py",
        "        ) or binding.user_id != user.id:",
        "        ) and False:",
    ),
    Removal(
        RESUMED_TWICE,
        "a newer link leaves the older links' commands",
        "account_binding/sqlite_store.py",
        '''"WHERE scope_id = ? AND slack_user_id = ? AND nonce_hash != ? "''',
        '''"WHERE 0 AND scope_id = ? AND slack_user_id = ? AND nonce_hash != ? "''',
    ),
    # Issue 10, resume: A command's response_url kept or used too long
    Removal(
        RESUME_URL,
        "the response_url is stored in the clear",
        "account_binding/binding.py",
        "        return self._cipher.encrypt(url) if url else None",
        "        return url",
    ),
    Removal(
        RESUME_URL,
        "a response_url older than 30 minutes is posted to",
        "account_binding/resume.py",
        "and now - self.issued_at < RESPONSE_URL_LIFETIME_SECONDS",
        "and True",
    ),
    Removal(
        RESUME_URL,
        "a post the response_url refuses is not sent by DM",
        "bolt_app/resume.py",
        "            self._response_url = None  # expired, used up or refused: DMs from now on\n"
        "        if await self._dm(self._user_id, reply):",
        "            return False\n        if await self._dm(self._user_id, reply):",
    ),
    # Issue 10, administration
    Removal(
        ADMIN_TERMINAL,
        "names from Slack are printed as they are",
        "launcher/admin_commands.py",
        r'shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)',
        "shown = text",
    ),
    Removal(
        SSO_PASSWORD,
        "an account made by single sign-on is given a password",
        "account_binding/administration.py",
        "        if password_hash == NO_PASSWORD:\n",
        "        if False:\n",
    ),
    Removal(
        ADMIN_PASSWORD,
        "the account's sessions stay open",
        "account_binding/accounts.py",
        "        await self._store.set_password_hash(user.id, password_hash)\n"
        "        await self._store.delete_sessions_of(user.id)\n",
        "        await self._store.set_password_hash(user.id, password_hash)\n",
    ),
    Removal(
        ADMIN_PASSWORD,
        "the change is not audited",
        "account_binding/administration.py",
        "        await self._audit.record(\n            AuditEvent.PASSWORD_SET,",
        "        None and await self._audit.record(\n            AuditEvent.PASSWORD_SET,",
    ),
    Removal(
        ADMIN_REMOVAL,
        "without a terminal, bindings are removed unasked",
        "launcher/admin_commands.py",
        "    if not sys.stdin.isatty():\n        raise DomainError(",
        "    if not sys.stdin.isatty():\n        return True\n        raise DomainError(",
    ),
    Removal(
        ADMIN_REMOVAL,
        "a Slack user ID bound in several workspaces removes them all",
        "account_binding/administration.py",
        "        if len(found) > 1:\n",
        "        if False:\n",
    ),
    # Issue 11, outbox: binding remove's DM, written in the removal's transaction
    Removal(
        ADMIN_REMOVAL,
        "binding remove writes no DM to the outbox",
        "account_binding/administration.py",
        "            binding = await self._bindings.unbind(row.binding.identity, actor, NOTICE)",
        "            binding = await self._bindings.unbind(row.binding.identity, actor)",
    ),
    Removal(
        ADMIN_REMOVAL,
        "the Slack person is not told",
        "launcher/admin_commands.py",
        "await slack.tell(row) if slack else NOT_TOLD",
        "NOT_TOLD",
    ),
    Removal(
        ADMIN_REMOVAL,
        "a removal is not audited as the administrator's",
        "launcher/admin_commands.py",
        "            chosen, Actor(client=CLIENT)\n",
        "            chosen, Actor()\n",
    ),
    Removal(
        BROAD_SCOPES,
        "users:read.email is asked for without REQUIRE_EMAIL_MATCH",
        "launcher/manifest.py",
        "    if settings.require_email_match:\n",
        "    if True:\n",
    ),
    Removal(
        BROAD_SCOPES,
        "Sign in with Slack's scope and redirect URL are asked for without VERIFY_SLACK_IDENTITY",
        "launcher/manifest.py",
        "    if settings.verify_slack_identity:\n",
        "    if True:\n",
    ),
]

# Issue 10, App Home and the shortcut "Connect account".
HOME_TAB = "The Home tab or the shortcut acting for someone else"

REMOVALS += [
    Removal(
        HOME_TAB,
        "an interaction acts for the ID a button carries rather than its clicker",
        "bolt_app/interaction_payload.py",
        'user_id = _slack_id(user.get("id"), "user.id", wrong, required=True)',
        'user_id = _slack_id(((body.get("actions") or [{}])[0]).get("value") or user.get("id"),'
        ' "user.id", wrong, required=True)',
    ),
    Removal(
        HOME_TAB,
        "events and interactions from outside the installation are handled",
        "bolt_app/connect_by_dm.py",
        "    if where.admits(identity):",
        "    if True:",
    ),
    Removal(
        HOME_TAB,
        "Disconnect without Slack's confirmation dialog",
        "bolt_app/home_tab.py",
        '        "confirm": {\n            "title"',
        '        "unconfirmed": {\n            "title"',
    ),
    Removal(
        HOME_TAB,
        "the internal user name unescaped on the Home tab",
        "bolt_app/home_tab.py",
        'f"*{escape(state.username)}*.',
        'f"*{state.username}*.',
    ),
    Removal(
        HOME_TAB,
        "a stale tab's Disconnect removes whatever binding the person has now",
        "bolt_app/listeners/actions/home_buttons.py",
        "            await services.bindings.unbind_binding(\n"
        '                identity, public_id, Actor(client=f"slack:{identity.user_id}")\n'
        "            )",
        '            await services.bindings.unbind(identity, Actor(client=f"slack:{identity.user_id}"))',
    ),
    Removal(
        HOME_TAB,
        "the shortcut listened for whatever BINDING_TRIGGERS says",
        "bolt_app/listeners/shortcuts/connect_account.py",
        '    if "shortcut" in binding_triggers:',
        "    if True:",
    ),
]

# Issue 10, the review's findings
REMOVALS += [
    Removal(
        SLACK_GONE,
        "a user_change delivered for another installation is acted on",
        "bolt_app/listeners/events/lifecycle.py",
        "    if installation is not None and not delivered_to(body, installation):",
        "    if False:",
    ),
    Removal(
        RESUME_URL,
        "a response_url that is not Slack's is kept for the resumed command",
        "bolt_app/listeners/commands/app_command.py",
        "    if response_url is not None and not is_slack_response_url(",
        "    if False and not is_slack_response_url(",
    ),
    Removal(
        RESUME_URL,
        "a resent link leaves the older links' commands and response_urls",
        "account_binding/sqlite_store.py",
        "                _keep_resume(db, new_hash, identity, None, None)\n",
        "",
    ),
]

# Issue 11, outbox: the confirmation DMs
REMOVALS += [
    Removal(
        UNSEEN,
        "the DM is written after the binding's transaction, in one of its own",
        "account_binding/sqlite_store.py",
        "                if notice is not None:  # Issue 11, outbox: the DM, in this transaction\n"
        "                    username = sqlite_outbox.username_of(db, user_id)\n"
        '                    sqlite_outbox.enqueue(db, notice, made, {"username": username}, now)\n'
        "                return made\n"
        "\n"
        "        return self._outbox_written(await self._run(complete), notice)\n",
        "                return made\n"
        "\n"
        "        made = await self._run(complete)\n"
        "        if notice is not None:\n"
        "\n"
        "            def write(db: Database) -> None:\n"
        "                with _write(db):\n"
        "                    username = sqlite_outbox.username_of(db, user_id)\n"
        '                    sqlite_outbox.enqueue(db, notice, made, {"username": username}, now)\n'
        "\n"
        "            await self._run(write)\n"
        "        return self._outbox_written(made, notice)\n",
    ),
    Removal(
        UNSEEN,
        "a DM Slack refuses for now is dropped, not retried",
        "bolt_app/outbox_sender.py",
        "            if status == 429 or status >= 500 or code in TEMPORARY_ERRORS:",
        "            if False:",
    ),
    Removal(
        UNSEEN,
        "a row whose sender stopped or died holding it is never sent",
        "account_binding/sqlite_outbox.py",
        '        "AND (lease_until IS NULL OR lease_until <= ?) "',
        '        "AND lease_until IS NULL AND ? IS NOT NULL "',
    ),
    Removal(
        UNSEEN,
        "two senders may lease one row at once",
        "account_binding/sqlite_outbox.py",
        '        "AND (lease_until IS NULL OR lease_until <= ?) "',
        '        "AND ? IS NOT NULL "',
    ),
    Removal(
        UNSEEN,
        "a DM found older than OUTBOX_MAX_AGE is sent all the same",
        "bolt_app/outbox_sender.py",
        "        if self._clock() - entry.created_at > self._max_age:\n"
        "            return await self._drop_old(entry)\n",
        "",
    ),
    Removal(
        UNSEEN,
        "a DM Slack keeps refusing is retried past OUTBOX_MAX_AGE",
        "bolt_app/outbox_sender.py",
        "        if now + delay - entry.created_at > self._max_age:",
        "        if False:",
    ),
    # Issue 11, outbox: head-of-line (attack11)
    Removal(
        UNSEEN,
        "one DM Slack sits on holds up every DM written after it",
        "bolt_app/outbox_sender.py",
        "        free = CONCURRENCY - len(sending)\n        if free <= 0:\n            return 0\n",
        "        free = 0 if sending else CONCURRENCY\n        if free <= 0:\n            return 0\n",
    ),
]

# Issue 11, socket: each Slack delivery acts once; Socket Mode turned off
DELIVERED_TWICE = "A Slack delivery acting twice"
LINK_DISABLED = "Socket Mode turned off, or the app-level token revoked"
REMOVALS += [
    Removal(
        DELIVERED_TWICE,
        "an envelope_id delivered again is acted on again",
        "bolt_app/app.py",
        "        if self.redeliveries.repeated_envelope(envelope_id):",
        "        if False:",
    ),
    Removal(
        DELIVERED_TWICE,
        "an event's retry arriving while the first delivery is handled acts too",
        "bolt_app/redelivery.py",
        "        if not self._events.add(event_id):\n            return True\n",
        "        self._events.add(event_id)\n",
    ),
    Removal(
        DELIVERED_TWICE,
        "handled events are not looked up in the database (a retry after a restart acts)",
        "bolt_app/redelivery.py",
        "        return handled\n",
        "        return False\n",
    ),
    Removal(
        DELIVERED_TWICE,
        "handled events are not recorded in the database",
        "bolt_app/redelivery.py",
        "        if self._ledger is None or event_type in SLACK_EVENTS:",
        "        if True:",
    ),
    Removal(
        DELIVERED_TWICE,
        "a delivery no listener took is recorded, so its retry would be dropped",
        "bolt_app/app.py",
        "        if work.exception() is None and work.result().status == 200:",
        "        if True:",
    ),
    Removal(
        LINK_DISABLED,
        "link_disabled is taken for a refresh: the app reconnects again and again",
        "bolt_app/socket_connection.py",
        '        if reason == "link_disabled":',
        '        if reason == "link_disabled" and False:',
    ),
    Removal(
        LINK_DISABLED,
        "a half-open connection is never noticed",
        "bolt_app/socket_connection.py",
        "            if silent > self.timings.receive_timeout:",
        "            if False:",
    ),
    # Issue 11, socket (attack11 fix): a flapping connection backs off.
    Removal(
        LINK_DISABLED,
        "a connection ending right after hello is replaced at once, a reconnect storm",
        "bolt_app/socket_connection.py",
        "            self._flaps += 1\n",
        "            self._flaps = 0\n",
    ),
]

# Issue 11, internal-api: the internal application slow, down or failing
REMOVALS += [
    Removal(
        SLOW_INTERNAL_APP,
        "no whole-call deadline (the pooled session has none of its own: a slow or trickling answer holds on)",
        "bolt_app/internal_api.py",
        "                asyncio.timeout(self._timeout),",
        "                asyncio.timeout(None),",
    ),
    Removal(
        SLOW_INTERNAL_APP,
        "an abandoned handler can still answer the person",
        "bolt_app/listeners/commands/handlers.py",
        "            if not gate.open:",
        "            if False:",
    ),
    Removal(
        SLOW_INTERNAL_APP,
        "an abandoned handler can still call the internal application",
        "bolt_app/listeners/commands/handlers.py",
        "        gate.close()\n        api.stop()\n",
        "        gate.close()\n",
    ),
    Removal(
        SLOW_INTERNAL_APP,
        "the credential is asked on the handler's loop (a refresh dies with its command)",
        "bolt_app/listeners/commands/handlers.py",
        "            credential = _OnLoop(credential, main_loop)\n",
        "            pass\n",
    ),
    Removal(
        SLOW_INTERNAL_APP,
        "a change that may have reached the application is said not to have been done",
        "bolt_app/listeners/commands/handlers.py",
        '    done: messages.Done = "maybe" if api.may_have_changed else "nothing"',
        '    done: messages.Done = "nothing"',
    ),
    Removal(
        SLOW_INTERNAL_APP,
        "an application that is down is said maybe to have acted",
        "bolt_app/internal_api.py",
        "reached=sending.sent",
        "reached=True",
    ),
    # Issue 12, aio: the pooled aiohttp session
    Removal(
        SLOW_INTERNAL_APP,
        "a request whose connection broke is sent again (aiohttp's re-send of idempotent requests)",
        "bolt_app/internal_api.py",
        "                client._retry_connection = False\n",
        "",
    ),
    Removal(
        CREDENTIAL_ELSEWHERE,
        "the pooled session takes a proxy from the environment (HTTP_PROXY)",
        "bolt_app/internal_api.py",
        "                    trust_env=False,",
        "                    trust_env=True,",
    ),
]

# Issue 11, operations: backups, and the example reverse proxy in deploy/
BACKUP_READ = "A backup read by someone else"
FORGED_THROUGH_PROXY = "Headers forged through the reverse proxy"
REMOVALS += [
    Removal(
        BACKUP_READ,
        "backup files take the umask's mode",
        "launcher/backup.py",
        "os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE, dir_fd=private_fd",
        "os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=private_fd",
    ),
    Removal(
        BACKUP_READ,
        "a new backup directory takes the umask's mode",
        "launcher/backup.py",
        "            directory.mkdir(mode=0o700, parents=True)\n            os.chmod(directory, 0o700)",
        "            directory.mkdir(parents=True)",
    ),
    Removal(
        BACKUP_READ,
        "a backup replaces a file of its name",
        "launcher/backup.py",
        "        if key is not None and _exists(final_key, dir_fd):\n            continue\n"
        "        try:\n            _link(directory, copy, final, private_fd, dir_fd)",
        "        try:\n"
        "            os.replace(copy.name, final, src_dir_fd=private_fd, dst_dir_fd=dir_fd)",
    ),
    Removal(
        BACKUP_READ,
        "a backup writes SECRET_KEY from the environment beside the copy",
        "launcher/backup.py",
        '        return "environment", None',
        '        return "environment", settings.secret_key()',
    ),
    # Issue 11, attack review: DIR trusted only when it is this user's own
    Removal(
        BACKUP_READ,
        "a backup follows a DIR that is a symbolic link",
        "launcher/backup.py",
        "fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)",
        "fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)",
    ),
    Removal(
        BACKUP_READ,
        "a backup goes into a DIR group or others can write",
        "launcher/backup.py",
        "    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):",
        "    if status.st_mode & 0:",
    ),
    Removal(
        BACKUP_READ,
        "a backup goes into a DIR another user owns",
        "launcher/backup.py",
        "    if status.st_uid != os.geteuid():",
        "    if status.st_uid == -1:",
    ),
    Removal(
        BACKUP_READ,
        "a backup links whatever file is at its temporary name",
        "launcher/backup.py",
        "    return (there.st_dev, there.st_ino) == (ours.st_dev, ours.st_ino)",
        "    return True",
    ),
    Removal(
        FORGED_THROUGH_PROXY,
        "nginx passes on the X-Forwarded-User a client sends",
        "deploy/nginx.conf",
        '    proxy_set_header X-Forwarded-User  "";\n',
        "",
    ),
    Removal(
        FORGED_THROUGH_PROXY,
        "nginx does not name the client in X-Forwarded-For",
        "deploy/nginx.conf",
        "    proxy_set_header X-Forwarded-For   $remote_addr;\n",
        "",
    ),
    Removal(
        FORGED_THROUGH_PROXY,
        "nginx passes /metrics from anywhere",
        "deploy/nginx.conf",
        "        deny all;\n",
        "",
    ),
    # Issue 12, fast: the pooled internal API client
    Removal(
        POOLED_CLIENT,
        "the pooled internal API client keeps cookies",
        "bolt_app/internal_api.py",
        "                    cookie_jar=aiohttp.DummyCookieJar(),\n",
        "",
    ),
]

# Issue 11, durability
REMOVALS += [
    Removal(
        BURST,
        "a command that comes while many wait on their answer is not acknowledged at once",
        "bolt_app/bursts.py",
        'if envelope_type != "slash_commands" or self.waiting < self.at_once:',
        "if True:",
    ),
    Removal(
        BURST,
        "the listener says One moment again after the handler did",
        "bolt_app/listeners/commands/app_command.py",
        "        if acknowledged_at_once(context):",
        "        if False:",
    ),
]

# Issue 11, health: /healthz, /readyz and /metrics
REMOVALS += [
    Removal(
        METRICS_READ,
        "/metrics answers without METRICS_TOKEN's bearer token",
        "web/health.py",
        "        if self.metrics_token is None:\n            return True",
        "        if True:\n            return True",
    ),
    Removal(
        METRICS_READ,
        "/metrics takes any bearer token",
        "web/health.py",
        "        if hmac.compare_digest(given.encode(), self.metrics_token.encode()):",
        "        if given:",
    ),
    Removal(
        METRICS_READ,
        "METRICS_TOKEN is not handed to the site",
        "launcher/compose.py",
        "            metrics_token=_secret(settings.metrics_token) if settings.metrics_token else None,",
        "            metrics_token=None,",
    ),
    Removal(
        METRICS_READ,
        "the probes and /metrics are authenticated like pages",
        "web/authentication.py",
        'MACHINE_PATHS = ("/healthz", "/readyz", "/metrics")',
        'MACHINE_PATHS = ("/healthz",)',
    ),
    Removal(
        METRICS_IDENTIFIERS,
        "/readyz shows the store's error, which names the database's path",
        "web/health.py",
        '            return _database_failure("unwritable", self.deadline_seconds)',
        '            return {"ok": False, "error": "unwritable", "detail": str(error)}',
    ),
    Removal(
        PROBE_HANGS,
        "/readyz waits for the database's lock as long as any write",
        "web/health.py",
        "            await self.check_database(self.deadline_seconds)",
        "            await self.check_database(30.0)",
    ),
    Removal(
        PROBE_HANGS,
        "/readyz does not check the database",
        "web/health.py",
        "            await self.check_database(self.deadline_seconds)",
        "            pass",
    ),
    Removal(
        PROBE_HANGS,
        "/readyz is ready whatever the Slack connection's state",
        "web/health.py",
        '        slack: dict[str, Any] = {"ok": connection.serving, "state": connection.state}',
        '        slack: dict[str, Any] = {"ok": True, "state": connection.state}',
    ),
]

# Issue 11, the review's fixes
REMOVALS += [
    Removal(
        METRICS_IDENTIFIERS,
        "any lower-case Slack error code becomes a label (whoever answers adds series)",
        "monitoring/metrics.py",
        "    if error in SLACK_ERROR_CODES:\n        return error",
        "    if error.isidentifier():\n        return error",
    ),
    Removal(
        PROBE_HANGS,
        "/readyz only takes the lock, writing nothing (a read-only database looks writable)",
        "account_binding/sqlite_store.py",
        '            conn.execute(f"PRAGMA user_version = {int(version)}")',
        "            pass",
    ),
    Removal(
        METRICS_READ,
        "METRICS_TOKEN may be short or guessable",
        "account_binding/settings.py",
        '            check_secret_key(value, "METRICS_TOKEN")',
        "            pass",
    ),
    Removal(
        DELIVERED_TWICE,
        "envelope IDs are remembered whole, however long",
        "bolt_app/redelivery.py",
        "    if len(envelope_id) <= MAX_KEY_LENGTH:\n        return envelope_id",
        "    if True:\n        return envelope_id",
    ),
]
