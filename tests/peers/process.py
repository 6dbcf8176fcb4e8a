"""Processes the tests start: a free port, a condition polled until it holds, the `moisson` command."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.data import REPO


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


def run_moisson(*args: str, env: Mapping[str, str | None] | None = None, timeout: float = 600,
                data_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    """`moisson ARGS` in its own process, as users start it, against the Prefect API this process uses.

    `env` is added to this process's environment; a None value removes that variable. `data_limit` caps the
    process's data segment (`RLIMIT_DATA`, bytes: heap and private mappings). Commands
    that run flows never go through click's CliRunner: the first flow of a process sets Prefect's
    logging up on the streams of that moment, CliRunner's are closed once it returns, and every
    later test of the session would then log into a closed file.
    """
    from prefect.settings import PREFECT_API_URL

    environment = {**os.environ, **({"PREFECT_API_URL": url} if (url := PREFECT_API_URL.value()) else {})}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value

    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_DATA, (data_limit, data_limit))

    return subprocess.run([sys.executable, "-m", "moisson.cli", *args], cwd=REPO, capture_output=True, text=True,
                          env=environment, timeout=timeout, preexec_fn=capped if data_limit else None)
