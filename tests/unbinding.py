"""Disconnecting from Slack as a person does (issue 10): `unlink`, then a click on the
question's Disconnect or Keep it. Shared by the tests that unbind through Slack."""

from __future__ import annotations

from conftest import RunningApp

from bolt_app.messages import DISCONNECT_ACTION, KEEP_ACTION
from fake_slack import Message


def has_button(message: Message, action_id: str) -> bool:
    return any(
        element.get("action_id") == action_id
        for block in message.blocks
        for element in block.get("elements", [])
    )


def button(message: Message, action_id: str) -> dict[str, object]:
    return next(
        element
        for block in message.blocks
        for element in block.get("elements", [])
        if element.get("action_id") == action_id
    )


async def unlink_question(app: RunningApp, user_id: str) -> Message:
    """`user_id` runs unlink; the question it answers with (which must have Disconnect)."""
    messages = await app.command(user_id, "unlink")
    questions = [m for m in messages if has_button(m, DISCONNECT_ACTION)]
    assert len(questions) == 1, messages
    return questions[0]


async def click(app: RunningApp, user_id: str, message: Message, action_id: str) -> Message:
    """`user_id` clicks `action_id` on `message`; the message once the app has replaced it."""
    replaced = message.replaced
    outcome = await app.fake.click(user_id, message, action_id)
    assert outcome.acked, "the app did not acknowledge the click within 3 seconds"
    await app.fake.wait_until(lambda: message.replaced > replaced, 10)
    return message


async def disconnect(app: RunningApp, user_id: str, question: Message | None = None) -> Message:
    """Disconnect `user_id` as they would: unlink, then Disconnect (on `question`, if given);
    the question as the app replaced it."""
    question = question or await unlink_question(app, user_id)
    return await click(app, user_id, question, DISCONNECT_ACTION)


async def keep(app: RunningApp, user_id: str, question: Message) -> Message:
    return await click(app, user_id, question, KEEP_ACTION)
