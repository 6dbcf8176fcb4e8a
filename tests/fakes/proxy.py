"""A small WSGI proxy in front of the real pycsw: counts requests and injects the faults pycsw never makes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import requests


@dataclass
class Seen:
    """One request the proxy forwarded."""

    method: str
    query: str
    body: bytes
    path: str = "/"

    @property
    def text(self) -> str:
        return (self.query + " " + self.body.decode("utf-8", "replace"))


#: A fault hook: given the request and pycsw's answer, return (status, body) to send instead, or None.
Fault = Callable[[Seen, int, bytes], tuple[int, bytes] | None]


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


class Proxy:
    """Forwards `<prefix>…` to pycsw; any other path is a 404 (so a token in the path is really needed).

    Args:
        upstream: pycsw base URL.
        prefix: Path the proxy serves under, e.g. an Isogeo-like `/ows/s/<share>/<token>`.
        paths: Forward the path below `prefix` too, and write the proxy's URL for the upstream's in answers
            (a REST API such as OGC API Features, whose `next` links must come back through the proxy).
    """

    def __init__(self, upstream: str, prefix: str = "/", *, paths: bool = False) -> None:
        self.upstream, self.prefix, self.paths = upstream, prefix, paths
        self.seen: list[Seen] = []
        self.fault: Fault | None = None
        self.server: WSGIServer = make_server("127.0.0.1", 0, self.app, handler_class=_Quiet)
        self.url = f"http://127.0.0.1:{self.server.server_port}{prefix}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def app(self, environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "/")
        if not path.startswith(self.prefix.rstrip("/") or "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        seen = Seen(environ["REQUEST_METHOD"], environ.get("QUERY_STRING", ""), body, path)
        self.seen.append(seen)
        target = self.upstream + (path[len(self.prefix.rstrip("/")):] if self.paths else "")
        answer = requests.request(seen.method, target + ("?" + seen.query if seen.query else ""), data=body,
                                  headers={"Content-Type": environ.get("CONTENT_TYPE") or "application/xml"},
                                  timeout=60)
        status, content = answer.status_code, answer.content
        if self.paths:
            content = content.replace(self.upstream.encode(), self.url.rstrip("/").encode())
        if self.fault is not None:
            status, content = self.fault(seen, status, content) or (status, content)
        start_response(f"{status} X", [("Content-Type", "application/xml")])
        return [content]

    def count(self, needle: str) -> int:
        """Requests whose query or body contains `needle`."""
        return sum(needle in s.text for s in self.seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
