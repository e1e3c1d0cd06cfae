"""The Block Kit messages the Slack side sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from account_binding import durations
from account_binding.outbox import NoticeKind, OutboxEntry

from .blocks import Block, context, section
from .blocks import Reply as Reply
from .blocks import escape as escape
from .commands.interface import Subcommand
from .commands.table import CommandTable

OPEN_LINK_ACTION = "open_association_url"

_section = section
_context = context


def _form_line(command: str, subcommand: Subcommand, app_name: str) -> str:
    does = subcommand.help.replace("{app}", app_name)
    return f"`{escape(command)} {escape(subcommand.usage)}` {escape(does)}"


def help_reply(
    table: CommandTable, command: str, app_name: str, unknown: str | None = None
) -> Reply:
    """Every subcommand in `table`, one line each: its usage and its help."""
    lines = [_form_line(command, subcommand, app_name) for subcommand in table.subcommands]
    blocks: list[Block] = []
    if unknown:
        blocks.append(_section(f"Sorry, I don't know `{escape(unknown)}`. Here is what I can do:"))
    blocks.append(
        {"type": "header", "text": {"type": "plain_text", "text": f"{app_name} in Slack"[:150]}}
    )
    # A section holds 3000 characters: a long help is split over several.
    chunk: list[str] = []
    for line in (f"• {line}" for line in lines):
        if chunk and len("\n".join([*chunk, line])) > 3000:
            blocks.append(_section("\n".join(chunk)))
            chunk = []
        chunk.append(line[:3000])
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    names = ", ".join(subcommand.name for subcommand in table.subcommands)
    return Reply(text=escape(f"{command} help: {names}"), blocks=blocks[:50])


def usage_reply(
    command: str, subcommand: Subcommand, app_name: str, reason: str | None = None
) -> Reply:
    """A known subcommand typed the wrong way: its own usage line, not the whole help, and
    what was wrong with an argument when its converter said (`reason`, plain text)."""
    line = _form_line(command, subcommand, app_name)
    blocks = [_section(f"Usage: {line}")]
    if reason:
        blocks.append(_section(escape(reason)))
    blocks.append(_context(f"`{escape(command)} help` lists everything I can do."))
    return Reply(text=f"Usage: {escape(command)} {escape(subcommand.usage)}", blocks=blocks)


def one_moment_reply() -> Reply:
    """The acknowledgement when the answer is not ready in time; the answer follows."""
    text = "One moment…"
    return Reply(text=text, blocks=[_context(text)])


def outside_installation_reply(app_name: str, kind: str) -> Reply:
    text = (
        f"This {escape(app_name)} app is installed for another Slack {kind}, so it does not "
        f"answer commands from here. Nothing was done."
    )
    return Reply(text=text, blocks=[_section(f":warning: {text}")])


def link_reply(
    url: str,
    app_name: str,
    ttl_seconds: int,
    *,
    reason: str | None = None,
    link_id: str | None = None,
    note: str | None = None,
    in_dm: bool = False,
) -> Reply:
    """The link message: why (`reason`, mrkdwn), the button that opens `url`, and the small
    print with BINDING_TTL in words. `link_id` (the SHA-256 of the link's nonce, never the
    nonce) is the button's value, so that a click on it once the link no longer works can
    be answered with a fresh one. `note` (mrkdwn) comes first: what became of an older link,
    or that a DM failed. `in_dm`: sent as a direct message, which only its recipient sees
    (the ephemeral reply says "Only you can see this message")."""
    name = escape(app_name)
    intro = reason or f"To use this command, connect your Slack account to your {name} account."
    button: Block = {
        "type": "button",
        "action_id": OPEN_LINK_ACTION,
        "text": {"type": "plain_text", "text": f"Connect your {app_name} account"[:75]},
        "url": url,
        "style": "primary",
    }
    if link_id is not None:
        button["value"] = link_id
    blocks: list[Block] = [_section(note)] if note else []
    blocks += [
        _section(f"{intro}\nOpen the link, log in to {name} if asked, and confirm."),
        {"type": "actions", "elements": [button]},
        _context(
            f"{'This message is only for you' if in_dm else 'Only you can see this message'}. "
            f"The link works once and expires in "
            f"{durations.in_words(ttl_seconds)}. Do not share it: whoever completes it with "
            f"their {name} account lets your Slack account act as them."
        ),
    ]
    return Reply(text=f"Connect your {name} account: {url}", blocks=blocks)


def already_linked_reply(app_name: str, command: str) -> Reply:
    name = escape(app_name)
    return Reply(
        text=f"Your Slack account is already connected to {name}.",
        blocks=[
            _section(
                f"Your Slack account is already connected to {name}. "
                f"Run `{escape(command)} whoami` to see which account, "
                f"or `{escape(command)} unlink` to disconnect."
            )
        ],
    )


def unlinked_reply(app_name: str, was_linked: bool) -> Reply:
    name = escape(app_name)
    text = (
        f"Done: your Slack account is no longer connected to {name}, and its access token is revoked."
        if was_linked
        else f"Your Slack account was not connected to {name}; nothing to do."
    )
    return Reply(text=text, blocks=[_section(text)])


def error_reply(message: str) -> Reply:
    """`message` is plain text (it may name what a person typed): escaped everywhere."""
    return Reply(text=escape(message), blocks=[_section(f":warning: {escape(message)}")])


def bound_dm(app_name: str, username: str) -> Reply:
    name = escape(app_name)
    return Reply(
        text=f"Your Slack account is now connected to {escape(app_name)} as {escape(username)}.",
        blocks=[
            _section(
                f"Your Slack account is now connected to {name} as *{escape(username)}*. "
                f"The app's slash command now acts in {name} on your behalf."
            ),
            _context(
                f"Not you? Disconnect at once with the slash command's `unlink`, and tell your "
                f"{name} administrator."
            ),
        ],
    )


def unbound_dm(app_name: str) -> Reply:
    name = escape(app_name)
    return Reply(
        text=f"Your Slack account is no longer connected to {escape(app_name)}.",
        blocks=[
            _section(
                f"Your Slack account is no longer connected to {name}; its access token is revoked."
            )
        ],
    )


# Issue 10, lifecycle: a binding an administrator ended by disabling or removing the account


def binding_ended_reply(
    app_name: str, command: str, username: str, reason: str, triggers: tuple[str, ...]
) -> Reply:
    """The answer to a command from a Slack person whose binding ended because an
    administrator disabled or removed (`reason`) the account `username`, instead of a link;
    with how to connect another account by the BINDING_TRIGGERS that start binding
    deliberately (`link`, the Home tab, the shortcut)."""
    name = escape(app_name)
    what = "disabled" if reason == "disabled" else "removed"
    text = (
        f"Your {name} account *{escape(username)}* was {what} by an administrator, so your "
        f"Slack account was disconnected. Ask your administrator if you think this is a "
        f"mistake."
    )
    blocks = [_section(f":warning: {text}")]
    ways = ways_to_connect(app_name, command, triggers)
    if ways:
        blocks.append(_context(f"To connect another {name} account, " + " or ".join(ways) + "."))
    return Reply(text=text, blocks=blocks)


def binding_ended_dm(app_name: str, username: str, reason: str) -> Reply:
    """The DM telling a Slack person at once that their binding ended (see
    `binding_ended_reply`)."""
    name = escape(app_name)
    what = "disabled" if reason == "disabled" else "removed"
    text = (
        f"Your Slack account was disconnected from your {name} account *{escape(username)}*, "
        f"because an administrator {what} that account; its access token is revoked. Ask "
        f"your administrator if you think this is a mistake."
    )
    return Reply(text=text, blocks=[_section(text)])


# Issue 10, unbinding: `unlink` asks first, with Disconnect and Keep it; what each answers.

#: The question's buttons. Disconnect's value is "<the binding's public ID> <slash command>".
DISCONNECT_ACTION = "unlink_disconnect"
KEEP_ACTION = "unlink_keep"


def unlink_question_reply(app_name: str, username: str, public_id: str, command: str) -> Reply:
    """`unlink` from a connected person: the question, naming the account they act as, with
    Disconnect (danger) carrying the binding's public ID, and Keep it."""
    name = escape(app_name)
    question = f"Disconnect your Slack account from {name} (connected as *{escape(username)}*)?"
    return Reply(
        text=f"Disconnect your Slack account from {name} (connected as {escape(username)})?",
        blocks=[
            _section(question),
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": DISCONNECT_ACTION,
                        "text": {"type": "plain_text", "text": "Disconnect"},
                        "style": "danger",
                        "value": f"{public_id} {command}"[:2000],
                    },
                    {
                        "type": "button",
                        "action_id": KEEP_ACTION,
                        "text": {"type": "plain_text", "text": "Keep it"},
                        "value": "keep",
                    },
                ],
            },
            _context(
                f"Disconnecting revokes the app's access to {name} as you at once. "
                f"To use `{escape(command)}` again later, you connect again."
            ),
        ],
    )


