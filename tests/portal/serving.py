"""Serve a folder over HTTP on 127.0.0.1 (any static server will do: the portal has no server side)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar


class _Quiet(SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **SimpleHTTPRequestHandler.extensions_map, ".jsonld": "application/ld+json", ".ttl": "text/turtle",
        ".geojson": "application/geo+json", ".atom": "application/atom+xml"}

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serving(folder: Path, port: int = 0) -> Iterator[str]:
    """Serve `folder`; yield its root URL (with a trailing slash)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
