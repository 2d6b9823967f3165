"""A keep-alive transport for python_http_client: one persistent HTTP/1.1 connection per thread.

The official `sendgrid` library still builds every request (URL, headers, JSON body, the
Response object and the HTTPError subclasses); only the last step changes. Stock
python_http_client opens a new TCP (and TLS) connection per request through urllib; at
hundreds of sends per second the connect, the TLS handshake and urllib's opener dominate
the CPU we spend per mail. Here `_make_request` (the library's documented seam for that
step) sends the prepared urllib Request over a connection kept per thread and host, as
urllib3 and requests do with SendGrid's keep-alive.

Guarantee kept: a request is written once. A failure on a reused connection is raised like
any other connection error (the backend treats it as "maybe sent"); we never resend
automatically. A connection the server already closed while idle is detected before use
(its socket is readable at EOF) and replaced, so an idle close does not cost a send.
"""

from __future__ import annotations

import functools
import http.client
import io
import json
import select
import ssl
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from python_http_client import Client
from python_http_client.client import Response

# Servers close idle keep-alive connections after some quiet time; reconnecting before that
# is cheaper than a request that fails on a half-closed socket.
MAX_IDLE_SECONDS = 30.0
_TLS_CONTEXT: ssl.SSLContext | None = None
_TLS_LOCK = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """Return one verifying TLS context for the process (contexts are safe to share)."""
    global _TLS_CONTEXT
    with _TLS_LOCK:
        if _TLS_CONTEXT is None:
            _TLS_CONTEXT = ssl.create_default_context()
        return _TLS_CONTEXT


class _Slot:
    """One thread's connection to one host, and when it last finished a request."""

    __slots__ = ("connection", "idle_since")

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        """Keep CONNECTION, not yet used."""
        self.connection = connection
        self.idle_since = time.monotonic()