def disconnected_reply(app_name: str, command: str | None) -> Reply:
    """Disconnect, done: replaces the question."""
    name = escape(app_name)
    text = (
        f"Disconnected from {name}: your Slack account no longer acts as you there, and the "
        f"app's access is revoked."
    )
    return Reply(
        text=text,
        blocks=[
            _section(text),
            _context(f"To connect again, run {_typed(command, 'link')}."),
        ],
    )


def kept_reply() -> Reply:
    """Keep it: replaces the question."""
    text = "Nothing was changed."
    return Reply(text=text, blocks=[_section(text)])


def already_disconnected_reply(app_name: str) -> Reply:
    """Disconnect, when the person is no longer connected (removed meanwhile)."""
    text = (
        f"Your Slack account is no longer connected to {escape(app_name)}: it was disconnected "
        f"already, so nothing was changed."
    )
    return Reply(text=text, blocks=[_section(text)])


def stale_question_reply(app_name: str, username: str, command: str | None) -> Reply:
    """Disconnect on a question about a connection that has ended, when the person has
    connected again since: the newer connection is left alone."""
    name = escape(app_name)
    text = (
        f"This question was about an earlier connection to {name}, which was already "
        f"disconnected, so nothing was changed."
    )
    return Reply(
        text=text,
        blocks=[
            _section(text),
            _context(
                f"You have connected again since, as *{escape(username)}*. To disconnect that, "
                f"run {_typed(command, 'unlink')} again."
            ),
        ],
    )


