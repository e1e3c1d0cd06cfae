"""The reference on-call API: `build_service` makes the ASGI app, `serve` runs it on loopback
in the running event loop, `python -m acme_oncall.service` runs it as a program."""

from .app import Access, OncallService, build_service
from .auth import DEFAULT_IMPERSONATE_HEADER, Caller, ServiceCredential
from .introspection import IntrospectionConfig
from .roster import Roster, Rotation, demo_roster
from .serving import serve

__all__ = [
    "DEFAULT_IMPERSONATE_HEADER",
    "Access",
    "Caller",
    "IntrospectionConfig",
    "OncallService",
    "Roster",
    "Rotation",
    "ServiceCredential",
    "build_service",
    "demo_roster",
    "serve",
]
