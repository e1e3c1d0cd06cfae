"""The SQLite schema, created and upgraded by sqlite-utils migrations.

Add a new function at the end to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.db import Table
from sqlite_utils.migrations import Migrations

migrations = Migrations("account_binding")


@migrations()
def m001_initial(db: Database) -> None:
    _table(db, "users").create(
        {"id": int, "username": str, "email": str, "password_hash": str, "created_at": int},
        pk="id",
        not_null={"username", "email", "password_hash", "created_at"},
    )
    _table(db, "users").create_index(["username"], unique=True)

    _table(db, "api_tokens").create(
        {
            "id": int,
            "user_id": int,
            "token_hash": str,
            "label": str,
            "created_at": int,
            "revoked_at": int,
        },
        pk="id",
        not_null={"user_id", "token_hash", "label", "created_at"},
        foreign_keys=[("user_id", "users", "id")],
    )
    _table(db, "api_tokens").create_index(["token_hash"], unique=True)

    _table(db, "binding_requests").create(
        {
            "nonce_hash": str,
            "scope_id": str,
            "slack_user_id": str,
            "team_id": str,
            "enterprise_id": str,
            "user_name": str,
            "team_name": str,
            "app_id": str,
            "created_at": int,
            "expires_at": int,
            "used_at": int,
        },
        pk="nonce_hash",
        not_null={
            "scope_id",
            "slack_user_id",
            "team_id",
            "user_name",
            "team_name",
            "created_at",
            "expires_at",
        },
    )
    _table(db, "binding_requests").create_index(["scope_id", "slack_user_id"])
    _table(db, "binding_requests").create_index(["expires_at"])

    _table(db, "bindings").create(
        {
            "id": int,
            "user_id": int,
            "scope_id": str,
            "slack_user_id": str,
            "team_id": str,
            "enterprise_id": str,
            "user_name": str,
            "team_name": str,
            "app_id": str,
            "api_token_id": int,
            "api_token_ciphertext": str,
            "created_at": int,
        },
        pk="id",
        not_null={
            "user_id",
            "scope_id",
            "slack_user_id",
            "team_id",
            "api_token_id",
            "api_token_ciphertext",
            "created_at",
        },
        foreign_keys=[("user_id", "users", "id"), ("api_token_id", "api_tokens", "id")],
    )
    # A Slack identity is bound at most once.
    _table(db, "bindings").create_index(["scope_id", "slack_user_id"], unique=True)
    _table(db, "bindings").create_index(["user_id"])

    _table(db, "sessions").create(
        {
            "token_hash": str,
            "user_id": int,
            "csrf_token": str,
            "created_at": int,
            "last_seen_at": int,
        },
        pk="token_hash",
        not_null={"user_id", "csrf_token", "created_at", "last_seen_at"},
        foreign_keys=[("user_id", "users", "id")],
    )

    _table(db, "todos").create(
        {"id": int, "user_id": int, "title": str, "done": int, "created_at": int},
        pk="id",
        not_null={"user_id", "title", "done", "created_at"},
        defaults={"done": 0},
        foreign_keys=[("user_id", "users", "id")],
    )
    _table(db, "todos").create_index(["user_id"])


@migrations()
def m002_audit_and_login_failures(db: Database) -> None:
    _table(db, "audit_events").create(
        {
            "id": int,
            "at": int,
            "event": str,
            "user_id": int,
            "username": str,
            "scope_id": str,
            "slack_user_id": str,
            "client": str,
            "detail": str,
        },
        pk="id",
        not_null={"at", "event"},
    )
    _table(db, "audit_events").create_index(["at"])
    _table(db, "audit_events").create_index(["event", "at"])
    _table(db, "audit_events").create_index(["scope_id", "slack_user_id"])

    _table(db, "login_failures").create(
        {"id": int, "key": str, "at": int}, pk="id", not_null={"key", "at"}
    )
    _table(db, "login_failures").create_index(["key", "at"])


@migrations()
def m003_link_command_bound_name_session_link(db: Database) -> None:
    # The slash command a link was issued from, so pages can name it.
    _table(db, "binding_requests").add_column("command", str)
    # The Slack person's real name as Slack reported it at binding.
    _table(db, "bindings").add_column("real_name", str)
    # The hash of the link a login was made for: only that session may confirm that link.
    _table(db, "sessions").add_column("link_hash", str)


@migrations()
def m004_token_expiry_and_tokenless_bindings(db: Database) -> None:
    # When a personal API token stops working (API_TOKEN_TTL); NULL: it does not expire.
    _table(db, "api_tokens").add_column("expires_at", int)
    # A binding made under ACT_AS=service has no personal token: both columns may be NULL.
    _table(db, "bindings").transform(
        not_null={"api_token_id": False, "api_token_ciphertext": False}
    )


@migrations()
def m005_todos_leave_for_the_stand_in(db: Database) -> None:
    # The to-do items belong to the stand-in internal application (stand_in/), which keeps
    # its own migrations and adopts this table. m001 made it in every database: an empty one
    # is dropped, so a site whose INTERNAL_API_URL points elsewhere has no to-do table; one
    # holding items is left for the stand-in (people's items are never dropped).
    todos = _table(db, "todos")
    if todos.exists() and todos.count == 0:
        todos.drop()


@migrations()
def m006_single_sign_on_and_oauth_grants(db: Database) -> None:
    # Who a user is at an OpenID provider or authenticating proxy: (issuer, subject) is the
    # key (OpenID Connect Core 1.0 section 5.7: sub is unique only within its issuer), never
    # the email address. AUTH=proxy uses the issuer "proxy:" + PROXY_USER_HEADER.
    _table(db, "user_identities").create(
        {"id": int, "user_id": int, "issuer": str, "subject": str, "created_at": int},
        pk="id",
        not_null={"user_id", "issuer", "subject", "created_at"},
        foreign_keys=[("user_id", "users", "id")],
    )
    _table(db, "user_identities").create_index(["issuer", "subject"], unique=True)
    _table(db, "user_identities").create_index(["user_id"])
    # Authorization requests under way (OIDC login, the OAuth grant at binding, Sign in with
    # Slack), kept on the server: the state's SHA-256 is the key; `browser_hash` is the
    # SHA-256 of the flow cookie of the browser that began it; single use (`used_at`).
    _table(db, "authorization_flows").create(
        {
            "state_hash": str,
            "purpose": str,
            "browser_hash": str,
            "nonce": str,
            "code_verifier": str,
            "next_path": str,
            "link_hash": str,
            "session_hash": str,
            "created_at": int,
            "expires_at": int,
            "used_at": int,
        },
        pk="state_hash",
        not_null={
            "purpose",
            "browser_hash",
            "nonce",
            "code_verifier",
            "next_path",
            "created_at",
            "expires_at",
        },
    )
    _table(db, "authorization_flows").create_index(["expires_at"])
    # ACT_AS=oauth2: a binding's OAuth tokens (encrypted under SECRET_KEY) and the lease that
    # serialises their refresh (`refreshing_until`); removed with the binding.
    _table(db, "oauth_grants").create(
        {
            "binding_id": int,
            "issuer": str,
            "subject": str,
            "access_token_ciphertext": str,
            "refresh_token_ciphertext": str,
            "expires_at": int,
            "scope": str,
            "refreshing_until": int,
            "updated_at": int,
        },
        pk="binding_id",
        not_null={"issuer", "subject", "access_token_ciphertext", "updated_at"},
        foreign_keys=[("binding_id", "bindings", "id")],
    )
    # A login made for a link under ACT_AS=oauth2 with the login's provider keeps that
    # consent's tokens here (encrypted) until Connect moves them to oauth_grants; and the link
    # whose Slack identity this session proved (VERIFY_SLACK_IDENTITY), as its SHA-256.
    _table(db, "sessions").add_column("grant_ciphertext", str)
    _table(db, "sessions").add_column("slack_verified_link_hash", str)


@migrations()
def m007_link_lifecycle_and_account_management(db: Database) -> None:
    # Why a link stopped working before it expired (`ended_reason`): "bound" (used to bind),
    # "replaced" (a newer link was issued), "cancelled", "refused" (email or Slack identity
    # mismatch), "ended" (its Slack user or workspace went away). NULL for a link that is still
    # usable or simply expired (links voided before this migration count as used).
    _table(db, "binding_requests").add_column("ended_reason", str)
    # The command that started binding, run by itself once the binding is made (resume): its
    # text (as the person typed it, unescaped) and its response_url.
    _table(db, "binding_requests").add_column("resume_text", str)
    _table(db, "binding_requests").add_column("resume_response_url", str)
    # When the Slack side last acted with a binding (the web page shows it).
    _table(db, "bindings").add_column("last_used_at", int)
    # An internal user who is disabled keeps their row; no new binding can reach them.
    _table(db, "users").add_column("disabled_at", int)
    # Why a Slack person's binding ended, when they must be told rather than sent a new link
    # (their internal user was disabled or removed): one row per Slack identity, until they
    # bind again.
    _table(db, "ended_bindings").create(
        {
            "scope_id": str,
            "slack_user_id": str,
            "user_id": int,
            "username": str,
            "reason": str,
            "ended_at": int,
        },
        pk=("scope_id", "slack_user_id"),
        not_null={"scope_id", "slack_user_id", "username", "reason", "ended_at"},
    )
    # "Send me a new link in Slack" from the expired-link page: when each Slack person last
    # had one sent, to allow at most one a minute.
    _table(db, "link_resends").create(
        {"scope_id": str, "slack_user_id": str, "sent_at": int},
        pk=("scope_id", "slack_user_id"),
        not_null={"scope_id", "slack_user_id", "sent_at"},
    )
    # Events API deliveries already handled, by event_id (Slack retries an event up to three
    # times); purged after a day.
    _table(db, "slack_events").create(
        {"event_id": str, "received_at": int},
        pk="event_id",
        not_null={"event_id", "received_at"},
    )
    _table(db, "slack_events").create_index(["received_at"])

    # Issue 10, unbinding: each binding's public ID, random and never reused. The integer IDs
    # are reused (SQLite gives a new row the highest ID plus one, so removing the newest
    # binding frees its ID), so what Slack's Disconnect button and the web's Remove carry is
    # this, and a stale question can never name a newer binding. A trigger sets it on every
    # insert, whoever inserts; existing bindings get one here. A later migration that rebuilds
    # the table (sqlite-utils `transform`) drops the trigger: it must execute
    # BINDING_PUBLIC_ID_TRIGGER again (test_unbinding_store.py checks that new rows get one).
    _table(db, "bindings").add_column("public_id", str)
    db.execute("UPDATE bindings SET public_id = lower(hex(randomblob(16))) WHERE public_id IS NULL")
    db.execute(BINDING_PUBLIC_ID_TRIGGER)


# Issue 11, outbox: the confirmation DMs (bound, unbound, ended, merged, removed_by_admin), each written in the
# same transaction as the change it reports and deleted once Slack has taken it
# (account_binding/outbox.py). Times are Unix seconds with fractions (REAL): `created_at`
# (when the change committed; OUTBOX_MAX_AGE counts from it), `next_attempt_at` (due), and
# the lease a sender holds while it sends (`lease_until`, `lease_owner`: a random token per
# claim). `facts` is JSON (the user name, the reason: never a message text); `binding_id`
# may name a binding that is gone (an unbind), so it has no foreign key.
@migrations()
def m008_outbox(db: Database) -> None:
    _table(db, "outbox").create(
        {
            "id": int,
            "kind": str,
            "binding_id": int,
            "scope_id": str,
            "slack_user_id": str,
            "team_id": str,
            "enterprise_id": str,
            "facts": str,
            "created_at": float,
            "attempts": int,
            "next_attempt_at": float,
            "lease_until": float,
            "lease_owner": str,
            "last_error": str,
        },
        pk="id",
        not_null={
            "kind",
            "scope_id",
            "slack_user_id",
            "team_id",
            "facts",
            "created_at",
            "attempts",
            "next_attempt_at",
        },
    )
    _table(db, "outbox").create_index(["next_attempt_at"])


# Issue 12, growth: indexes for the statements that walked a whole table, each found with
# EXPLAIN QUERY PLAN on a database of a million bindings (tests/test_query_plans.py checks
# that each statement uses its index):
# - users by email, as every new account is checked (`email = ? COLLATE NOCASE`): an index
#   in the same collation, or adding an account read every user (9 ms at 100 thousand);
# - sessions by user_id, as a login keeps its user's newest sessions, and a user's sessions
#   end when they are disabled, removed or given a new password;
# - api_tokens by user_id, as a disabled user's tokens are revoked;
# - bindings by public_id, as Slack's Disconnect button and the web's Remove name a binding;
# - bindings by api_token_id, the foreign key SQLite checks when a token row is deleted
#   (removing a user), which otherwise reads every binding for each token;
# - ended_bindings by user_id, as a user is enabled again or removed.
@migrations()
def m009_indexes_that_keep_costs_flat(db: Database) -> None:
    db.execute("CREATE INDEX idx_users_email_nocase ON users (email COLLATE NOCASE)")
    _table(db, "sessions").create_index(["user_id"])
    _table(db, "api_tokens").create_index(["user_id"])
    _table(db, "bindings").create_index(["public_id"])
    _table(db, "bindings").create_index(["api_token_id"])
    _table(db, "ended_bindings").create_index(["user_id"])


#: Issue 10, unbinding: gives every new binding its public ID (see m007).
BINDING_PUBLIC_ID_TRIGGER = (
    "CREATE TRIGGER bindings_public_id AFTER INSERT ON bindings "
    "FOR EACH ROW WHEN NEW.public_id IS NULL BEGIN "
    "UPDATE bindings SET public_id = lower(hex(randomblob(16))) WHERE id = NEW.id; END"
)


def _table(db: Database, name: str) -> Table:
    return db.table(name)
