"""GET /o/<token>.gif (open pixel) and GET /c/<token> (tracked link): signed, no open redirect.

GET /links/controle is where a lesson's trap link leads (emails.lesson_links): only scanners
get there, and they get an empty page.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, redirect, request
from flask.typing import ResponseReturnValue

from emails.lesson_links import TRAP_PATH, with_ref
from emails.tokens import TokenError
from web.context import hit_intake, runtime

bp = Blueprint("tracking", __name__)

# The smallest transparent 1×1 GIF.
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
# Every fetch must reach us: a cached pixel is an open we never hear of.
NO_CACHE_HEADERS = {
    "Cache-Control": "no-store, no-cache, must-revalidate, private",
    "Pragma": "no-cache",
    "Expires": "0",
}

BAD_LINK_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Link werkt niet</title></head>
<body><main><h1>Deze link werkt niet</h1>
<p>De link is onvolledig of aangepast. Open de link opnieuw vanuit de e-mail,
of kopieer het volledige adres in uw browser.</p></main></body></html>
"""

TRAP_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Controle</title></head><body><main><p>Deze pagina is alleen voor het controleren van
links.</p></main></body></html>
"""


@bp.get("/o/<token>.gif")
def open_pixel(token: str) -> ResponseReturnValue:
    """Answer the 1×1 GIF always; record an open only for a genuine token."""
    try:
        delivery_id = runtime().tokens.read_open(token)
    except TokenError:
        delivery_id = None
    if delivery_id is not None:
        # The client's address and user agent make repeats within a minute count once.
        hit_intake().record(
            "open", delivery_id, request.headers.get("User-Agent"), client=request.remote_addr
        )
    return Response(PIXEL_GIF, mimetype="image/gif", headers=NO_CACHE_HEADERS)


@bp.get("/c/<token>")
def tracked_click(token: str) -> ResponseReturnValue:
    """Redirect to the URL signed inside the token and record the click; refuse anything else."""
    tokens = runtime().tokens
    try:
        delivery_id, url, cta = tokens.read_click_target(token)
    except TokenError:
        return Response(BAD_LINK_PAGE, status=404, mimetype="text/html")
    hit_intake().record(
        "click",
        delivery_id,
        request.headers.get("User-Agent"),
        url,
        client=request.remote_addr,
        cta=cta,
    )
    # The call to action takes its email's booking reference along (docs/conversions.md).
    target = with_ref(url, tokens.make_conversion(delivery_id)) if cta else url
    response = redirect(target, code=302)
    response.headers.update(NO_CACHE_HEADERS)
    return response


@bp.get(TRAP_PATH)
def trap_target() -> ResponseReturnValue:
    """Answer the trap link's redirect: nothing to see, nothing to index."""
    return Response(
        TRAP_PAGE, mimetype="text/html", headers={**NO_CACHE_HEADERS, "X-Robots-Tag": "noindex"}
    )


def init_app(app: Flask) -> None:
    """Exempt the pixel and tracked links from the rate limiter: proxies fetch in bursts."""
    limiter = app.extensions.get("nurture_limiter")
    if limiter is not None:
        limiter.exempt(bp)
