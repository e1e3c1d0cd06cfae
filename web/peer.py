"""The socket's peer, kept apart from the client a trusted proxy names.

uvicorn's proxy-header handling rewrites the ASGI scope's `client` to the address a trusted
proxy puts in `X-Forwarded-For`, which is what the login throttle and the audit log should
see. Deciding whether to believe a proxy at all (`AUTH=proxy`'s identity headers) needs the
other address: the one the TCP connection comes from. `RecordPeer` notes that address in the
scope before `ProxyHeadersMiddleware` (uvicorn's own, wrapped inside it) rewrites `client`:

    RecordPeer(ProxyHeadersMiddleware(site, trusted_hosts=TRUSTED_PROXIES))

`web.app.build_web_app` builds that stack, so the server must not add uvicorn's proxy-header
handling of its own outside it (`uvicorn.Config(..., proxy_headers=False)`): the peer would
be rewritten before `RecordPeer` sees it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

#: The scope key holding the socket peer's host, as the server reported it in `client`.
PEER = "account_binding.peer"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class RecordPeer:
    """ASGI middleware: copy the server's `scope["client"]` host into `scope[PEER]`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[PEER] = client[0] if client else None
        await self.app(scope, receive, send)


def peer_address(connection: HTTPConnection) -> str | None:
    """The host of the socket's peer (never a forwarded address); None when the server gave
    none (a Unix socket) or `RecordPeer` did not run."""
    peer = connection.scope.get(PEER)
    return peer if isinstance(peer, str) else None


def networks(addresses: Iterable[str]) -> tuple[Network, ...]:
    """TRUSTED_PROXIES as networks (an address is a network of one). Raises ValueError for an
    entry that is neither (the settings refuse those at start)."""
    return tuple(ipaddress.ip_network(a.strip(), strict=False) for a in addresses)


def is_within(address: str | None, trusted: tuple[Network, ...]) -> bool:
    """True when `address` is an IP address inside one of `trusted`. An IPv4 peer seen on a
    dual-stack socket as `::ffff:a.b.c.d` counts as `a.b.c.d`. Anything that is not an IP
    address (None, a Unix socket path) is outside."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in trusted)
