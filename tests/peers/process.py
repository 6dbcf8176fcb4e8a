"""Waiting on processes the tests start: a free port, a condition polled until it holds."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, what: str, timeout: float, log: Path | None = None):
    """Call `check` every second until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}" + (f":\n{log.read_text()[-4000:]}" if log else ""))
