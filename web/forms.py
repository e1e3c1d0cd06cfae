"""Reading the site's form posts: where they come from, and what they hold.

Every form of this site is small and URL-encoded. A post is read only when the browser says it
comes from this site (`check_same_origin`); its body, already capped in size by
`web.body_limit`, is parsed with the standard library's `parse_qsl` with a cap on the number
of fields, so that no body the cap lets through costs more than a few microseconds per byte.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

from account_binding.text import is_acceptable

from .services import services_of

#: No form of this site has more fields than this.
MAX_FORM_FIELDS = 20
#: Characters of one field; the longest real one is a password.
MAX_FIELD_LENGTH = 4096
#: Bytes of a whole form; the site-wide body cap (MAX_BODY_BYTES) may be larger.
MAX_FORM_BYTES = 16 * 1024

NOT_FROM_THIS_SITE = "This form did not come from this site."


def check_same_origin(request: Request) -> None:
    """Refuse (403) a post unless the browser says it comes from this site.

    Accepted: `Sec-Fetch-Site: same-origin` (Fetch Metadata, sent by browsers to https and
    loopback origins), or, when that header is absent, an `Origin` equal to `PUBLIC_URL`'s
    origin (RFC 6454; browsers send it on every POST). Everything else is refused, including
    `Sec-Fetch-Site: none`/`same-site`/`cross-site`, `Origin: null` and no `Origin` at all:
    a check that cannot tell must not let the post through. This runs before any token is
    read, so it also stops login CSRF with a cookie a neighbour planted.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site != "same-origin":
            raise HTTPException(403, NOT_FROM_THIS_SITE)
        return
    if request.headers.get("origin") != services_of(request).site_origin:
        raise HTTPException(403, NOT_FROM_THIS_SITE)


async def read_form(request: Request) -> FormData:
    """The posted form, refusing what no form of this site sends.

    Raises HTTPException: 403 from another site, 415 not URL-encoded, 413 too large, 400
    malformed (too many fields, not UTF-8, characters the site does not accept).
    """
    check_same_origin(request)
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HTTPException(415, "This page takes a form post. Go back and use the form.")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                raise HTTPException(413, "This form is too large.")
    except ClientDisconnect:
        raise HTTPException(400, "The form did not arrive whole.") from None
    try:
        text = body.decode("ascii")  # a browser percent-encodes everything else
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(400, "This form is not one this site sends.") from None
    for _, value in pairs:
        if len(value) > MAX_FIELD_LENGTH:
            raise HTTPException(413, "A field of this form is too long.")
        if not is_acceptable(value):
            raise HTTPException(
                400, "A field of this form has characters this site does not accept."
            )
    fields: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(fields)