def _typed(command: str | None, subcommand: str) -> str:
    """How to type `subcommand` (mrkdwn): "`/acme link`", or, when the slash command is not
    known, "the app's slash command with `link`"."""
    if command is None:
        return f"the app's slash command with `{escape(subcommand)}`"
    return f"`{escape(command)} {escape(subcommand)}`"


# Issue 10, the tutorial's options and never a dead button (helper "links"): the command's
# answers under BINDING_TRIGGERS and LINK_DELIVERY, and a link button's answers once its link
# no longer works.


def ways_to_connect(app_name: str, command: str, triggers: tuple[str, ...]) -> list[str]:
    """The enabled BINDING_TRIGGERS a person can use to connect, as mrkdwn lines: the `link`
    subcommand, the Home tab's Connect button, the "Connect account" shortcut."""
    ways = []
    if "link" in triggers:
        ways.append(f"run `{escape(command)} link`")
    if "home" in triggers:
        ways.append(f"press *Connect* on the Home tab of the {escape(app_name)} app")
    if "shortcut" in triggers:
        ways.append(
            "use the *Connect account* shortcut (the shortcuts button beside the message box)"
        )
    return ways


def not_connected_reply(
    app_name: str, command: str, triggers: tuple[str, ...], reason: str | None = None
) -> Reply:
    """For a person not connected, when BINDING_TRIGGERS leaves out `command`: no link, but
    how to connect with the triggers that are enabled. `reason` (mrkdwn) replaces the first
    line (a connection that expired or ended)."""
    name = escape(app_name)
    first = reason or (
        f"Your Slack account is not connected to your {name} account yet, so "
        f"`{escape(command)}` cannot act for you. Nothing was done."
    )
    ways = ways_to_connect(app_name, command, triggers)
    lines = [first]
    if ways:
        lines.append("To connect, " + ways[0] + "." if len(ways) == 1 else "To connect:")
        if len(ways) > 1:
            lines += [f"• {way[0].upper()}{way[1:]}" for way in ways]
    text = f"Your Slack account is not connected to {name} yet."
    return Reply(text=text, blocks=[_section("\n".join(lines))])


def link_sent_by_dm_reply(app_name: str, ttl_seconds: int, reason: str | None = None) -> Reply:
    """LINK_DELIVERY=dm: the ephemeral answer, pointing at the DM that carries the link."""
    name = escape(app_name)
    intro = reason or f"To use this command, connect your Slack account to your {name} account."
    where = (
        f"I sent you a link in a direct message from the *{name}* app: open the {name} app "
        f"under *Apps* in the sidebar (its Messages tab). The link expires in "
        f"{durations.in_words(ttl_seconds)}."
    )
    return Reply(
        text=f"I sent you a link in a direct message from the {name} app.",
        blocks=[_section(f"{intro}\n{where}")],
    )


