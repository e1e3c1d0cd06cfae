"""`views.publish` checked as Slack checks it, for the App Home tab.

https://docs.slack.dev/reference/methods/views.publish: `user_id` and `view` (a JSON object or
its JSON text) are required; `hash` (optional) must match the view currently published.
Slack answers a malformed call with `invalid_arguments` and the reasons in
`response_metadata.messages`, each ending with the JSON pointer of the fault.
"""

from __future__ import annotations

import json
from typing import Any

from .payloads import interactive_elements

JSON = dict[str, Any]

MAX_VIEW_BLOCKS = 100
MAX_VIEW_BYTES = 250_000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_PRIVATE_METADATA = 3000


class ViewRefused(Exception):
    """Slack's error code and, for invalid_arguments, its messages."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


def parse_view(raw: object) -> JSON:
    """The `view` argument as a home view object, or ViewRefused."""
    if raw is None or raw == "":
        raise ViewRefused("invalid_arguments", ["[ERROR] missing required field: view"])
    if isinstance(raw, str):
        if len(raw.encode()) > MAX_VIEW_BYTES:
            raise ViewRefused("view_too_large")
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ViewRefused(
                "invalid_arguments", ["[ERROR] failed to parse view [json-pointer:/view]"]
            ) from None
    if not isinstance(raw, dict):
        raise ViewRefused(
            "invalid_arguments", ["[ERROR] view must be an object [json-pointer:/view]"]
        )
    if len(json.dumps(raw).encode()) > MAX_VIEW_BYTES:
        raise ViewRefused("view_too_large")
    problems: list[str] = []
    if raw.get("type") != "home":
        problems.append("[ERROR] must be `home` for views.publish [json-pointer:/view/type]")
    blocks = raw.get("blocks")
    if not isinstance(blocks, list):
        problems.append("[ERROR] missing required field: blocks [json-pointer:/view]")
    else:
        problems.extend(_block_problems(blocks))
    metadata = raw.get("private_metadata")
    if metadata is not None and (
        not isinstance(metadata, str) or len(metadata) > MAX_PRIVATE_METADATA
    ):
        problems.append(
            f"[ERROR] must be a string of at most {MAX_PRIVATE_METADATA} characters "
            "[json-pointer:/view/private_metadata]"
        )
    if problems:
        raise ViewRefused("invalid_arguments", problems)
    return raw


def _block_problems(blocks: list[Any]) -> list[str]:
    problems: list[str] = []
    if len(blocks) > MAX_VIEW_BLOCKS:
        problems.append(
            f"[ERROR] no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]"
        )
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/view/blocks/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(f"[ERROR] missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in block_ids:
                problems.append(f"[ERROR] duplicate block_id [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        if block["type"] == "actions" and not block.get("elements"):
            problems.append(f"[ERROR] missing required field: elements [json-pointer:{where}]")
        action_ids: set[str] = set()
        for _, element in interactive_elements([block]):
            action_id = str(element["action_id"])
            if action_id in action_ids:
                problems.append(
                    f"[ERROR] non-unique action_id {action_id!r} [json-pointer:{where}]"
                )
            action_ids.add(action_id)
            if len(action_id) > MAX_ACTION_ID:
                problems.append(f"[ERROR] action_id too long [json-pointer:{where}]")
            if element.get("type") == "button":
                text = element.get("text")
                label = text.get("text") if isinstance(text, dict) else None
                if not isinstance(label, str) or not label:
                    problems.append(f"[ERROR] button needs a text [json-pointer:{where}]")
                elif len(label) > MAX_BUTTON_TEXT:
                    problems.append(
                        f"[ERROR] must be less than {MAX_BUTTON_TEXT + 1} characters "
                        f"[json-pointer:{where}]"
                    )
                value = element.get("value")
                if value is not None and len(str(value)) > MAX_BUTTON_VALUE:
                    problems.append(
                        f"[ERROR] value must be at most {MAX_BUTTON_VALUE} characters "
                        f"[json-pointer:{where}]"
                    )
    return problems