class Connections(threading.local):
    """Per-thread map of (scheme, host:port, timeout) to its open connection.

    One per backend: the root client makes it and hands it to every child client it builds.
    """

    def __init__(self) -> None:
        """Start each thread with no connections."""
        self.slots: dict[tuple[str, str, float | None], _Slot] = {}


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Tell whether an idle connection was closed by the server (readable means EOF here)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _connection_for(connections: Connections, url: str, timeout: float | None) -> tuple[_Slot, str]:
    """Return this thread's live slot for URL's host, and the path to request."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise urllib.error.URLError(f"unsupported URL scheme {parts.scheme!r}")
    key = (parts.scheme, parts.netloc, timeout)
    slot = connections.slots.get(key)
    if slot is not None and (
        time.monotonic() - slot.idle_since > MAX_IDLE_SECONDS or _dropped(slot.connection)
    ):
        slot.connection.close()
        slot = None
    if slot is None:
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.netloc, timeout=timeout, context=_tls_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.netloc, timeout=timeout)
        slot = _Slot(connection)
        connections.slots[key] = slot
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return slot, path


def _forget(connections: Connections, url: str, timeout: float | None) -> None:
    parts = urlsplit(url)
    slot = connections.slots.pop((parts.scheme, parts.netloc, timeout), None)
    if slot is not None:
        slot.connection.close()


class KeepAliveClient(Client):
    """python_http_client.Client whose requests reuse a per-thread HTTP/1.1 connection."""

    def __init__(self, *args: Any, connections: Connections | None = None, **kwargs: Any) -> None:
        """Take the library's arguments; children share the root's CONNECTIONS."""
        super().__init__(*args, **kwargs)
        self._connections = connections if connections is not None else Connections()

    def _build_client(self, name: str | None = None) -> Client:
        """Build the child client for a URL segment, keeping this transport."""
        url_path = [*self._url_path, name] if name else self._url_path
        return KeepAliveClient(
            host=self.host,
            version=self._version,
            request_headers=self.request_headers,
            url_path=url_path,
            append_slash=self.append_slash,
            timeout=self.timeout,
            connections=self._connections,
        )

    def __getattr__(self, name: str) -> Any:
        """Return the HTTP verb call for NAME, else the library's URL-segment chaining."""
        if name in Client.methods:
            return functools.partial(self._call, name.upper())
        return super().__getattr__(name)

    def _call(
        self,
        method: str,
        request_body: Any = None,
        query_params: dict[str, Any] | None = None,
        request_headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **_: Any,
    ) -> Response:
        """Make the API call as the library's verb closure does, minus urllib's opener.

        The stock closure calls urllib.build_opener() for every request: ten handler objects
        and a scan of the environment for proxy settings, about 0.2 ms of CPU, for an opener
        `_make_request` below never uses. Everything else is the library's own: headers,
        `_build_url`, the JSON body rule, `Response` and the error mapping in `_make_request`.
        (An HTTPS proxy from the environment is therefore not honoured; SendGrid is reached
        directly, which is what the service is deployed for.)
        """
        if request_headers:
            self._update_headers(request_headers)
        data = None
        if request_body is not None:
            content_type = self.request_headers.get("Content-Type")
            if content_type is not None and content_type != "application/json":
                data = request_body.encode("utf-8")
            else:
                self.request_headers.setdefault("Content-Type", "application/json")
                data = json.dumps(request_body).encode("utf-8")
        # Only http and https are ever opened: _connection_for refuses other schemes.
        request = urllib.request.Request(  # noqa: S310
            self._build_url(query_params), headers=self.request_headers, data=data, method=method
        )
        return Response(self._make_request(None, request, timeout=timeout))

    def _make_request(
        self, opener: Any, request: urllib.request.Request, timeout: float | None = None
    ) -> Any:
        """Send REQUEST on this thread's connection; raise the library's HTTPError on >= 400."""
        timeout = timeout or self.timeout
        url = request.full_url
        slot, path = _connection_for(self._connections, url, timeout)
        headers = dict(request.header_items())
        headers.setdefault("Connection", "keep-alive")
        if slot.connection.sock is None:
            try:
                slot.connection.connect()
            except OSError as exc:
                # Nothing was sent: report it as urllib does, so the backend retries plainly.
                _forget(self._connections, url, timeout)
                raise urllib.error.URLError(exc) from None
        try:
            slot.connection.request(request.get_method(), path, body=request.data, headers=headers)
            response = slot.connection.getresponse()
            body = response.read()
        except BaseException:
            # State unknown (half-written request, unread answer): never reuse this socket.
            _forget(self._connections, url, timeout)
            raise
        if response.will_close:
            _forget(self._connections, url, timeout)
        else:
            slot.idle_since = time.monotonic()
        answer = _Answered(response.status, response.reason, body, response.headers)
        if response.status >= 400:
            # The library maps urllib's HTTPError to its typed exceptions (429, 500, ...).
            error = urllib.error.HTTPError(
                url, response.status, response.reason, response.headers, io.BytesIO(body)
            )
            return super()._make_request(_Raising(error), request, timeout)
        return answer


class _Answered:
    """A fully read response, shaped like what urllib's opener returns to the library."""

    __slots__ = ("body", "headers", "reason", "status")

    def __init__(self, status: int, reason: str, body: bytes, headers: Any) -> None:
        """Keep the answer."""
        self.status = status
        self.reason = reason
        self.body = body
        self.headers = headers

    def getcode(self) -> int:
        """Return the HTTP status."""
        return self.status

    def read(self) -> bytes:
        """Return the body."""
        return self.body

    def info(self) -> Any:
        """Return the headers."""
        return self.headers


class _Raising:
    """An 'opener' that raises a prepared HTTPError, so the library maps it as usual."""

    def __init__(self, error: urllib.error.HTTPError) -> None:
        """Keep ERROR."""
        self.error = error

    def open(self, request: Any, timeout: float | None = None) -> Any:
        """Raise the prepared error."""
        raise self.error
