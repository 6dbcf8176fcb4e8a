"""Drive headless Debian chromium through the DevTools protocol: open a page, click, read, screenshot.

`--dump-dom` alone is not enough for the Prefect UI: the run page hides its Artifacts tab
until the run has loaded and resets `?tab=` meanwhile, so the test clicks the tab like a
person would. Only the standard library, `requests` and `websockets` (a Prefect dependency).
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from websockets.sync.client import connect

from tests.peers.process import free_port

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"]


class Page:
    """One browser tab."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a DevTools command and return its result (events received meanwhile are skipped)."""
        message_id = next(self._ids)
        self._socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._socket.recv(timeout=60))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str) -> Any:
        """Value of a JavaScript expression in the page."""
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"{expression} stayed false for {timeout}s; page text: "
                           f"{self.evaluate('document.body && document.body.innerText')!r:.2000}")

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the viewport."""
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path


@contextmanager
def chromium(url: str, profile: Path, size: tuple[int, int] = (1400, 1000)) -> Iterator[Page]:
    """Start chromium on `url` with a private profile; yield its page; stop it."""
    port = free_port()
    process = subprocess.Popen(["chromium", *FLAGS, f"--remote-debugging-port={port}", f"--user-data-dir={profile}",
                                f"--window-size={size[0]},{size[1]}", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                pages = [t for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                         if t["type"] == "page"]
                if pages:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port")
            time.sleep(0.3)
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            yield Page(socket)
    finally:
        process.terminate()
        process.wait(30)
