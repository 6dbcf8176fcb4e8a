"""Start the real udata peer (`udata_launcher.py` in `.peers/udata`) and put a fault-injecting proxy in front.

The proxy forwards every request to udata unchanged, records it, and on request answers one
matching request itself instead: 429 with `Retry-After`, a 5xx, a dropped connection (after or
instead of forwarding), or a callback (used to kill a publishing process mid-run).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).with_name("udata_launcher.py")
STARTUP_TIMEOUT = 120


def udata_python() -> Path:
    """Interpreter of udata's own venv (`UDATA_PYTHON` or `.peers/udata`, made by `scripts/peer-udata`)."""
    return Path(os.environ.get("UDATA_PYTHON") or REPO / ".peers" / "udata" / "bin" / "python")


@dataclass
class Peer:
    """A running udata: its root URL, the seeded organization and keys, and how long it took to start."""

    base_url: str
    api_key: str
    outsider_key: str
    org_id: str
    org_slug: str
    startup_seconds: float
    extra: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def running_udata(workdir: Path, launcher: Path = LAUNCHER) -> Iterator[Peer]:
    """Run the launcher (or a variant of it) in `workdir` (no udata.cfg there) until the block ends."""
    env = {**os.environ, "UDATA_PEER_FS_ROOT": str(workdir / "fs")}
    env.pop("UDATA_SETTINGS", None)
    started = time.perf_counter()
    log = (workdir / "udata.log").open("w")
    proc = subprocess.Popen([str(udata_python()), str(launcher)], cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=log, text=True)
    try:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTUP_TIMEOUT)
        if not line or not line[0].strip():
            raise RuntimeError(f"udata did not start; see {workdir / 'udata.log'}")
        info = json.loads(line[0])
        yield Peer(info.pop("base_url"), info.pop("api_key"), info.pop("outsider_key"), info.pop("org_id"),
                   info.pop("org_slug"), time.perf_counter() - started, info)
    finally:
        proc.kill()
        proc.wait()
        log.close()


@dataclass
class Fault:
    """One injected answer for the next request matching `method` and the `path` regex.

    Attributes:
        action: `429`, `500`, `502`… (answered without forwarding), `drop` (close without answering,
            not forwarded), `drop-after` (forwarded to udata, then the answer is lost), `slow` (forwarded
            after `delay` seconds, longer than the client's timeout), `dribble` (forwarded, the answer's
            body then sent one byte every `delay` seconds) or `call`.
        headers: Extra headers of an injected status (e.g. `Retry-After`).
        callback: Run for `call`, before the connection is dropped.
    """

    method: str
    path: str
    action: str
    headers: dict[str, str] = field(default_factory=dict)
    callback: Callable[[], None] | None = None
    delay: float = 0.0


class FaultProxy:
    """A thread serving on 127.0.0.1 that forwards to `upstream` and injects the queued faults."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, int | str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def inject(self, method: str, path: str, action: str, **kwargs: Any) -> None:
        """Queue a fault for the next request matching `method` and `path` (a regex searched in the path)."""
        with self._lock:
            self.faults.append(Fault(method, path, action, **kwargs))

    def writes(self, since: int = 0) -> list[tuple[str, str, int | str]]:
        """Logged requests that change something (not GET), from index `since`."""
        return [entry for entry in self.log[since:] if entry[0] != "GET"]

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.method == method and re.search(fault.path, path):
                    return self.faults.pop(i)
        return None

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request: injected fault, or forwarded to udata."""
        method, path = handler.command, handler.path
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        fault = self._take(method, path)
        if fault and fault.action == "slow":
            self.log.append((method, path, "slow"))  # before the wait: the client's retry may finish first
            time.sleep(fault.delay)
            fault = None
        if fault and fault.action in ("drop", "call"):
            self.log.append((method, path, fault.action))
            if fault.callback:
                fault.callback()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault and fault.action.isdigit():
            self.log.append((method, path, int(fault.action)))
            payload = json.dumps({"message": f"injected {fault.action}"}).encode()
            handler.send_response(int(fault.action))
            for name, value in {**fault.headers, "Content-Type": "application/json",
                                "Content-Length": str(len(payload))}.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)
            return
        # Host kept (like a reverse proxy's ProxyPreserveHost): udata's absolute URLs then lead back here.
        headers = {k: v for k, v in handler.headers.items() if k.lower() != "content-length"}
        answer = requests.request(method, self.upstream + path, headers=headers, data=body, allow_redirects=False,
                                  timeout=60)
        self.log.append((method, path, answer.status_code if not fault else fault.action))
        if fault and fault.action != "dribble":  # drop-after: udata did the work, the client never hears of it
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        handler.send_response(answer.status_code)
        for name, value in answer.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(answer.content)))
        handler.end_headers()
        if not fault:
            handler.wfile.write(answer.content)
            return
        handler.close_connection = True
        for i in range(len(answer.content)):
            try:
                handler.wfile.write(answer.content[i:i + 1])
                handler.wfile.flush()
            except OSError:  # the client shut the socket: stop dribbling
                return
            threading.Event().wait(fault.delay)
