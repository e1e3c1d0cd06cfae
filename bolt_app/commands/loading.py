"""Finding and loading command plugins: installed entry points of the group
`account_binding.commands` (Python packaging's entry points, PyPA specification), and
`module:object` references, as COMMAND_PLUGINS selects them."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from importlib import metadata

from .interface import CommandPlugin

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "account_binding.commands"


class PluginLoadError(Exception):
    """A plugin named in COMMAND_PLUGINS cannot be loaded; `str(error)` is one line that
    names it and says why."""


def installed() -> dict[str, metadata.EntryPoint]:
    """The installed entry points of ENTRY_POINT_GROUP, by name."""
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def load_plugins(selection: Sequence[str]) -> list[CommandPlugin]:
    """The plugins COMMAND_PLUGINS names, in its order, each once.

    Each entry of `selection` is `module:object` (an attribute path after the colon), the
    name of an installed entry point, or `*` for every installed one (by name). An installed
    plugin is only listed in the log, never loaded, unless selected: installing a package
    does not add commands. Raises PluginLoadError.
    """
    available = installed()
    log.info(
        "Installed command plugins (entry points of %s): %s",
        ENTRY_POINT_GROUP,
        ", ".join(sorted(available)) or "none",
    )
    plugins: list[CommandPlugin] = []
    for entry in selection:
        if entry == "*":
            loaded = [_from_entry_point(available[name]) for name in sorted(available)]
        elif ":" in entry:
            loaded = [_from_reference(entry)]
        elif entry in available:
            loaded = [_from_entry_point(available[entry])]
        else:
            raise PluginLoadError(
                f"COMMAND_PLUGINS names {entry!r}, which is neither module:object nor an "
                f"installed plugin (installed: {', '.join(sorted(available)) or 'none'})"
            )
        plugins += [p for p in loaded if all(p is not q for q in plugins)]
    return plugins


def _from_entry_point(entry_point: metadata.EntryPoint) -> CommandPlugin:
    where = f"entry point {entry_point.name!r} ({entry_point.value})"
    try:
        value = entry_point.load()
    except Exception as error:
        raise PluginLoadError(f"Cannot load the plugin {where}: {_why(error)}") from None
    return _plugin(value, where)


def _from_reference(reference: str) -> CommandPlugin:
    module_name, _, attribute = reference.partition(":")
    where = f"{reference!r} (COMMAND_PLUGINS)"
    if not module_name or not attribute:
        raise PluginLoadError(f"Cannot load the plugin {where}: write it as module:object")
    try:
        value: object = importlib.import_module(module_name)
        for name in attribute.split("."):
            value = getattr(value, name)
    except Exception as error:
        raise PluginLoadError(f"Cannot load the plugin {where}: {_why(error)}") from None
    return _plugin(value, where)


def _plugin(value: object, where: str) -> CommandPlugin:
    if not isinstance(value, CommandPlugin):
        raise PluginLoadError(
            f"The plugin {where} is a {type(value).__name__}, not a bolt_app.commands.CommandPlugin"
        )
    return value


def _why(error: BaseException) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
