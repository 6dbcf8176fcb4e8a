"""The shared HTTP client against a local server that injects faults."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from moisson.core.errors import (
    ConfigError,
    ConnectorError,
    NotFoundError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from moisson.core.http import DeadlineError, HttpClient
from moisson.core.redact import forget_all, remember


class Script(BaseHTTPRequestHandler):
    """Answers each request with the next (status, headers, body) of `plan`."""

    plan: ClassVar[list] = []
    seen: ClassVar[list] = []

    def do_GET(self):
        self.seen.append(self.path)
        status, headers, body = self.plan.pop(0)
        if status == "drop":
            self.connection.close()
            return
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Script.seen = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def client(base, delays):
    return HttpClient(base, retries=3, backoff=0.01, sleep=delays.append, timeout=5)


def test_retries_429_with_retry_after_then_succeeds(server):
    Script.plan = [(429, {"Retry-After": "7"}, {}), (503, {}, {}), (200, {}, {"ok": True})]
    delays = []
    assert client(server, delays).json("GET", "/x/secret-token") == {"ok": True}
    assert delays[0] == 7 and len(delays) == 2


def test_dropped_connection_is_retried(server):
    Script.plan = [("drop", {}, {}), (200, {}, {"ok": 1})]
    assert client(server, []).json("GET", "/y") == {"ok": 1}


def test_gives_up_with_retryable_error_and_no_path_in_message(server):
    Script.plan = [(500, {}, {"message": "boom"})] * 4
    with pytest.raises(UnavailableError) as info:
        client(server, []).json("GET", "/ows/s/abc/c/def/TOKEN123")
    assert "TOKEN123" not in str(info.value) and "boom" in str(info.value)
    assert len(Script.seen) == 4


@pytest.mark.parametrize(("status", "error"), [(400, RejectedError), (401, ConfigError), (403, ConfigError),
                                               (404, NotFoundError), (410, NotFoundError)])
def test_permanent_errors_are_not_retried(server, status, error):
    Script.plan = [(status, {}, {"errors": {"title": ["required"]}})]
    with pytest.raises(error) as info:
        client(server, []).json("GET", "/z")
    assert not info.value.retryable
    assert len(Script.seen) == 1


def test_rate_limited_error_carries_delay(server):
    Script.plan = [(429, {"Retry-After": "3"}, {})]
    with pytest.raises(RateLimitedError) as info:
        HttpClient(server, retries=0).json("GET", "/r")
    assert info.value.retry_after == 3


def test_urllib3_debug_records_never_show_the_path(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="urllib3")
    secret = "/ows/s/0123456789abcdef/token-in-the-path"
    logging.getLogger("urllib3.connectionpool").debug('%s://%s:%s "%s %s %s" %s %s', "http", "127.0.0.1", 80,
                                                      "GET", secret, "HTTP/1.1", 200, 12)
    logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s'): %r", secret, "Retry(total=0)")
    assert "token-in-the-path" not in caplog.text
    assert '"GET /… HTTP/1.1" 200' in caplog.text


class Hostile(BaseHTTPRequestHandler):
    """`/dribble/<n>`: n bytes, one every 0.5 s; `/loop`: redirects to itself; `/echo…`: the request back."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path.startswith("/dribble/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            for _ in range(size):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:  # the client shut the socket: stop dribbling
                    return
                threading.Event().wait(0.5)
            return
        if self.path.startswith("/loop"):
            self.send_response(302)
            self.send_header("Location", self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        body = f"bad request {self.path}\n{headers}".encode()
        self.send_response(422 if "json" not in self.path else 500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(autouse=True)
def no_secret_known():
    """No secret an earlier test remembered: a URL secret masks its host, which a later server may reuse.

    (A CSW URL of a test server on port N, remembered by some earlier test, once masked this module's server on
    the same port N, and the host these tests look for in the messages.)
    """
    forget_all()
    yield
    forget_all()


@pytest.fixture
def hostile():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.mark.parametrize("stream", [False, True])
def test_a_dribbling_peer_fails_within_the_timeout_naming_host_and_setting(hostile, stream):
    http = HttpClient(hostile, retries=3, timeout=1.5, connector="csw", sleep=lambda _: None)
    # A per-read timeout never fires (a byte every 0.5 s): without the deadline the whole 40-byte
    # body would come, after 20 s, and no error be raised. No clock is read: the error is the proof.
    with pytest.raises(DeadlineError) as info:
        response = http.request("GET", "/dribble/40", stream=stream)
        b"".join(http.iter_body(response, 65_536))
    message = str(info.value)
    assert "127.0.0.1" in message and "`timeout`" in message and "1.5 s" in message
    assert not info.value.retryable


def test_a_quick_body_is_not_cut_by_the_deadline(hostile):
    http = HttpClient(hostile, timeout=5)
    response = http.request("GET", "/dribble/2", stream=True)
    assert b"".join(http.iter_body(response, 1)) == b"xx"
    assert http.request("GET", "/dribble/1").content == b"x"


def test_a_redirect_loop_is_one_clear_refusal_naming_the_host(hostile):
    seen = []
    with pytest.raises(RejectedError) as info:
        HttpClient(hostile, retries=3, sleep=seen.append).request("GET", "/loop/s/SECRETTOKEN123")
    assert "redirige en boucle" in str(info.value) and "127.0.0.1" in str(info.value)
    assert "SECRETTOKEN123" not in str(info.value)
    assert seen == [], "a redirect loop is not retried"


@pytest.mark.parametrize("path", ["/echo", "/echo-json"])
def test_an_echoing_server_quotes_no_secret(hostile, path):
    token, key = "SECRETTOKEN123abc", "SUPERSECRETKEY987"
    remember(f"{hostile}/ows/s/abc/c/{token}")
    remember(key)
    http = HttpClient(hostile, headers={"X-API-KEY": key, "Authorization": "Bearer unknown-bearer-value"},
                      retries=0)
    with pytest.raises(ConnectorError) as info:
        http.request("GET", f"{path}/ows/s/abc/c/{token}", params={"service": "CSW", "apikey": key})
    message = str(info.value)
    assert "bad request" in message, "the body is still quoted"
    for secret in (token, key, "unknown-bearer-value"):
        assert secret not in message


def test_urllib3_records_lose_their_paths_even_once_a_known_secret_was_scrubbed(caplog) -> None:
    from moisson.core import redact

    redact.remember("0123456789abcdef")
    redact.remember("/ows/s/0123456789abcdef")  # the scrubber then leaves "***/token-in-the-path"
    caplog.set_level(logging.DEBUG, logger="urllib3")
    secret = "/ows/s/0123456789abcdef/token-in-the-path"
    logging.getLogger("urllib3.connectionpool").debug('%s://%s:%s "%s %s %s" %s %s', "http", "127.0.0.1", 80,
                                                      "GET", secret, "HTTP/1.1", 200, 12)
    logging.getLogger("urllib3.util.retry").debug("Incremented Retry for (url='%s'): %r", secret, "Retry(total=0)")
    assert "token-in-the-path" not in caplog.text and "0123456789abcdef" not in caplog.text
    assert '"GET /… HTTP/1.1" 200' in caplog.text and "url='/…'" in caplog.text
