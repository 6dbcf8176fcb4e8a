"""The shared HTTP client against a local server that injects faults."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from moisson.core.errors import ConfigError, NotFoundError, RateLimitedError, RejectedError, UnavailableError
from moisson.core.http import HttpClient


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
