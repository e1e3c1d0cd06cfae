"""Resume on the web side: the confirm page's "After connecting, run …" box, and handing the
command to the Slack side once the binding is committed (account_binding.resume).

The box is ticked for a command that declares it changes no data, unticked for any other
(GitLab's lesson: a first command must not run unseen). Connect without the box ticked
forgets the command; Connect with it ticked leaves it with the link, and the binding, once
made, takes it (once) and runs it off the request: the success page never waits on the
internal application.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from starlette.background import BackgroundTask
from starlette.datastructures import FormData

from account_binding.errors import StoreBusy
from account_binding.models import Binding, BindingRequest, User
from account_binding.resume import MAX_RESUME_TEXT, ResumedCommand

from .services import WebServices

log = logging.getLogger(__name__)

#: The form field of the box, and its value when ticked.
FIELD = "resume"
TICKED = "run"


@dataclass(frozen=True)
class ResumePreview:
    """What the confirm page shows of the link's command: `typed` ("/acme todo add Buy
    milk", shown escaped and capped), `changes_data` (the box starts unticked when True)."""

    typed: str
    changes_data: bool

    @property
    def ticked(self) -> bool:
        return not self.changes_data


def preview(
    services: WebServices, link: BindingRequest, command: str | None
) -> ResumePreview | None:
    """The box to show for `link`, whose slash command is `command` (checked by the caller),
    or None when the link keeps no command or nothing could run it."""
    if services.resumer is None or not link.resume_text or not command:
        return None
    text = link.resume_text[:MAX_RESUME_TEXT]
    return ResumePreview(
        typed=f"{command} {text}", changes_data=services.resumer.changes_data(text)
    )


def ticked(form: FormData) -> bool:
    """Whether the Connect form came with the box ticked."""
    return form.get(FIELD) == TICKED


async def after_binding(
    services: WebServices, nonce: str, binding: Binding, user: User
) -> tuple[BackgroundTask, ResumedCommand | None]:
    """The work after a binding is committed, for the success page to run once it is sent:
    the DM saying so, then the link's command if it kept one (taken from the link here, once).
    Also what was taken, so the page can say it is running."""
    resumed = None
    if services.resumer is not None:
        try:
            resumed = await services.bindings.take_resume(nonce, binding, user)
        except StoreBusy:  # the binding stands; only its command is not run
            log.warning("The link's command was not resumed: the database stayed locked")

    async def run() -> None:
        await services.notifier.binding_created(binding, user)
        if resumed is not None and services.resumer is not None:
            await services.resumer.resume(resumed)

    return BackgroundTask(run), resumed
