"""The Slack side's client for the internal application (`ctx.api` of a plugin) over real
HTTP: what it sends, what it accepts back, and what each failure says."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from conftest import free_socket
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from bolt_app.commands import (
    ApiRefused,
    ApiUnavailable,
    CredentialRejected,
    UnreadableAnswer,
)
from bolt_app.internal_api import MAX_ANSWER_BYTES, InternalApiConnection, check_path

seen: list[tuple[str, str, dict[str, str], bytes]] = []


async def record(request: Request) -> Response:
    seen.append((request.method, request.url.path, dict(request.headers), await request.body()))
    return JSONResponse({"ok": True, "path": request.url.path, "query": request.url.query})


async def listing(request: Request) -> Response:
    return JSONResponse([1, 2, 3])


async def empty(request: Request) -> Response:
    return Response(status_code=204)


async def html_502(request: Request) -> Response:
    return Response("<html>Bad gateway</html>", status_code=502)


async def not_json(request: Request) -> Response:
    return Response("<html>login page</html>", status_code=200)


async def huge(request: Request) -> Response:
    return JSONResponse({"x": "y" * (MAX_ANSWER_BYTES + 10)})


async def huge_chunked(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"x": "'
        for _ in range(MAX_ANSWER_BYTES // 65536 + 2):
            yield b"y" * 65536
        yield b'"}'

    return StreamingResponse(chunks(), media_type="application/json")


class DeclaredHuge:
    """Declares a body over the cap, then takes its time to send any: refused unread."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = str(MAX_ANSWER_BYTES + 1).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await asyncio.sleep(5)


async def redirect(request: Request) -> Response:
    return RedirectResponse("http://elsewhere.example/steal", status_code=302)


async def refused(request: Request) -> Response:
    return JSONResponse({"detail": "no such rotation"}, status_code=404)


async def unauthorised(request: Request) -> Response:
    return JSONResponse({"error": "invalid token"}, status_code=401)


async def slow(request: Request) -> Response:
    await asyncio.sleep(5)
    return JSONResponse({})


