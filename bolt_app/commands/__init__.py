"""Command plugins: the public interface a company's own subcommands are written against.

Import everything a plugin needs from here; see the README's "Connect your own application".
"""

from ..blocks import Block, Reply, context, escape, fields, header, reply, section
from .api import (
    ApiRefused,
    ApiUnavailable,
    CredentialRejected,
    InternalApiClient,
    InternalApiError,
    Json,
    UnreadableAnswer,
    reading,
)
from .interface import (
    Argument,
    Arguments,
    CommandContext,
    CommandPlugin,
    Handler,
    InternalUser,
    SlackUser,
    Subcommand,
    whole_number,
)

__all__ = [
    "ApiRefused",
    "ApiUnavailable",
    "Argument",
    "Arguments",
    "Block",
    "CommandContext",
    "CommandPlugin",
    "CredentialRejected",
    "Handler",
    "InternalApiClient",
    "InternalApiError",
    "InternalUser",
    "Json",
    "Reply",
    "SlackUser",
    "Subcommand",
    "UnreadableAnswer",
    "context",
    "escape",
    "fields",
    "header",
    "reading",
    "reply",
    "section",
    "whole_number",
]