#: LINK_DELIVERY=dm, when Slack did not take the DM: the ephemeral link's first line.
LINK_DM_FAILED = (
    ":warning: I could not send you a direct message, so here is the link here instead."
)

#: What had become of the link whose button was clicked, as the fresh link's first line says.
RENEWED_BECAUSE = {
    "expired": "That link expired before it was used, so here is a new one.",
    "replaced": "A newer link replaced that one, so here is a new one (only the newest link "
    "works).",
    "used": "That link was already used, so here is a new one.",
    "cancelled": "That link was cancelled, so here is a new one.",
}
NO_LONGER_WORKS = "That link no longer works, so here is a new one."


def renewed_link_reply(
    url: str, app_name: str, ttl_seconds: int, why: str, link_id: str, *, in_dm: bool = False
) -> Reply:
    """The fresh link that replaces, in place, the message whose button was clicked."""
    return link_reply(
        url,
        app_name,
        ttl_seconds,
        reason=f"Connect your Slack account to your {escape(app_name)} account.",
        link_id=link_id,
        note=f":arrows_counterclockwise: {RENEWED_BECAUSE.get(why, NO_LONGER_WORKS)}",
        in_dm=in_dm,
    )


def renewal_refused_reply(why: str, message: str) -> Reply:
    """In place of the old link message, when no fresh link could be issued: `message` (plain
    text: LinkRateLimited's) says why."""
    was = RENEWED_BECAUSE.get(why, NO_LONGER_WORKS).split(", so", 1)[0]
    text = f"{was}. {escape(message)}"
    return Reply(text=text, blocks=[_section(f":warning: {text}")])


def connected_in_place_reply(app_name: str, username: str) -> Reply:
    """In place of an old link message, for a person connected since."""
    text = (
        f"You're connected as *{escape(username)}* in {escape(app_name)}, so this link is no "
        f"longer needed."
    )
    return Reply(text=text, blocks=[_section(f":white_check_mark: {text}")])


def resent_link_dm(url: str, app_name: str, ttl_seconds: int, link_id: str) -> Reply:
    """The DM "Send me a new link in Slack" sends, from the expired-link page."""
    return link_reply(
        url,
        app_name,
        ttl_seconds,
        reason=f"Connect your Slack account to your {escape(app_name)} account.",
        link_id=link_id,
        note="Here is the new link asked for on the page of your expired one.",
        in_dm=True,
    )


# Issue 10, App Home: the commands' lines as the Home tab lists them (the help's own words).
def command_line(command: str, subcommand: Subcommand, app_name: str) -> str:
    """One subcommand as mrkdwn, escaped: "`/acme todo add <title>` adds a to-do", the line
    the help shows for it."""
    return _form_line(command, subcommand, app_name)


# Issue 10, Enterprise Grid: two bindings of one Slack person merged into one


def bindings_merged_dm(
    app_name: str, kept_username: str, kept_since: int, removed_username: str
) -> Reply:
    """The DM after a workspace joined an Enterprise Grid organisation and the person's two
    connections came under one key: which account was kept (bound at `kept_since`, Unix
    seconds) and which connection was removed. Names are escaped here."""
    name, kept, removed = escape(app_name), escape(kept_username), escape(removed_username)
    since = datetime.fromtimestamp(kept_since, UTC).strftime("%Y-%m-%d")
    when = f"<!date^{kept_since}^{{date_short}}|{since}>"
    if kept_username == removed_username:
        text = (
            f"Your Slack account was connected to {escape(app_name)} twice as "
            f"{escape(kept_username)}, from two workspaces that are now one Slack "
            "organisation. The newer connection was removed; the older one stays."
        )
        lines = [
            f"Your Slack account was connected to {name} twice, both times as *{kept}*, from "
            f"two workspaces that are now one Slack organisation, where you are one Slack "
            f"person. The older connection (since {when}) is kept; the newer one was removed "
            f"and its access revoked. Nothing changes for you."
        ]
    else:
        text = (
            f"Your Slack account was connected to {escape(app_name)} twice: as "
            f"{escape(kept_username)} and as {escape(removed_username)}. Your workspaces are "
            f"now one Slack organisation, so only the older connection, as "
            f"{escape(kept_username)}, is kept; the one as {escape(removed_username)} was "
            "removed."
        )
        lines = [
            f"Your Slack account was connected to {name} twice: as *{kept}* and as "
            f"*{removed}*, from two workspaces that are now one Slack organisation, where you "
            f"are one Slack person with one connection.",
            f"*Kept:* the older connection, as *{kept}* (since {when}). The app's slash "
            f"command acts in {name} as *{kept}*.",
            f"*Removed:* the connection as *{removed}*; its access is revoked.",
        ]
    return Reply(
        text=text,
        blocks=[
            *(_section(line) for line in lines),
            _context(
                f"To act as another {name} account, disconnect with the slash command's "
                f"`unlink` and connect again with `link`. Not you? Disconnect at once and tell "
                f"your {name} administrator."
            ),
        ],
    )