@contextlib.asynccontextmanager
async def serve() -> AsyncIterator[str]:
    app = Starlette(
        routes=[
            Route("/prefix/{rest:path}", record, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/list", listing),
            Route("/empty", empty),
            Route("/502", html_502),
            Route("/not-json", not_json),
            Route("/huge", huge),
            Route("/huge-chunked", huge_chunked),
            Route("/declared-huge", DeclaredHuge()),
            Route("/redirect", redirect),
            Route("/refused", refused),
            Route("/unauthorised", unauthorised),
            Route("/slow", slow),
        ]
    )
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await serving
        sock.close()


@pytest.fixture
async def connection() -> AsyncIterator[InternalApiConnection]:
    async with serve() as url:
        api = InternalApiConnection(url, "Acme", timeout=1.0)
        try:
            yield api
        finally:
            await api.close()


async def test_every_call_carries_the_credential_under_the_urls_own_path() -> None:
    async with serve() as url:
        connection = InternalApiConnection(url + "/prefix/", "Acme", timeout=5.0)
        api = connection.as_person({"Authorization": "Bearer abt_x", "Impersonate-User": "ada"})
        try:
            got = await api.get("/shifts", params={"who": "a b&c"})
            assert got == {"ok": True, "path": "/prefix/shifts", "query": "who=a+b%26c"}
            await api.post("/pages", json={"message": "hi"})
            await api.put("/x", json=[1])
            await api.patch("/x", json=None)
            await api.delete("/x")
        finally:
            await connection.close()
    assert [(m, p) for m, p, _, _ in seen[-5:]] == [
        ("GET", "/prefix/shifts"),
        ("POST", "/prefix/pages"),
        ("PUT", "/prefix/x"),
        ("PATCH", "/prefix/x"),
        ("DELETE", "/prefix/x"),
    ]
    for _, _, headers, _ in seen[-5:]:
        assert headers["authorization"] == "Bearer abt_x" and headers["impersonate-user"] == "ada"
    assert seen[-4][3] == b'{"message": "hi"}'
    assert seen[-4][2]["content-type"] == "application/json"


async def test_any_json_comes_back_parsed_and_an_empty_answer_is_none(
    connection: InternalApiConnection,
) -> None:
    api = connection.as_person({})
    assert await api.get("/list") == [1, 2, 3]
    assert await api.get("/empty") is None


@pytest.mark.parametrize(
    ("path", "error", "says"),
    [
        ("/502", ApiUnavailable, "Acme is not responding (HTTP 502). Try again in a minute."),
        ("/not-json", UnreadableAnswer, "Acme gave an answer that could not be read (HTTP 200)."),
        ("/huge", UnreadableAnswer, "Acme gave an answer too large to read."),
        ("/huge-chunked", UnreadableAnswer, "Acme gave an answer too large to read."),
        ("/declared-huge", UnreadableAnswer, "Acme gave an answer too large to read."),
        ("/redirect", UnreadableAnswer, "(HTTP 302)"),
        ("/refused", ApiRefused, "Acme refused: no such rotation"),
        ("/unauthorised", CredentialRejected, "Acme did not accept the app's credential."),
        (
            "/slow",
            ApiUnavailable,
            "Acme is not responding (no answer within 1 second). Try again in a minute.",
        ),
    ],
)
async def test_each_failure_says_what_happened(
    connection: InternalApiConnection, path: str, error: type[Exception], says: str
) -> None:
    with pytest.raises(error) as raised:
        await connection.as_person({}).get(path)
    assert says in str(raised.value)


async def test_a_refusal_keeps_its_status_and_reason(connection: InternalApiConnection) -> None:
    with pytest.raises(ApiRefused) as raised:
        await connection.as_person({}).get("/refused")
    assert (raised.value.status, raised.value.message) == (404, "no such rotation")


async def test_an_unreachable_internal_application_gets_a_clear_message_and_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The person reads "not responding", and that nothing was done; the administrator reads
    where and why."""
    # Nothing listens there.
    connection = InternalApiConnection("http://127.0.0.1:9", "Acme", timeout=5.0)
    try:
        with pytest.raises(
            ApiUnavailable,
            match=r"Acme is not responding \(no connection could be made\), so nothing was done",
        ):
            await connection.as_person({}).get("/api/me")
    finally:
        await connection.close()
    [record] = [r for r in caplog.records if r.name == "bolt_app.internal_api"]
    assert record.levelname == "WARNING"
    assert "INTERNAL_API_URL http://127.0.0.1:9" in record.getMessage()
    assert "GET /api/me" in record.getMessage()
    assert "(is it running, and is INTERNAL_API_URL right?)" in record.getMessage()


@pytest.mark.parametrize(
    "path",
    [
        "http://evil.example/steal",
        "//evil.example/steal",
        "relative",
        "/a/../admin",
        "/a/%2e%2e/admin",
        "/a/./b",
        "/a b",
        "/a\\b",
        "/a?q=1",
        "/a#f",
        "/a\r\nX-Injected: 1",
        "",
    ],
)
async def test_a_path_that_could_leave_internal_api_url_is_refused(path: str) -> None:
    """The credential only ever goes to INTERNAL_API_URL: a plugin cannot send it elsewhere,
    even with text a person typed in the path."""
    with pytest.raises(ValueError):
        check_path(path)


def test_an_ordinary_path_is_accepted() -> None:
    assert check_path("/api/rotations/web%2Fteam/now") == "/api/rotations/web%2Fteam/now"


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """`app` on loopback; its base URL."""
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.mark.parametrize(
    "path",
    [
        "/items/..%2F..%2Fadmin",  # quote("../../admin", safe="") as the docs advise
        "/items/%2e%2e%2fadmin",
        "/items/..%5Cadmin",  # a backslash, a separator for IIS and some proxies
        "/items/.%2e%2F",
    ],
)
def test_an_encoded_dot_segment_inside_a_segment_is_refused(path: str) -> None:
    """MEDIUM: check_path unquotes each '/'-separated segment and compares it to '.'/'..',
    but '..%2F..%2Fadmin' unquotes to '../../admin', which is neither. uvicorn, nginx and
    most gateways decode %2F before they route (nginx also resolves the dots), so typed text
    quoted as InternalApiClient's docstring advises reaches paths outside INTERNAL_API_URL's
    prefix on that host, with the credential."""
    with pytest.raises(ValueError):
        check_path(path)


async def test_a_quoted_typed_word_cannot_walk_out_of_the_prefix() -> None:
    """The same through real HTTP: the server sees a path outside /acme-api/."""
    seen: list[str] = []

    async def anything(request: Request) -> Response:
        seen.append(request.url.path)
        return JSONResponse({})

    app = Starlette(routes=[Route("/{rest:path}", anything)])
    async with serving(app) as url:
        connection = InternalApiConnection(url + "/acme-api", "Acme", timeout=5.0)
        try:
            with contextlib.suppress(ValueError):
                await connection.as_person({}).get("/items/..%2F..%2Fadmin")
        finally:
            await connection.close()
    assert all("/../" not in path for path in seen), seen


async def test_a_refusal_that_echoes_the_credential_does_not_show_it_to_the_person() -> None:
    """LOW-MEDIUM (a misbehaving company API): a 4xx reason is shown to the Slack person
    verbatim (ApiRefused's sentence). An API that echoes the Authorization header in its
    error ('token X may not impersonate') shows the service credential, which acts as
    anyone, to whoever typed the command."""
    service_token = "SERVICEtoken4d8f2a9c7e1b"

    async def echo_auth(request: Request) -> Response:
        return JSONResponse(
            {"error": f"credential {request.headers['authorization']} may not do this"}, 403
        )

    app = Starlette(routes=[Route("/x", echo_auth)])
    async with serving(app) as url:
        connection = InternalApiConnection(url, "Acme", timeout=5.0)
        try:
            api = connection.as_person(
                {"Authorization": f"Bearer {service_token}", "Impersonate-User": "ada"}
            )
            with pytest.raises(ApiRefused) as raised:
                await api.get("/x")
        finally:
            await connection.close()
    assert service_token not in str(raised.value)
    assert service_token not in raised.value.message


async def test_the_pooled_client_carries_nothing_of_one_person_into_anothers_request() -> None:
    """Issue 12: one client (and its connections) per event loop serves everyone's commands.
    Each request carries only its own person's credential, and a cookie the application sets
    in one person's answer (a session cookie, say) is never sent with anyone's next request."""
    got: list[dict[str, str]] = []

    async def cookie_setting(request: Request) -> Response:
        got.append(dict(request.headers))
        answer = JSONResponse({"ok": True})
        answer.set_cookie("session", f"of-{request.headers.get('impersonate-user')}", path="/")
        return answer

    app = Starlette(routes=[Route("/me", cookie_setting)])
    async with serving(app) as url:
        # By a host name: aiohttp's cookie jar would refuse an IP address's cookies anyway.
        connection = InternalApiConnection(
            url.replace("127.0.0.1", "localhost"), "Acme", timeout=5.0
        )
        try:
            ada = connection.as_person(
                {"Authorization": "Bearer ada-token-1", "Impersonate-User": "ada"}
            )
            grace = connection.as_person({"Impersonate-User": "grace"})
            await ada.get("/me")
            await grace.get("/me")
            await ada.get("/me")
            assert connection.client() is connection.client()  # pooled on this loop
        finally:
            await connection.close()
    first, second, third = got
    assert first["authorization"] == "Bearer ada-token-1"
    assert "authorization" not in second and second["impersonate-user"] == "grace"
    assert all("cookie" not in headers for headers in got), got
    assert third["authorization"] == "Bearer ada-token-1" and third["impersonate-user"] == "ada"


# Issue 12, aio: what aiohttp (the pooled client since issue 12) must not change


@contextlib.asynccontextmanager
async def hanging_up() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server that reads each request and closes the connection without answering (an
    application that dies while it handles the request); its URL and the requests read."""
    got: list[bytes] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            got.append(await reader.readuntil(b"\r\n\r\n"))
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", got
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("method", ["get", "delete"])
async def test_a_request_whose_connection_breaks_is_sent_once_and_may_have_been_acted_on(
    method: str,
) -> None:
    """aiohttp sends an idempotent request (GET, PUT, DELETE) again when its connection
    breaks before the answer; the application may have carried out the first: a DELETE sent
    twice, or a second answer ("not found") hiding that the first was done. Each call is
    sent once, and said to have maybe reached the application."""
    async with hanging_up() as (url, got):
        connection = InternalApiConnection(url, "Acme", timeout=5.0)
        api = connection.as_person({})
        try:
            with pytest.raises(ApiUnavailable) as raised:
                await getattr(api, method)("/items/3")
        finally:
            await connection.close()
    assert len(got) == 1, got
    assert raised.value.reached
    assert "Acme is not responding (the connection broke off)" in str(raised.value)
    assert api.may_have_changed is (method == "delete")


@contextlib.contextmanager
def connecting_forever() -> Iterator[str]:
    """A loopback address whose connections never complete: a listening socket whose accept
    queue (one connection) is full, so the system drops the next ones' SYN, as a firewall
    in front of a dead host does."""
    with socket.socket() as listening, socket.socket() as filler:
        listening.bind(("127.0.0.1", 0))
        listening.listen(0)
        filler.connect(listening.getsockname())
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"


async def test_a_connection_that_never_completes_sent_nothing() -> None:
    """The call's deadline comes while it is still connecting: no byte of the request left,
    so the person is told nothing was done, and a change is not counted as maybe made."""
    with connecting_forever() as url:
        connection = InternalApiConnection(url, "Acme", timeout=0.5)
        api = connection.as_person({"Authorization": "Bearer ada-token-1"})
        try:
            with pytest.raises(ApiUnavailable) as raised:
                await api.post("/items", json={"text": "Buy milk"})
        finally:
            await connection.close()
    assert not raised.value.reached
    assert "Acme is not responding (no connection could be made), so nothing was done" in str(
        raised.value
    )
    assert not api.may_have_changed


async def test_the_pooled_session_takes_no_proxy_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTP_PROXY in the app's environment (meant for something else) must not send the
    credential through a proxy: the call goes straight to INTERNAL_API_URL."""
    async with hanging_up() as (proxy, through_proxy):
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with serve() as url:
            connection = InternalApiConnection(url, "Acme", timeout=5.0)
            try:
                assert await connection.as_person({}).get("/list") == [1, 2, 3]
            finally:
                await connection.close()
    assert through_proxy == []