# Issue 10, administration: the DM `account-binding binding remove` sends


def removed_by_administrator_dm(app_name: str, username: str) -> Reply:
    """An administrator removed the binding of this Slack person to `username`."""
    name = escape(app_name)
    text = (
        f"An administrator disconnected your Slack account from {escape(app_name)} "
        f"(it acted as {escape(username)})."
    )
    return Reply(
        text=text,
        blocks=[
            _section(
                f"An administrator disconnected your Slack account from {name}: it no longer "
                f"acts as *{escape(username)}*, and its access is revoked."
            ),
            _context(
                f"Use the app's slash command to connect again, or ask your {name} "
                "administrator why."
            ),
        ],
    )


# Issue 11, outbox: the confirmation DMs, rendered when they are sent from what the domain
# recorded (account_binding.outbox)

#: How a merge's DM names an account that no longer exists.
GONE_ACCOUNT = "a removed account"


def notice_dm(app_name: str, entry: OutboxEntry) -> Reply | None:
    """The DM for the outbox row `entry`, rendered now from its facts (`NoticeKind` lists
    them); None when this version cannot render it (an unknown kind, a fact missing)."""
    username = entry.fact("username")
    if entry.kind == NoticeKind.BOUND and isinstance(username, str):
        return bound_dm(app_name, username)
    if entry.kind == NoticeKind.UNBOUND:
        return unbound_dm(app_name)
    if entry.kind == NoticeKind.REMOVED_BY_ADMIN and isinstance(username, str):
        return removed_by_administrator_dm(app_name, username)
    reason = entry.fact("reason")
    if entry.kind == NoticeKind.ENDED and isinstance(username, str) and isinstance(reason, str):
        return binding_ended_dm(app_name, username, reason)
    kept_since = entry.fact("kept_created_at")
    if entry.kind == NoticeKind.MERGED and isinstance(kept_since, int):
        kept, removed = entry.fact("kept_username"), entry.fact("removed_username")
        return bindings_merged_dm(
            app_name,
            kept if isinstance(kept, str) else GONE_ACCOUNT,
            kept_since,
            removed if isinstance(removed, str) else GONE_ACCOUNT,
        )
    return None


# Issue 11, internal-api: what the person reads when the internal application is slow, down
# or failing. One headline names the application and what failed; the rest says whether
# anything was done and what to do: "Acme is not responding (no answer within 15 seconds).
# Try again in a minute."

#: Whether the command may have acted: "nothing" (no request that could change anything
#: reached the application), "maybe" (a subcommand that changes data, whose request may
#: have been carried out), "read" (a subcommand that only reads).
Done = Literal["nothing", "maybe", "read"]


def seconds(value: float) -> str:
    """`value` seconds in words: "1 second", "2.5 seconds"."""
    return f"{value:g} second{'' if value == 1 else 's'}"


def not_responding(app_name: str, why: str) -> str:
    """The headline of a call that got no usable answer: "Acme is not responding (why)"."""
    return f"{app_name} is not responding ({why})"


def failed(app_name: str, why: str) -> str:
    """The headline of a call the application answered with a server error (500)."""
    return f"{app_name} failed ({why})"


def unavailable_text(headline: str, app_name: str, done: Done) -> str:
    """The person's answer (plain text) after `headline` (a clause naming the application,
    without a final stop), saying whether anything was done and to try again."""
    if done == "nothing":
        return f"{headline}, so nothing was done. Try again in a minute."
    if done == "maybe":
        return (
            f"{headline}. It may or may not have been done: check in {app_name} before "
            f"trying again."
        )
    return f"{headline}. Try again in a minute."
